/* The key that seals what the relay hands out (state, codes, client ids,
 * consent cookies). MCPAuthRelayKey FILE names it, the same file on every
 * host that serves the same clients; without the directive the module
 * makes one once under the runtime directory and keeps it across restarts,
 * so registered clients and logins in flight survive a graceful restart. */
#ifndef MCP_RELAY_KEY_H
#define MCP_RELAY_KEY_H

#include <httpd.h>
#include <http_config.h>

#include "mcp_seal.h"

/* MCPAuthRelayKey FILE: read and checked as the configuration is read. */
const char *mcp_relay_key_directive(cmd_parms *cmd, void *dummy, const char *arg);

/* pre_config: forgets the previous generation's file. */
void mcp_relay_key_pre_config(void);

/* post_config: the key from MCPAuthRelayKey, else from (or into) the
 * runtime directory's file. 0 after logging why there is none. */
int mcp_relay_key_init(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* The key; NULL before mcp_relay_key_init succeeded. */
const unsigned char *mcp_relay_key(void);

/* After a sealed value failed to open: when it names another key than
 * ours, a warning (at most one a minute per process: anyone can send such
 * values) that hosts of one fleet need one MCPAuthRelayKey. */
void mcp_relay_key_explain(request_rec *r, const char *sealed);

#endif
