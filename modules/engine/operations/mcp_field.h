/* HTTP field values: the ones the module writes from token claims (RFC 9110
 * §5.5), and media types it reads. */
#ifndef MCP_FIELD_H
#define MCP_FIELD_H

#include <apr_pools.h>

/* s as a field value: printable ASCII and spaces as they are; '%' and every
 * byte above 0x7e (UTF-8 beyond ASCII, which includes line separators such
 * as U+0085 and U+2028) as %XX, so that a backend can decode it as it
 * decodes a URL. NULL when s holds a control character: such a value is
 * not sent at all. */
const char *mcp_field_value(apr_pool_t *pool, const char *s);

/* Whether a Content-Type value names the media type want (type/subtype,
 * case-insensitive, RFC 9110 §8.3.1), parameters aside. */
int mcp_media_type_is(const char *value, const char *want);

/* Whether two header names are one to a backend that folds them: case,
 * and '-', '_' and '.' as one (CGI and WSGI variables, PHP, many
 * frameworks). */
int mcp_field_names_alike(const char *a, const char *b);

/* Why a request's Content-Type cannot be JSON read as UTF-8 the one way
 * every server reads it, or NULL when it is application/json whose
 * parameters parse (RFC 9110 §8.3.1) and name no charset but UTF-8, once at
 * most: servers decode the body with the declared charset (UTF-7, UTF-16,
 * Latin-1), so any other would let the rules read other text than the
 * server runs (RFC 8259 §8.1: JSON between systems is UTF-8). */
const char *mcp_json_content_type_problem(const char *value);

#endif
