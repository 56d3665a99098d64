/* What the module shows of itself: SetHandler mcp-auth-status (JSON) and a
 * section of mod_status's server-status page. */
#ifndef MCP_STATUS_PAGE_H
#define MCP_STATUS_PAGE_H

#include <httpd.h>

int mcp_status_handler(request_rec *r);
int mcp_server_status_section(request_rec *r, int flags);

#endif
