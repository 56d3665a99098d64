/* The relay as a client of the IdP: its POSTs, the registrations it makes
 * there (RFC 7591), and which IdP client a login or token request uses. */
#ifndef MCP_RELAY_IDP_H
#define MCP_RELAY_IDP_H

#include <httpd.h>

#include "mcp_client.h"
#include "mcp_config.h"
#include "mcp_fetch.h"

/* POSTs a request the relay makes for r to the IdP (url, content type,
 * body and authorization set by the caller); 0 after logging when the IdP
 * did not answer. */
int mcp_relay_post(request_rec *r, const mcp_dir_conf_t *conf, mcp_post_t *post, mcp_fetch_result_t *res);

/* Registers payload (RFC 7591 metadata whose only redirect URI is the
 * location's callback) at the IdP, with bearer (an initial access token)
 * or none. NULL with *id and *secret (or NULL) set; else why not, with
 * *status for the client and, when the IdP refused, its answer as it came. */
const char *mcp_relay_register_at_idp(request_rec *r, const protected_location_t *pl, const char *payload,
                                      const char *bearer, const char **id, const char **secret, int *status,
                                      const char **answer);

/* Whether the location's IdP registers clients (RFC 7591). */
int mcp_relay_idp_registers(request_rec *r, const mcp_dir_conf_t *conf);

/* The IdP client a request for client uses: the client's own registration,
 * else MCPAuthClientID, else (a Client ID Metadata Document client where
 * the IdP registers clients) the gateway's own client for this location.
 * 1 with *id and *secret (or NULL); 0 with *why. */
int mcp_relay_idp_client(request_rec *r, const protected_location_t *pl, const mcp_client_t *client,
                         const char **id, const char **secret, const char **why);

#endif
