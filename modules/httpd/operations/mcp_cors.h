/* CORS for browser-based MCP clients: on the discovery endpoints (any origin
 * unless MCPAuthCORSOrigins says otherwise) and on the MCP location (only
 * the listed origins). */
#ifndef MCP_CORS_H
#define MCP_CORS_H

#include <httpd.h>

#include "mcp_config.h"

/* Adds the CORS headers an answer needs; well_known selects the discovery
 * default (any origin) over the MCP location's (none). */
void mcp_cors_headers(request_rec *r, const mcp_dir_conf_t *conf, int well_known);

/* Answers a preflight for methods (comma-separated): 204. */
int mcp_cors_preflight(request_rec *r, const mcp_dir_conf_t *conf, int well_known,
                       const char *methods);

/* Registers the output filter that keeps a backend's CORS headers from
 * doubling the gateway's. */
void mcp_cors_register(apr_pool_t *p);

#endif
