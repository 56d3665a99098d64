/* URLs as the module prints them. */
#ifndef MCP_URL_H
#define MCP_URL_H

#include <apr_pools.h>

/* url with any userinfo ("user:pass@") and query replaced by "***", for log
 * lines and the status page: credentials in a configured URL must not end
 * up in either. NULL stays NULL. */
const char *mcp_url_redacted(apr_pool_t *pool, const char *url);

#endif
