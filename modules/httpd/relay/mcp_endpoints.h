/* The endpoints under /.well-known/mcp-auth/ where the gateway acts as the
 * authorization server (register, authorize, callback, token: the relay).
 * They are answered in the handler phase, so httpd's <Location> access
 * control on their paths applies, and only for a location whose metadata
 * names them; being URL space, no <Directory> section does. */
#ifndef MCP_ENDPOINTS_H
#define MCP_ENDPOINTS_H

#include <httpd.h>

#include "mcp_config.h"

#define MCP_ENDPOINT_PREFIX "/.well-known/mcp-auth"
#define MCP_ENDPOINT_REGISTER "register"
#define MCP_ENDPOINT_AUTHORIZE "authorize"
#define MCP_ENDPOINT_TOKEN "token"

/* When the gateway changes any endpoint it must also be the issuer clients
 * see, or a strict client refuses the metadata (RFC 8414 §3.3). */
int mcp_gateway_is_issuer(const mcp_dir_conf_t *conf);

/* The authorization server the location's metadata names. */
const char *mcp_authorization_server(request_rec *r, const mcp_dir_conf_t *conf);

/* The absolute URL of endpoint name (MCP_ENDPOINT_*) for a location. */
const char *mcp_endpoint_url(request_rec *r, const protected_location_t *pl, const char *name);

/* 503 temporarily_unavailable when the IdP's metadata cannot be had. */
int mcp_idp_unavailable(request_rec *r, const char *why);

/* The protected location r is an endpoint request for, or NULL. Such a
 * request is how a client gets a token: an AuthType MCP around its path
 * (protecting "/") must not ask it for one; other Require rules apply. */
const protected_location_t *mcp_endpoint_request(request_rec *r);

/* map_to_storage: an endpoint request maps to no file (OK), so no
 * <Directory> applies to it; DECLINED for any other. */
int mcp_endpoint_map_to_storage(request_rec *r);

/* The handler: answers an endpoint request, or DECLINED. */
int mcp_endpoint_handler(request_rec *r);

/* insert_error_filter: what httpd itself refuses on an endpoint (a
 * <Location> Require, a method, a size) is an OAuth JSON error too, not its
 * HTML page, unless an ErrorDocument says otherwise. */
void mcp_endpoint_error_body(request_rec *r);

#endif
