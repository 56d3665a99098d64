/* The output filter that takes out of list answers (JSON or SSE) the tools,
 * prompts and resources a caller may not use. */
#ifndef MCP_LIST_OUTPUT_H
#define MCP_LIST_OUTPUT_H

#include <httpd.h>
#include <apr_tables.h>

#include "mcp_config.h"
#include "mcp_jwt.h"

/* Filters r's answer for the list requests among calls (mcp_rpc_call_t), as
 * conf's rules judge jwt's caller; asks the backend for an answer it can
 * read (no compression). */
void mcp_list_output_add(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt,
                         const apr_array_header_t *calls);

/* Registers the filter. */
void mcp_list_output_register(apr_pool_t *p);

#endif
