/* DPoP proofs (RFC 9449) as a resource server checks them: the proof JWT,
 * its key and the request it was made for. Replay (jti) and server nonces
 * need state shared across processes, and are the caller's. */
#ifndef MCP_DPOP_H
#define MCP_DPOP_H

#include <apr_pools.h>
#include <jansson.h>

/* A proof is a small JWT; anything larger is hostile. */
#define MCP_DPOP_MAX_LEN (8 * 1024)
/* jti values longer than this are refused (they become cache ids). */
#define MCP_DPOP_MAX_JTI 256

/* The request a proof must be made for. */
typedef struct mcp_dpop_expect {
    const char *method;          /* htm */
    const char *url;             /* htu: this request's URL; query and fragment are ignored */
    const char *alt_url;         /* another name of it (by MCPAuthResource), or NULL */
    const char *token;           /* the access token presented with the proof (ath) */
    apr_size_t token_len;
    double now;                  /* seconds since the epoch */
    int lifetime;                /* seconds a proof counts after its iat */
    int leeway;                  /* seconds of clock skew either way */
} mcp_dpop_expect_t;

/* What a valid proof says, for the binding and replay checks. */
typedef struct mcp_dpop_proof {
    const char *jkt;     /* RFC 7638 SHA-256 thumbprint of the proof key, base64url */
    const char *jti;
    const char *nonce;   /* NULL when the proof carries none */
    const char *alg;
    double iat;
} mcp_dpop_proof_t;

/* Checks a proof (RFC 9449 §4.3): a compact JWS of typ dpop+jwt, an
 * asymmetric alg this module verifies, a public key in jwk that verifies it,
 * jti, htm and htu for this request, iat within the lifetime, ath of the
 * token. 1 and *out filled, or 0 with *err, a reason fit for a client. */
int mcp_dpop_check(apr_pool_t *pool, const char *proof, apr_size_t len, const mcp_dpop_expect_t *want,
                   mcp_dpop_proof_t *out, const char **err);

/* RFC 7638 SHA-256 thumbprint of a public JWK, base64url; NULL for a key
 * type without required members here (RSA, EC, OKP) or missing ones. */
const char *mcp_jwk_thumbprint(apr_pool_t *pool, json_t *jwk);

/* Whether htu names url, both normalised as RFC 9449 §4.3 asks (RFC 3986
 * §6.2.2 syntax and §6.2.3 scheme-based normalisation), query and fragment
 * ignored. */
int mcp_dpop_url_matches(apr_pool_t *pool, const char *htu, const char *url);

/* base64url SHA-256 of bytes: ath (RFC 9449 §4.2), thumbprints. */
const char *mcp_sha256_b64url(apr_pool_t *pool, const void *bytes, apr_size_t len);

/* The algorithms proofs may use, space-separated (challenges' algs,
 * dpop_signing_alg_values_supported), and as a JSON array. */
const char *mcp_dpop_algs(void);
json_t *mcp_dpop_algs_json(void);

#endif
