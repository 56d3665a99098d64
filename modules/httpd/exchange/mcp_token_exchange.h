/* Tokens for the backend: MCPAuthTokenExchange trades the client's
 * validated token at the IdP (RFC 8693 token exchange, or Entra's
 * on-behalf-of flow) for one issued to the MCP server, and forwards that
 * instead; the MCP authorization spec forbids passing the client's own
 * token on ("Token Passthrough"). */
#ifndef MCP_TOKEN_EXCHANGE_H
#define MCP_TOKEN_EXCHANGE_H

#include <httpd.h>
#include <http_config.h>

#include "mcp_config.h"
#include "mcp_exchange.h"

typedef struct mcp_exchange_conf {
    int on;                         /* 0: MCPAuthTokenExchange Off */
    mcp_exchange_target_t target;
    int grant_set;                  /* grant= given; else by MCPAuthProvider */
    const char *header;             /* the header the new token goes in */
    const char *endpoint;           /* the token endpoint, or NULL: the issuer's discovery */
} mcp_exchange_conf_t;

/* MCPAuthTokenExchange Off | On | [On] KEY=VALUE ... */
const char *mcp_token_exchange_directive(cmd_parms *cmd, void *confv, int argc, char *const argv[]);

/* Whether conf exchanges tokens. */
int mcp_token_exchange_on(const mcp_dir_conf_t *conf);

/* Startup: what is missing for conf's exchange (a client, a scope for
 * on-behalf-of), or NULL. */
const char *mcp_token_exchange_problem(apr_pool_t *pool, const mcp_dir_conf_t *conf);

/* Removes a client's own copy of the header the exchanged token goes in,
 * on every path: the backend trusts it. */
void mcp_token_exchange_scrub(request_rec *r, const mcp_dir_conf_t *conf);

/* Trades token (validated) for the backend's and sets it on r. OK, or the
 * status of a refusal already set up: 403 when the IdP refused, 503 when
 * it could not be asked. */
int mcp_token_exchange(request_rec *r, const mcp_dir_conf_t *conf, const char *token, apr_size_t len);

#endif
