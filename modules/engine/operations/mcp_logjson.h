/* Values for a JSON access log line: whatever bytes a client sent, one
 * complete JSON value that keeps the line one valid JSON text. */
#ifndef MCP_LOGJSON_H
#define MCP_LOGJSON_H

#include <apr_pools.h>

/* The most bytes of UTF-8 a value carries into a log line: a longer one is
 * cut at the last whole character within them and ends with U+2026 (an
 * ellipsis), so that a batch of long names cannot make a line of
 * megabytes. Escaped, a value takes at most six times as much. */
#define MCP_LOGJSON_MAX 512

/* s (len bytes, NUL and any other byte included) as a JSON string, quotes
 * included, written by jansson in printable ASCII alone: controls, DEL and
 * everything beyond ASCII as \uXXXX escapes (astral characters as surrogate
 * pairs), '"' and '\' escaped. Bytes that are not UTF-8 (stray
 * continuation bytes, cut or overlong sequences, surrogates, beyond
 * U+10FFFF) become U+FFFD, one for each maximal ill-formed part (Unicode
 * §3.9), so valid text around them reads back as it was. "null" when s is
 * NULL. */
const char *mcp_logjson_string(apr_pool_t *pool, const char *s, apr_size_t len);

/* The same for a NUL-terminated string (or NULL). */
const char *mcp_logjson_cstring(apr_pool_t *pool, const char *s);

#endif
