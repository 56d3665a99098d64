/* How the gateway authenticates itself to the IdP as an OAuth client:
 * client_secret_basic (RFC 6749 §2.3.1) or private_key_jwt (RFC 7523 §2.2,
 * OpenID Connect Core §9). */
#ifndef MCP_CLIENT_AUTH_H
#define MCP_CLIENT_AUTH_H

#include <apr_pools.h>
#include <openssl/evp.h>

#define MCP_CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* The gateway as a client of the IdP (MCPAuthIntrospectionClient,
 * MCPAuthTokenExchangeClient): an id and either a secret or a key. */
typedef struct mcp_idp_client {
    const char *client_id;
    const char *secret;         /* client_secret_basic, or NULL */
    EVP_PKEY *key;              /* private_key_jwt, or NULL */
    const char *kid;            /* that key's kid, or NULL */
    int aud_endpoint;           /* its assertions name the endpoint, not the issuer */
} mcp_idp_client_t;

/* "Basic base64(urlencode(id):urlencode(secret))", both parts form-encoded
 * as RFC 6749 §2.3.1 asks. */
const char *mcp_client_secret_basic(apr_pool_t *pool, const char *client_id, const char *secret);

/* A private key for client assertions from PEM text: RSA (2048 bits or
 * more), EC P-256 or Ed25519. NULL with *err for anything else. The key is
 * freed with pool. */
EVP_PKEY *mcp_client_key_read(apr_pool_t *pool, const char *pem, apr_size_t len, const char **err);

/* The JWS alg a client key signs with: RS256, ES256 or EdDSA. */
const char *mcp_client_key_alg(EVP_PKEY *key);

/* A client assertion: iss and sub the client id, aud the authorization
 * server, a fresh jti, iat now and exp a minute later; kid when given.
 * NULL when signing fails. */
const char *mcp_client_assertion(apr_pool_t *pool, EVP_PKEY *key, const char *kid, const char *client_id,
                                 const char *audience, long now);

/* How client proves itself in a POST to endpoint of issuer: *authorization
 * (an Authorization header value, or NULL) and the return value, form
 * parameters to append to the body ("" when none: "&client_assertion..."
 * otherwise). NULL when an assertion cannot be signed. */
const char *mcp_client_credentials(apr_pool_t *pool, const mcp_idp_client_t *client, const char *issuer,
                                   const char *endpoint, long now, const char **authorization);

#endif
