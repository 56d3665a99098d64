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

/* n random bytes from OpenSSL's CSPRNG; 0 on failure. */
int mcp_seal_random(unsigned char *out, apr_size_t n);

#endif
