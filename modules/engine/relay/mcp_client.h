/* OAuth clients as the relay knows them (RFC 7591 registrations and Client
 * ID Metadata Documents), and the redirect URIs they may use. The gateway
 * keeps no table of clients: a registration travels sealed inside the
 * client id it hands out (see mcp_seal.h). */
#ifndef MCP_CLIENT_H
#define MCP_CLIENT_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct mcp_client {
    const char *idp_client_id;          /* registered at the IdP for this client; NULL: the static one */
    const char *idp_client_secret;      /* that registration's secret, or NULL */
    apr_array_header_t *redirect_uris;  /* of const char *, each checked */
    const char *client_name;            /* or NULL */
    const char *metadata_url;           /* a CIMD client's id (its document's URL), or NULL */
    const char *application_type;       /* "web", "native", or NULL (not given) */
} mcp_client_t;

/* OAuth 2.1 and the MCP authorization spec: https with any host; http only
 * to a loopback host (127.0.0.0/8, [::1], localhost); or a private-use
 * scheme of a native app (RFC 8252 §7.1), never javascript:, data:, file:
 * and the like; absolute, no fragment, no user info, no spaces. *why says
 * what is wrong. */
int mcp_client_redirect_uri_ok(apr_pool_t *pool, const char *uri, const char **why);

/* A registration request (RFC 7591 §2) made into a client. NULL on success,
 * else the RFC 7591 §3.2.2 error code with *desc for the client. */
const char *mcp_client_from_registration(apr_pool_t *pool, const char *json, apr_size_t len,
                                         mcp_client_t *out, const char **desc);

/* A Client ID Metadata Document fetched from url: a JSON object whose
 * client_id is url itself, with usable redirect_uris. NULL on success, else
 * an error code with *desc. */
const char *mcp_client_from_metadata_document(apr_pool_t *pool, const char *url, const char *json,
                                              apr_size_t len, mcp_client_t *out, const char **desc);

/* Whether uri is, byte for byte, one of the client's redirect URIs
 * (OAuth 2.1 §4.1.1: exact string matching). */
int mcp_client_has_redirect_uri(const mcp_client_t *client, const char *uri);

/* The compact JSON the gateway seals into a client id, and back. */
char *mcp_client_to_json(apr_pool_t *pool, const mcp_client_t *client);
int mcp_client_from_json(apr_pool_t *pool, const char *json, apr_size_t len, mcp_client_t *out);

/* The RFC 7591 §3.2.1 answer for a registered client. */
char *mcp_client_registration_response(apr_pool_t *pool, const char *client_id, const mcp_client_t *client,
                                       long issued_at);

/* The registration the gateway sends the IdP for a client: the metadata
 * that describes it (name, grant and response types, auth method, scope,
 * application_type, ...), with the gateway's callback as the only redirect
 * URI and no URL the IdP would fetch. NULL when json is not an object. */
char *mcp_client_idp_registration(apr_pool_t *pool, const char *json, apr_size_t len, const char *callback);

/* RFC 7636 §4.6: whether verifier is well formed and its S256 transform is
 * challenge. The relay checks this itself, whatever the IdP does. */
int mcp_client_pkce_s256_matches(const char *verifier, const char *challenge);

#endif
