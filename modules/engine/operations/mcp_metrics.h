/* The module's metrics: one registry in anonymous shared memory for every
 * httpd process of a host, kept across configuration generations (graceful
 * restarts), counted with atomic adds, and written out in Prometheus' text
 * exposition format (format 0.0.4). */
#ifndef MCP_METRICS_H
#define MCP_METRICS_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

/* What a token check came to (the status page's "tokens" words). */
typedef enum {
    MCP_COUNT_ACCEPTED,
    MCP_COUNT_NO_TOKEN,
    MCP_COUNT_INVALID_REQUEST,
    MCP_COUNT_MALFORMED,
    MCP_COUNT_KEYS_UNAVAILABLE,
    MCP_COUNT_UNKNOWN_KID,
    MCP_COUNT_BAD_SIGNATURE,
    MCP_COUNT_EXPIRED,
    MCP_COUNT_NOT_YET_VALID,
    MCP_COUNT_ISSUER,
    MCP_COUNT_AUDIENCE,
    MCP_COUNT_OTHER_CLAIM,
    MCP_COUNT_INSUFFICIENT_SCOPE,
    MCP_COUNT_SENDER,            /* a bound token without its proof, a bad or replayed DPoP proof */
    MCP_COUNT_UNAVAILABLE,       /* a check that needs the shared cache or the IdP could not run */
    MCP_COUNT_INACTIVE,          /* introspection: the IdP says the token is not active */
    MCP_COUNT_MAX
} mcp_count_t;

/* Why the module refused a request: a token result above (but accepted),
 * or one of these, which come after the token check. */
typedef enum {
    MCP_REFUSAL_RULE = MCP_COUNT_MAX, /* an MCPAuth*Rule or MCPAuthDefault deny */
    MCP_REFUSAL_MCP_REQUEST,          /* a body or MCP headers that do not read one way */
    MCP_REFUSAL_SESSION,              /* an Mcp-Session-Id that is not the caller's */
    MCP_REFUSAL_REQUIRE,              /* another Require line (user, claim, expr) */
    MCP_REFUSAL_EXCHANGE_REFUSED,     /* the IdP would not trade the token (403) */
    MCP_REFUSAL_EXCHANGE_UNAVAILABLE, /* the IdP could not be asked (503) */
    MCP_REFUSAL_MAX
} mcp_refusal_t;

/* The slot of requests in places not named at startup (.htaccess,
 * <LocationMatch>), and of locations past the registry's capacity. */
#define MCP_METRICS_OTHER 0
#define MCP_METRICS_OTHER_NAME "(other)"
/* Capacity over the life of the parent process (a stop frees them). */
#define MCP_METRICS_LOCATIONS 128
#define MCP_METRICS_RULES 512
#define MCP_METRICS_NAME_MAX 192

/* Finds the registry in keep's user data, or makes it there (keep: the
 * process pool, which outlives every configuration generation; children
 * forked later share it), and starts a configuration generation: only the
 * locations and rules named in it are written out. 0 when there is no
 * shared memory: nothing is then counted. */
int mcp_metrics_attach(apr_pool_t *keep);

/* The slot of a location of a virtual host, for this generation: the one
 * it had before when the names are the same, so counts go on across
 * restarts; MCP_METRICS_OTHER when the registry is full. Only while no
 * other process counts yet (post_config). */
int mcp_metrics_location(const char *server, const char *location);

/* The same for a rule of a location slot (its configuration text); -1 when full. */
int mcp_metrics_rule(int location, const char *rule);

/* Counting, from any process or thread; out-of-range slots count nothing. */
void mcp_metrics_token(int location, mcp_count_t result);
void mcp_metrics_refused(int location, int reason);   /* mcp_count_t or mcp_refusal_t */
void mcp_metrics_rule_refused(int rule);
/* A step of the OAuth relay ("register", "authorize", "token", "callback")
 * by the HTTP status it was answered with. */
void mcp_metrics_relay(int location, const char *step, int status);
/* The time the module spent on one request. */
void mcp_metrics_duration(int location, apr_interval_time_t spent);
/* A fetch of an IdP document of a docstore kind (MCP_DOC_*). */
void mcp_metrics_fetch(const char *kind, int ok);
void mcp_metrics_token_cache(int hit);
/* Changes in the bytes the token caches of all processes hold. */
void mcp_metrics_token_cache_bytes(apr_int64_t delta);

apr_uint64_t mcp_metrics_rule_count(int rule);

/* The word a token result or refusal goes by ("expired", "bad_signature"):
 * the metrics' label, the status page's key, the audit log's reason. */
const char *mcp_count_name(int what);

/* {"accepted": n, "rejected": {"reason": n, ...}}: token results summed
 * over every location, for the status page. */
json_t *mcp_metrics_tokens_json(void);

/* A key set's age, known only where the documents are (the glue). */
typedef struct mcp_metrics_keyset {
    const char *url;
    double age_seconds;
} mcp_metrics_keyset_t;

/* Every metric of this generation's locations and rules, and the key sets
 * given, in the text exposition format. */
char *mcp_metrics_render(apr_pool_t *p, const mcp_metrics_keyset_t *keysets, int nkeysets);

/* A label value as the format writes it: \ " and newline escaped. */
const char *mcp_metrics_label_value(apr_pool_t *p, const char *value);

#endif
