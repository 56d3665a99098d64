/* The authorization-server metadata the gateway publishes on behalf of the
 * IdP (RFC 8414 §3.2), with each provider's quirks smoothed over. */
#ifndef MCP_FACADE_H
#define MCP_FACADE_H

#include <apr_pools.h>

typedef enum {
    MCP_PROVIDER_GENERIC,
    MCP_PROVIDER_KEYCLOAK,
    MCP_PROVIDER_AUTH0,
    MCP_PROVIDER_OKTA,
    MCP_PROVIDER_ENTRA,
    MCP_PROVIDER_AUTHENTIK
} mcp_provider_t;

typedef struct mcp_facade {
    mcp_provider_t provider;
    const char *issuer;                 /* the gateway's issuer, or NULL to keep the IdP's */
    const char *resource;               /* for audience= (Auth0, Okta) */
    const char *registration_endpoint;  /* the gateway's, or NULL to keep the IdP's */
    const char *authorization_endpoint; /* the gateway's (Entra), or NULL */
    const char *token_endpoint;         /* the gateway's (Entra), or NULL */
} mcp_facade_t;

/* Rewrites the IdP's metadata document. NULL + *err when it is not a JSON
 * object. */
char *mcp_facade_metadata(apr_pool_t *pool, const char *idp_json, const mcp_facade_t *f,
                          const char **err);

/* RFC 7591 §3.2.1 response of a local registration endpoint that hands out
 * a pre-registered client id (providers without dynamic registration).
 * NULL + *err (an RFC 7591 §3.2.2 error code) on a bad request. */
char *mcp_facade_local_registration(apr_pool_t *pool, const char *request_json, apr_size_t len,
                                    const char *client_id, long issued_at, const char **err);

/* A form or query string without its "resource" parameters (Entra refuses
 * RFC 8707 resource indicators). */
const char *mcp_form_without_resource(apr_pool_t *pool, const char *form);

/* Entra issues v1 tokens (iss https://sts.windows.net/{tenant}/) and v2
 * tokens (https://login.microsoftonline.com/{tenant}/v2.0) for one tenant,
 * depending on the API's accessTokenAcceptedVersion. Returns the other form
 * of issuer, or NULL when issuer is neither. */
const char *mcp_entra_other_issuer(apr_pool_t *pool, const char *issuer);

/* Whether issuer is Entra's v1 form (which has no discovery document). */
int mcp_entra_is_v1(const char *issuer);

#endif
