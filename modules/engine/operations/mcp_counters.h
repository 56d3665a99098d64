/* Token outcome counters shared by all httpd processes, for the status page. */
#ifndef MCP_COUNTERS_H
#define MCP_COUNTERS_H

#include <apr_pools.h>
#include <jansson.h>

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

/* Places the counters, and numbered_counters more (0 to n-1, for the
 * caller to give out), in anonymous shared memory owned by pool, so that
 * child processes forked afterwards share them. Without shared memory the
 * fixed counters are per process and the numbered ones count nothing. */
void mcp_counters_init(apr_pool_t *pool, int numbered_counters);

void mcp_count(mcp_count_t what);

/* The word a counter goes by ("expired", "bad_signature"): on the status
 * page, and as the reason in the audit log. */
const char *mcp_count_name(mcp_count_t what);

/* A numbered counter; slots out of range are ignored. */
void mcp_count_numbered(int slot);
apr_uint32_t mcp_numbered_count(int slot);

/* {"accepted": n, "rejected": {"reason": n, ...}} */
json_t *mcp_counters_json(void);

#endif
