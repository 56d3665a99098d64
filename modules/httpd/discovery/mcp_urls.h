/* External URLs and resource identity: the URL under which clients reach a
 * location, the resource identifier tokens must be issued for (RFC 8707),
 * and where its protected resource metadata lives (RFC 9728). */
#ifndef MCP_URLS_H
#define MCP_URLS_H

#include <httpd.h>

#include "mcp_config.h"

#define MCP_PRM_PREFIX "/.well-known/oauth-protected-resource"

/* scheme://host[:port]path as clients reach this server. */
const char *mcp_external_url(request_rec *r, const mcp_dir_conf_t *conf, const char *path);

/* Documents whose URLs come from the forwarding headers say so (Vary), so
 * that a shared cache never hands one client's answer to another. */
void mcp_urls_vary(request_rec *r, const mcp_dir_conf_t *conf);

/* The virtual host as configured: scheme://ServerName:port, never taken from
 * the Host or forwarding headers, so that every host of a fleet with one
 * configuration names one site and two virtual hosts never name the same. */
const char *mcp_site_of(request_rec *r);

/* The resource identifier: MCPAuthResource, else the location's URL. */
const char *mcp_resource_of(request_rec *r, const mcp_dir_conf_t *conf);

/* The audiences tokens must name (of const char *): MCPAuthAudience, else
 * the resource identifier. */
const apr_array_header_t *mcp_audiences_of(request_rec *r, const mcp_dir_conf_t *conf);

/* The absolute URL of the location's protected resource metadata. */
const char *mcp_prm_url(request_rec *r, const mcp_dir_conf_t *conf);

#endif
