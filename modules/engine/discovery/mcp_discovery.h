/* Finding the IdP's jwks_uri from its metadata (RFC 8414, OpenID Connect Discovery 1.0). */
#ifndef MCP_DISCOVERY_H
#define MCP_DISCOVERY_H

#include <apr_pools.h>

typedef struct mcp_discovery {
    const char *issuer;
    const char *jwks_uri;
    /* the endpoints the gateway relays to, when the document names http(s) ones */
    const char *authorization_endpoint;
    const char *token_endpoint;
    const char *registration_endpoint;
    const char *introspection_endpoint;  /* RFC 8414 §2, for opaque tokens */
    int iss_parameter;        /* authorization_response_iss_parameter_supported (RFC 9207 §3) */
    const char *json;         /* the whole document, for the metadata facade */
} mcp_discovery_t;

/* RFC 8414 §3.1: /.well-known/oauth-authorization-server inserted between
 * the issuer's host and path. */
const char *mcp_discovery_url_rfc8414(apr_pool_t *pool, const char *issuer);

/* OpenID Connect Discovery §4: {issuer}/.well-known/openid-configuration. */
const char *mcp_discovery_url_oidc(apr_pool_t *pool, const char *issuer);

/* An mcp_doc_parse_fn: ctx is the configured issuer, which the document's
 * "issuer" must equal exactly (RFC 8414 §3.3, OIDC Discovery §4.3). */
void *mcp_discovery_parse(apr_pool_t *pool, const char *body, apr_size_t len,
                          const void *ctx, const char **err);

/* Whether s is an absolute http(s) URL with a host. */
int mcp_is_http_url(const char *s);

#endif
