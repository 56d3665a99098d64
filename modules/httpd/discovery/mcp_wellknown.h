/* The well-known endpoints: protected resource metadata, the
 * authorization-server facade, registration and Entra's shims. */
#ifndef MCP_WELLKNOWN_H
#define MCP_WELLKNOWN_H

#include <httpd.h>

/* The quick handler: answers the endpoint r->uri names for a protected
 * location, or DECLINED. */
int mcp_wellknown_handler(request_rec *r, int lookup_uri);

#endif
