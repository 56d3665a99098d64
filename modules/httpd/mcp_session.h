/* Legacy MCP sessions (2025-03-26 to 2025-11-25 Streamable HTTP) bound to
 * the user the server handed them to: the session id alone is a bearer
 * credential to the server's state, and a leaked one must be worth nothing
 * to anyone else. */
#ifndef MCP_SESSION_H
#define MCP_SESSION_H

#include <httpd.h>

#include "mcp_config.h"
#include "mcp_jwt.h"

/* For a request carrying Mcp-Session-Id: DECLINED when the session is this
 * caller's (or unknown, and now bound to this caller), else 404 with a
 * JSON-RPC error, as the transport answers a session it does not have.
 * For one without: watches the answer for the session id the server hands
 * out, to bind it. jwt NULL: anonymous. */
int mcp_session_check(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt);

/* Registers the filter that sees the session id in the server's answer. */
void mcp_session_register(apr_pool_t *p);

#endif
