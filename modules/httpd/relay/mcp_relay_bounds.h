/* What a relay request may ask for and how often: this location's resource
 * only (RFC 8707), scopes that never widen, and single use of what the
 * relay hands out, kept in the shared cache for every process and host. */
#ifndef MCP_RELAY_BOUNDS_H
#define MCP_RELAY_BOUNDS_H

#include <httpd.h>

#include "mcp_cache.h"
#include "mcp_config.h"

#define MCP_RELAY_STORE_DOWN \
    "the gateway cannot check single use right now (its shared cache does not answer): try again shortly"

/* NULL when resource is absent or this location's; else why not. */
const char *mcp_relay_foreign_resource(request_rec *r, const mcp_dir_conf_t *conf, const char *resource);

/* p's scope normalised, in p too (NULL: none); *valid 0 when not scope tokens. */
const char *mcp_relay_scope_of(request_rec *r, apr_table_t *p, int *valid);

/* Why the IdP must not be asked for scope, or NULL. */
const char *mcp_relay_foreign_scope(request_rec *r, const mcp_dir_conf_t *conf, const char *scope, int valid);

#endif
