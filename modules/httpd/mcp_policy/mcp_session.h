/* Legacy MCP sessions (2025-03-26 to 2025-11-25 Streamable HTTP) bound to
 * the user the server handed them to: the session id alone is a bearer
 * credential to the server's state, and a leaked one must be worth nothing
 * to anyone else. */
#ifndef MCP_SESSION_H
#define MCP_SESSION_H

#include <httpd.h>

#include "mcp_config.h"
#include "mcp_jwt.h"

/* For a request carrying Mcp-Session-Id: DECLINED when the id is one this
 * gateway handed to this caller at this location (the header then carries
 * the server's own id again), else 404 with a JSON-RPC error, as the
 * transport answers a session it does not have. Either way the answer's
 * Mcp-Session-Id, if the server hands one out, reaches the client sealed
 * to the caller. jwt NULL: anonymous. */
int mcp_session_check(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt);

/* Whether any protected location binds sessions (and so needs the key). */
int mcp_session_binding_in_use(const apr_array_header_t *protected);

/* Registers the filter that seals the session id in the server's answer. */
void mcp_session_register(apr_pool_t *p);

#endif
