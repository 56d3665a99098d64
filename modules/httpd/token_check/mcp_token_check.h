/* Validating a presented token for a location. */
#ifndef MCP_TOKEN_CHECK_H
#define MCP_TOKEN_CHECK_H

#include <httpd.h>
#include <jansson.h>

#include "mcp_config.h"
#include "mcp_metrics.h"
#include "mcp_jwt.h"

/* Runs every check on a presented token: a JWT's signature, or an opaque
 * token's introspection, then the claims. Returns the verified token, or
 * NULL with *why (for the client), *kind (for the counters) and a log line
 * written; *kind MCP_COUNT_UNAVAILABLE when no verdict could be had (the
 * introspection endpoint failed): 503, not 401. */
mcp_jwt_t *mcp_token_validate(request_rec *r, const mcp_dir_conf_t *conf, const char *token,
                              apr_size_t len, const char **why, mcp_count_t *kind);

/* child_init: this process's token cache, within MCPAuthTokenCacheSize. */
void mcp_token_check_child_init(apr_pool_t *pchild, server_rec *s);

/* {"bytes": held now in this process, "budget": its limit}, for the status page. */
json_t *mcp_token_cache_json(void);

#endif
