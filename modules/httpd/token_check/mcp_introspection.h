/* Opaque tokens judged by the IdP's introspection endpoint (RFC 7662), its
 * answers kept in the shared cache under a hash of the token, one question
 * per token in flight across processes and hosts. */
#ifndef MCP_INTROSPECTION_H
#define MCP_INTROSPECTION_H

#include <httpd.h>
#include <jansson.h>

#include "mcp_config.h"
#include "mcp_introspect.h"

/* Whether conf has this token introspected (MCPAuthTokenFormat). */
int mcp_introspects(const mcp_dir_conf_t *conf, const char *token, apr_size_t len);

/* The IdP's answer on token: ACTIVE with *claims (a reference the caller
 * owns), INACTIVE, or BROKEN when no answer could be had (*why, a log line
 * written). */
mcp_introspect_status_t mcp_introspect(request_rec *r, const mcp_dir_conf_t *conf, const char *token,
                                       apr_size_t len, json_t **claims, const char **why);

#endif
