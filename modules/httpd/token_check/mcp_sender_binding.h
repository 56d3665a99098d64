/* Sender-constrained tokens: a token bound to a key is taken only with a
 * DPoP proof of that key for this request (RFC 9449), a token bound to a
 * certificate only over TLS with that client certificate (RFC 8705). */
#ifndef MCP_SENDER_BINDING_H
#define MCP_SENDER_BINDING_H

#include <httpd.h>

#include "mcp_config.h"
#include "mcp_jwt.h"
#include "mcp_presentation.h"

typedef enum {
    MCP_SENDER_OK,
    MCP_SENDER_REFUSED,       /* 401; *error says which: invalid_token, invalid_dpop_proof */
    MCP_SENDER_NONCE,         /* 401 use_dpop_nonce, a DPoP-Nonce header set */
    MCP_SENDER_UNAVAILABLE    /* replay cannot be checked now: 503 */
} mcp_sender_t;

/* Whether the verified token may be used by this sender. On REFUSED and
 * NONCE, *why and *error are for the client's challenge. A proof accepted
 * once is remembered in presented, so that a request derived from this one
 * (an internal redirect judged by another location) does not see it as
 * replayed. */
mcp_sender_t mcp_sender_check(request_rec *r, const mcp_dir_conf_t *conf, mcp_presented_t *presented,
                              const mcp_jwt_t *jwt, const char **why, const char **error);

/* Where a DPoP nonce is asked for: a fresh one, for DPoP-Nonce headers. */
const char *mcp_dpop_nonce_new(request_rec *r);

#endif
