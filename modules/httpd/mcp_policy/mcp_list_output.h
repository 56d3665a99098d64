/* The output filter that takes out of list answers (JSON or SSE) the tools,
 * prompts and resources a caller may not use. */
#ifndef MCP_LIST_OUTPUT_H
#define MCP_LIST_OUTPUT_H

#include <httpd.h>
#include <apr_tables.h>

#include "mcp_config.h"
#include "mcp_jwt.h"

/* Filters the lists in r's answer (JSON or SSE) as conf's rules judge jwt's
 * caller; asks the backend for an answer it can read (no compression). When
 * lists_asked, a successful answer that cannot be read is replaced by a 502
 * rather than passed on; otherwise (a GET stream, which may replay any
 * answer) only what is JSON or SSE is filtered. */
void mcp_list_output_add(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt, int lists_asked);

/* Registers the filter. */
void mcp_list_output_register(apr_pool_t *p);

#endif
