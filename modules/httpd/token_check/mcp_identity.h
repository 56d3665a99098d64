/* Identity headers for the backend (MCPAuthClaimHeader): the gateway's
 * alone to set. */
#ifndef MCP_IDENTITY_H
#define MCP_IDENTITY_H

#include <httpd.h>

#include "mcp_config.h"
#include "mcp_jwt.h"

/* Removes every header of r named like one of names, also spelled with
 * '_' or '.' for '-' (mcp_field_names_alike): backends fold them. */
void mcp_headers_scrub(request_rec *r, const char *const *names, int count);

/* Removes every client copy of a configured identity header, also spelled
 * with '_' for '-'; on every request, authenticated or not. */
void mcp_identity_scrub(request_rec *r, const mcp_dir_conf_t *conf);

/* Sets the configured headers from a verified token's claims. */
void mcp_identity_set(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt);

#endif
