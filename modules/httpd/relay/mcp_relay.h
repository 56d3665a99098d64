/* The OAuth relay: where the gateway is the authorization server MCP
 * clients see (MCPAuthProvider other than generic, or MCPAuthClientID), it
 * is a whole OAuth 2.1 front for the IdP. Clients register with it,
 * authorize through it, and get their tokens through it; the IdP only ever
 * talks to the gateway's own callback, and its answers reach clients with
 * the gateway as issuer (RFC 9207). Nothing is stored per client or per
 * login: registrations, transactions and codes travel sealed. */
#ifndef MCP_RELAY_H
#define MCP_RELAY_H

#include <httpd.h>

#include "mcp_config.h"

#define MCP_ENDPOINT_CALLBACK "callback"

/* POST register: RFC 7591, at the IdP (its client gets the gateway's
 * callback as only redirect URI) or locally for MCPAuthClientID. */
int mcp_relay_register(request_rec *r, const protected_location_t *pl);

/* GET authorize (and POST, from the consent page). */
int mcp_relay_authorize(request_rec *r, const protected_location_t *pl);

/* GET callback: the IdP's answer, passed on to the client's redirect URI. */
int mcp_relay_callback(request_rec *r, const protected_location_t *pl);

/* POST token: authorization_code and refresh_token, forwarded to the IdP. */
int mcp_relay_token(request_rec *r, const protected_location_t *pl);

#endif
