/* Bearer challenges and error bodies (RFC 6750 §3, RFC 9728 §5.1). */
#ifndef MCP_CHALLENGE_H
#define MCP_CHALLENGE_H

#include <apr_pools.h>

typedef struct mcp_challenge {
    const char *resource_metadata;  /* absolute PRM URL; always sent */
    const char *error;              /* NULL when the request had no credentials (§3.1) */
    const char *description;
    const char *scope;
    /* DPoP (RFC 9449 §7.1): the algs proofs may use where the location takes
     * DPoP-bound tokens, else NULL (no DPoP challenge) */
    const char *dpop_algs;
    int no_bearer;        /* DPoP required: no Bearer challenge */
    int error_in_dpop;    /* the error concerns a DPoP presentation */
} mcp_challenge_t;

/* The WWW-Authenticate value: a Bearer challenge, a DPoP one, or both, the
 * error in the one of the scheme the client used. Parameter values are
 * reduced to the characters RFC 6750 §3 allows, so no attacker-controlled
 * byte can break the header. */
const char *mcp_challenge_header(apr_pool_t *pool, const mcp_challenge_t *c);

/* A small JSON body for an error response. */
const char *mcp_challenge_body(apr_pool_t *pool, const mcp_challenge_t *c);

#endif
