/* Token introspection (RFC 7662): the request the gateway sends about an
 * opaque token, the answer read strictly, and the record it keeps of it. */
#ifndef MCP_INTROSPECT_H
#define MCP_INTROSPECT_H

#include <apr_pools.h>
#include <jansson.h>

typedef enum {
    MCP_INTROSPECT_ACTIVE,      /* claims hold the answer */
    MCP_INTROSPECT_INACTIVE,    /* the IdP says the token is not (or no longer) valid */
    MCP_INTROSPECT_BROKEN       /* not an introspection answer: the IdP is not working */
} mcp_introspect_status_t;

/* The form body of the request (RFC 7662 §2.1), the client's parameters
 * (mcp_client_credentials) appended. */
const char *mcp_introspect_request(apr_pool_t *pool, const char *token, apr_size_t len, const char *client_params);

/* Whether a token is a compact JWS by its shape: three base64url segments
 * (MCPAuthTokenFormat auto introspects anything else). */
int mcp_token_is_jws_shaped(const char *token, apr_size_t len);

/* Reads an answer (RFC 7662 §2.2): a JSON object whose "active" is true,
 * or false. *claims is the answer (one reference the caller owns); iss
 * defaults to issuer
 * (the endpoint answers for its issuer; RFC 7662 §2.2 leaves iss out). */
mcp_introspect_status_t mcp_introspect_parse(apr_pool_t *pool, const char *body, apr_size_t len,
                                             const char *issuer, json_t **claims, const char **err);

/* What the shared cache keeps: {"active":true,"claims":{...}} or
 * {"active":false}, and reading it back (*claims: a reference the caller
 * owns). */
const char *mcp_introspect_record(apr_pool_t *pool, json_t *claims);
mcp_introspect_status_t mcp_introspect_record_read(apr_pool_t *pool, const char *record, apr_size_t len,
                                                   json_t **claims);

#endif
