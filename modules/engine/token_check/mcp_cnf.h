/* Confirmation claims (RFC 7800 "cnf"): what a sender-constrained access
 * token is bound to, a DPoP key (RFC 9449 §6) or a TLS client certificate
 * (RFC 8705 §3), and the certificate's thumbprint to compare. */
#ifndef MCP_CNF_H
#define MCP_CNF_H

#include <apr_pools.h>
#include <jansson.h>

typedef enum {
    MCP_CNF_NONE,      /* no cnf claim: a bearer token */
    MCP_CNF_DPOP,      /* cnf.jkt */
    MCP_CNF_MTLS,      /* cnf.x5t#S256 */
    MCP_CNF_UNKNOWN    /* a cnf this module cannot check: never accepted */
} mcp_cnf_kind_t;

/* What claims binds the token to; *value is the jkt or x5t#S256. A cnf
 * with both is UNKNOWN: one token, one sender constraint. */
mcp_cnf_kind_t mcp_cnf_of(json_t *claims, const char **value);

/* RFC 8705 §3.1: base64url SHA-256 of the DER of a PEM certificate; NULL
 * when pem is not one certificate. */
const char *mcp_cert_thumbprint(apr_pool_t *pool, const char *pem);

#endif
