/* The authorization-server metadata the gateway publishes on behalf of the
 * IdP (RFC 8414 §3.2), with each provider's quirks smoothed over. */
#ifndef MCP_FACADE_H
#define MCP_FACADE_H

#include <apr_pools.h>
#include <apr_tables.h>

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
    const char *issuer;                 /* the gateway's (the relay), or NULL: the IdP's metadata as it is */
    const char *resource;
    const char *registration_endpoint;  /* the relay's endpoints */
    const char *authorization_endpoint;
    const char *token_endpoint;
    int client_metadata_documents;      /* the relay accepts CIMD client ids */
} mcp_facade_t;

/* The authorization-server metadata clients see. Without an issuer, the
 * IdP's own document. With one (the relay), the gateway's: its issuer and
 * endpoints, what the relay serves (code, S256, public clients,
 * authorization_code and refresh_token), the RFC 9207 iss parameter it
 * always sends, and the IdP's other fields (scopes, jwks_uri, ...). NULL
 * + *err when the IdP's document is not a JSON object. */
char *mcp_facade_metadata(apr_pool_t *pool, const char *idp_json, const mcp_facade_t *f,
                          const char **err);

/* Entra issues v1 tokens (iss https://sts.windows.net/{tenant}/) and v2
 * tokens (https://login.microsoftonline.com/{tenant}/v2.0) for one tenant,
 * depending on the API's accessTokenAcceptedVersion. Returns the other form
 * of issuer, or NULL when issuer is neither. */
const char *mcp_entra_other_issuer(apr_pool_t *pool, const char *issuer);

/* Entra names the API a token is for inside its scopes ("api://APP/scope",
 * "APP/.default", a bare "User.Read" for Microsoft Graph), and one refresh
 * token redeems for any API the user consented to. The first word of the
 * space-separated list that names an API other than one of apis (of const
 * char *, the location's audiences), or NULL; OpenID Connect's own scopes
 * name no API. */
const char *mcp_entra_foreign_scope(apr_pool_t *pool, const char *list, const apr_array_header_t *apis);

/* Whether issuer is Entra's v1 form (which has no discovery document). */
int mcp_entra_is_v1(const char *issuer);

#endif
