/* The locations AuthType MCP protects, found and checked at startup, for
 * the answers given before any per-directory lookup (metadata, discovery,
 * registration), which find their location by the path in the URL. */
#ifndef MCP_LOCATIONS_H
#define MCP_LOCATIONS_H

#include <httpd.h>

#include "mcp_config.h"

/* Checks every virtual host's sections and records its protected locations.
 * Returns how many there are, or -1 after logging a configuration error. */
int mcp_locations_find(apr_pool_t *pconf, server_rec *s);

/* The path under which a location's documents are published: the path of
 * MCPAuthResource when set, else the location's own. */
const char *mcp_published_path(apr_pool_t *p, const protected_location_t *pl);

/* The protected location a well-known suffix names, or NULL. The empty or
 * "/" suffix names the only protected location of the virtual host. */
const protected_location_t *mcp_find_protected(request_rec *r, const char *suffix);

/* Whether any protected location needs the sealing key (after
 * mcp_locations_find): one with the gateway as its authorization server
 * (the relay), one that seals MCP session ids to their users, or one that
 * hands out DPoP nonces. */
int mcp_locations_need_sealing(server_rec *s);

/* Gives a request the location's configuration, so that URLs are built as
 * for a request to the location itself (UseCanonicalName and friends). */
void mcp_serve_as_location(request_rec *r, const protected_location_t *pl);

#endif
