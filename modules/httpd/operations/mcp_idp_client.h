/* The gateway as a client of the IdP at the endpoints it asks on a
 * request's behalf (introspection, token exchange): where they are, and a
 * POST there with the gateway's client credentials. */
#ifndef MCP_IDP_CLIENT_H
#define MCP_IDP_CLIENT_H

#include <httpd.h>

#include "mcp_client_auth.h"
#include "mcp_config.h"
#include "mcp_fetch.h"

/* An endpoint of the IdP: configured (not NULL), else the field of the
 * discovery document at offset (APR_OFFSETOF(mcp_discovery_t, ...)), named
 * name for *why when it cannot be had. */
const char *mcp_idp_endpoint(request_rec *r, const mcp_dir_conf_t *conf, const char *configured, apr_size_t offset,
                             const char *name, const char **why);

/* POSTs form to endpoint as client (NULL: no credentials), within the
 * location's fetch limits. APR_SUCCESS with *res (any status), else *why
 * says what failed, for the error log; what names the endpoint there
 * ("introspection", "the token endpoint"). */
apr_status_t mcp_idp_post(request_rec *r, const mcp_dir_conf_t *conf, const mcp_idp_client_t *client,
                          const char *endpoint, const char *what, const char *form, mcp_fetch_result_t *res,
                          const char **why);

#endif
