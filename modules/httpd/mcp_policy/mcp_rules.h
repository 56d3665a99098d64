/* Authorization inside MCP, the httpd side: the rule directives, the check
 * of a POSTed JSON-RPC request against them, and the answers to a denial. */
#ifndef MCP_RULES_H
#define MCP_RULES_H

#include <httpd.h>
#include <http_config.h>

#include "mcp_config.h"
#include "mcp_jwt.h"
#include "mcp_policy.h"

/* MCPAuthToolRule, MCPAuthPromptRule, MCPAuthResourceRule (cmd->info: the kind). */
const char *mcp_rules_directive(cmd_parms *cmd, void *confv, int argc, char *const argv[]);

/* MCPAuthDefault allow|deny. */
const char *mcp_rules_default_directive(cmd_parms *cmd, void *confv, const char *arg);

/* The MCP side of a request to an AuthType MCP location, for jwt (NULL:
 * anonymous): its legacy session must be the caller's; where requests are
 * read (MCPAuthReadRequests, rules), a POSTed body is read once (bounded,
 * replayed unchanged to the backend), refused unless it reads one way,
 * checked against the MCP headers of its era, described in MCP_METHOD,
 * MCP_TOOL, MCP_PROTOCOL_VERSION and MCP_SESSION, and judged by the rules.
 * Every request of a chain (internal redirect, subrequest) is judged by its
 * own location. DECLINED when the request goes on (a JSON-RPC denial is
 * then answered by mcp_rules_handler), else the HTTP status of a refusal
 * already set up. */
int mcp_rules_check(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt);

/* "MCPAuthToolRule delete_* scope repo:admin": a rule as configured. */
const char *mcp_rules_describe(apr_pool_t *pool, const mcp_rule_t *rule);

/* Gives every rule of the protected locations (of protected_location_t) its
 * refusal counter in the metrics registry (after mcp_metrics_init). */
void mcp_rules_number(apr_pool_t *pool, apr_array_header_t *protected);

/* [{"location": path, "rules": [{"rule": ..., "refused": n}]}] for the
 * status page. */
json_t *mcp_rules_status(apr_pool_t *pool, const apr_array_header_t *protected);

/* Whether mcp_rules_check denied r, to be answered by mcp_rules_handler
 * (nothing goes to the backend). */
int mcp_rules_answer_pending(const request_rec *r);

/* The id (JSON text) of the single JSON-RPC request r carries, when it was
 * read; else NULL. */
const char *mcp_rules_request_id(const request_rec *r);

/* Answers a request mcp_rules_check denied with a JSON-RPC error (HTTP 200,
 * as a server answers an unknown tool); DECLINED for any other. */
int mcp_rules_handler(request_rec *r);

#endif
