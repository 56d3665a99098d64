/* Sealed values: what the gateway hands to clients and the IdP and must get
 * back unaltered (OAuth state, authorization codes, client ids that carry
 * their registration, consent cookies). AES-256-GCM with a purpose bound in
 * as associated data, so a value sealed for one use is refused for another;
 * base64url on the wire. */
#ifndef MCP_SEAL_H
#define MCP_SEAL_H

#include <apr_pools.h>

#define MCP_SEAL_KEY_LEN 32
/* Sealed values longer than this are refused before any decoding. */
#define MCP_SEAL_MAX_LEN 8192

/* plain (len bytes) sealed for purpose; NULL only when OpenSSL fails. */
const char *mcp_seal(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                     const char *plain, apr_size_t len);

/* The plain text (NUL-terminated, *len bytes) of a value mcp_seal made with
 * the same key and purpose; NULL for anything else (altered, truncated,
 * another purpose or key, not base64url, too long). */
const char *mcp_unseal(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                       const char *sealed, apr_size_t *len);

/* The same for values the gateway keeps itself (not handed to anyone),
 * which may be longer: up to max_len. */
const char *mcp_unseal_bounded(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                               const char *sealed, apr_size_t max_len, apr_size_t *len);

/* A key's public name: 8 hex digits derived from it (never the key), the
 * same on every host that has the same key. Sealed values carry it, so a
 * value from a host with another key can be told from a forgery. */
#define MCP_SEAL_KEY_ID_HEX 9
void mcp_seal_key_id(const unsigned char key[MCP_SEAL_KEY_LEN], char out[MCP_SEAL_KEY_ID_HEX]);

/* The key id (as mcp_seal_key_id) a sealed value names, without opening
 * it: 1 and out set, or 0 when it names none (older values, not a sealed
 * value). Anyone can write any id: use it to explain, never to trust. */
int mcp_sealed_key_id(const char *sealed, char out[MCP_SEAL_KEY_ID_HEX]);

/* n random bytes from OpenSSL's CSPRNG; 0 on failure. */
int mcp_seal_random(unsigned char *out, apr_size_t n);

#endif
