/* A response to a request that carried a token is not stored by a shared
 * cache in httpd (mod_cache) unless the response allows it. */
#ifndef MCP_CACHE_GUARD_H
#define MCP_CACHE_GUARD_H

#include <httpd.h>

/* For a request whose token the gateway removed. */
void mcp_cache_guard_arm(request_rec *r);

void mcp_cache_guard_register(apr_pool_t *p);

#endif
