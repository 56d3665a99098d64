/* How the gateway authenticates itself to the IdP as an OAuth client:
 * client_secret_basic (RFC 6749 §2.3.1) or private_key_jwt (RFC 7523 §2.2,
 * OpenID Connect Core §9). */
#ifndef MCP_CLIENT_AUTH_H
#define MCP_CLIENT_AUTH_H

#include <apr_pools.h>
#include <openssl/evp.h>

#define MCP_CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

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

#endif
