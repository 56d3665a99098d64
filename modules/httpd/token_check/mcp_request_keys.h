/* The issuer's metadata and signing keys as a request needs them: the
 * location's configuration turned into docstore look-ups. */
#ifndef MCP_REQUEST_KEYS_H
#define MCP_REQUEST_KEYS_H

#include <httpd.h>

#include "mcp_config.h"
#include "mcp_discovery.h"
#include "mcp_jwks.h"

/* child_init: the per-process memory of where discovery documents were found. */
void mcp_request_keys_child_init(apr_pool_t *pchild);

/* The IdP's discovery document for the location, or NULL + *err. */
const mcp_discovery_t *mcp_idp_metadata(request_rec *r, const mcp_dir_conf_t *conf,
                                        const char **err);

/* The key set for conf; *generation identifies this copy of it. force asks
 * for a throttled refetch (an unknown kid). NULL after logging why. */
const mcp_keyset_t *mcp_keys_for(request_rec *r, const mcp_dir_conf_t *conf, int force,
                                 apr_time_t *generation);

/* For the status page: the docstore parser of key sets, and where the
 * issuer's metadata may be, best first (the URL that answered last in this
 * process, RFC 8414, OpenID Connect); returns how many, and the issuer the
 * documents must name. */
void *mcp_parse_jwks(apr_pool_t *pool, const char *body, apr_size_t len, const void *ctx,
                     const char **err);
int mcp_discovery_candidates(request_rec *r, const mcp_dir_conf_t *conf, const char **urls,
                             const char **issuer);

#endif
