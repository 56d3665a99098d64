/* What a proxy in front says about the original request: X-Forwarded-Host,
 * X-Forwarded-Proto and RFC 7239 Forwarded. Only the last element counts:
 * a proxy appends its own to whatever the client sent. */
#ifndef MCP_FORWARDED_H
#define MCP_FORWARDED_H

#include <apr_pools.h>

/* The last element of a comma-separated header value, trimmed; NULL when
 * value is NULL or that element is empty. */
const char *mcp_forwarded_last_value(apr_pool_t *pool, const char *value);

/* The host and proto parameters of the last element of a Forwarded header
 * (RFC 7239 §4: pairs separated by ';', values tokens or quoted strings).
 * Each is NULL when absent; returns 0 when the element does not parse. */
int mcp_forwarded_parse_last(apr_pool_t *pool, const char *value, const char **host,
                             const char **proto);

/* Whether s is a host[:port] fit for a URL (a name, IPv4, or [IPv6]). */
int mcp_forwarded_is_host(const char *s);

#endif
