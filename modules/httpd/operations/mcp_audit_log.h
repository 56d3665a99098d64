/* The audit log's items: %{NAME}M for mod_log_config's LogFormat, each a
 * whole JSON value, and %{MCP_DECISION} for expressions (a CustomLog
 * condition that keeps other requests out). */
#ifndef MCP_AUDIT_LOG_H
#define MCP_AUDIT_LOG_H

#include <apr_pools.h>

/* In pre_config, as mod_log_config wants its items registered (when it is
 * loaded at all). */
void mcp_audit_log_pre_config(apr_pool_t *pconf);

void mcp_audit_log_register(apr_pool_t *p);

#endif
