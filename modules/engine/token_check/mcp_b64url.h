/* base64url as JOSE uses it (RFC 7515 §2). */
#ifndef MCP_B64URL_H
#define MCP_B64URL_H

#include <apr.h>
#include <apr_pools.h>

/* RFC 7515 §2 base64url, strictly: the alphabet only, no padding, a length
 * that is not 1 mod 4, and zero unused bits. cjose's decoder accepts far
 * more and aborts the process on some inputs, so nothing reaches it
 * unchecked. */
int mcp_b64url_is_strict(const char *s, apr_size_t len);

/* The bytes of strict base64url s (NUL-terminated past *out_len), from
 * pool; NULL when s is not strict. APR's decoder, not cjose's: it needs no
 * malloc and free per segment, and does not abort. */
unsigned char *mcp_b64url_decode(apr_pool_t *pool, const char *s, apr_size_t len, apr_size_t *out_len);

#endif
