/* What every httpd-glue file shares: the module record's name, for its
 * per-directory configuration and its per-module LogLevel. Each glue .c
 * file says APLOG_USE_MODULE(mcp_auth) itself (mod_mcp_auth.c gets it from
 * AP_DECLARE_MODULE). */
#ifndef MCP_HTTPD_H
#define MCP_HTTPD_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA mcp_auth_module;

#endif
