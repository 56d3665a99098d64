/* What the module shows of itself: SetHandler mcp-auth-status (JSON) and a
 * section of mod_status's server-status page. */
#ifndef MCP_STATUS_PAGE_H
#define MCP_STATUS_PAGE_H

#include <httpd.h>
#include <jansson.h>

int mcp_status_handler(request_rec *r);

/* One entry per issuer and key set in use, as this process sees them
 * (the documents, their fetches and age). */
json_t *mcp_key_sets_json(request_rec *r);
int mcp_server_status_section(request_rec *r, int flags);

#endif
