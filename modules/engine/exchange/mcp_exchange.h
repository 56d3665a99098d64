/* Token exchange (RFC 8693) and Microsoft Entra's on-behalf-of flow: the
 * request that trades a client's access token for one the MCP server may
 * present upstream, the IdP's answer read strictly, and the sealed record
 * the shared cache keeps of it. */
#ifndef MCP_EXCHANGE_H
#define MCP_EXCHANGE_H

#include <apr_pools.h>
#include <apr_tables.h>

#define MCP_GRANT_TOKEN_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"
#define MCP_GRANT_JWT_BEARER "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define MCP_TOKEN_TYPE_ACCESS_TOKEN "urn:ietf:params:oauth:token-type:access_token"
#define MCP_TOKEN_TYPE_JWT "urn:ietf:params:oauth:token-type:jwt"

typedef enum {
    MCP_EXCHANGE_GRANT_TOKEN_EXCHANGE = 0, /* RFC 8693 §2.1 */
    MCP_EXCHANGE_GRANT_ON_BEHALF_OF = 1    /* Entra: jwt-bearer with requested_token_use=on_behalf_of */
} mcp_exchange_grant_t;

/* What the gateway asks for. */
typedef struct mcp_exchange_target {
    mcp_exchange_grant_t grant;
    apr_array_header_t *audiences;      /* of const char *, or NULL */
    apr_array_header_t *resources;      /* of const char *, or NULL */
    const char *scope;                  /* space-separated, or NULL */
    const char *subject_token_type;     /* NULL: MCP_TOKEN_TYPE_ACCESS_TOKEN */
} mcp_exchange_target_t;

/* The form body (without client credentials) that trades token. */
const char *mcp_exchange_request(apr_pool_t *pool, const mcp_exchange_target_t *target, const char *token,
                                 apr_size_t len);

/* Everything the request says but the token, one line: two targets with
 * the same description ask the IdP the same question. */
const char *mcp_exchange_target_describe(apr_pool_t *pool, const mcp_exchange_target_t *target);

typedef enum {
    MCP_EXCHANGE_ISSUED,    /* token holds the new token */
    MCP_EXCHANGE_REFUSED,   /* the IdP said no (error, description) */
    MCP_EXCHANGE_BROKEN     /* no usable answer: the IdP is not working */
} mcp_exchange_status_t;

typedef struct mcp_exchanged {
    const char *token;          /* ISSUED: fit for an HTTP header field */
    long expires_at;            /* ISSUED: seconds since the epoch, 0 when the IdP does not say */
    const char *error;          /* REFUSED: the OAuth error code (RFC 6749 §5.2) */
    const char *description;    /* REFUSED: its error_description, or NULL */
} mcp_exchanged_t;

/* Reads the IdP's answer (RFC 8693 §2.2): 200 with a bearer access token,
 * or an RFC 6749 §5.2 error document. now: seconds since the epoch, for
 * expires_in. *err says why an answer is BROKEN. */
mcp_exchange_status_t mcp_exchange_answer(apr_pool_t *pool, long http_status, const char *body, apr_size_t len,
                                          long now, mcp_exchanged_t *out, const char **err);

/* Until when (seconds since the epoch) an issued token may be handed out
 * again: shortly before it expires, so that a backend never gets one
 * about to lapse. 0: not at all. */
long mcp_exchange_reuse_until(long now, long expires_at);

/* The longest record mcp_exchange_record makes: a 16 KiB token, every
 * character escaped in JSON, sealed and in base64url. */
#define MCP_EXCHANGE_RECORD_MAX_LEN (48 * 1024)

/* The record kept of an answer (ISSUED or REFUSED), sealed under a key
 * made from the client's token (token, len) and bound to name: whoever
 * reads the shared cache without that token learns nothing of it. NULL
 * when OpenSSL fails. */
const char *mcp_exchange_record(apr_pool_t *pool, const char *token, apr_size_t len, const char *name,
                                mcp_exchange_status_t status, const mcp_exchanged_t *answer);

/* A record back: ISSUED or REFUSED with *answer, or BROKEN when it is not
 * one mcp_exchange_record made for this token and name. */
mcp_exchange_status_t mcp_exchange_record_read(apr_pool_t *pool, const char *token, apr_size_t len, const char *name,
                                               const char *record, apr_size_t record_len, mcp_exchanged_t *answer);

#endif
