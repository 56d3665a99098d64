/* base64url as JOSE uses it (RFC 7515 §2). */
#ifndef MCP_B64URL_H
#define MCP_B64URL_H

#include <apr.h>

/* RFC 7515 §2 base64url, strictly: the alphabet only, no padding, a length
 * that is not 1 mod 4, and zero unused bits. cjose's decoder accepts far
 * more and aborts the process on some inputs, so nothing reaches it
 * unchecked. */
int mcp_b64url_is_strict(const char *s, apr_size_t len);

#endif
