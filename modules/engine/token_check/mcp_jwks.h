/* JSON Web Key Sets (RFC 7517) reduced to the keys this module will verify with. */
#ifndef MCP_JWKS_H
#define MCP_JWKS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/evp.h>

/* OKP keys (RFC 8037 §2) are Ed25519 only: the other OKP curves are for
 * key agreement (X25519, X448) or not offered (Ed448). */
typedef enum { MCP_KTY_RSA, MCP_KTY_EC, MCP_KTY_OKP } mcp_kty_t;

/* A JWS algorithm this module accepts (RFC 7518 §3.1, RFC 8037 §3.1, and
 * RFC 9864's fully-specified "Ed25519"). "none" and the HMAC family are
 * deliberately absent: a public JWKS makes any MAC key public. */
typedef struct mcp_alg {
    const char *name;
    mcp_kty_t kty;
    int ec_bits;          /* EC curve size for ES*, 0 otherwise */
    unsigned sig_len;     /* fixed length: R||S for ES* (RFC 7518 §3.4), 64 for
                           * Ed25519 (RFC 8032 §5.1.6); 0 otherwise */
    const char *digest;   /* OpenSSL name of the hash; NULL for EdDSA, which
                           * signs the input itself (RFC 8037 §3.1) */
    int pss;              /* RSASSA-PSS (RFC 7518 §3.5) rather than PKCS#1 v1.5 */
    int index;            /* 0 .. MCP_ALG_COUNT-1 */
} mcp_alg_t;

#define MCP_ALG_COUNT 11

const mcp_alg_t *mcp_alg_lookup(const char *name);
const mcp_alg_t *mcp_alg_at(int index);   /* index < MCP_ALG_COUNT */

typedef struct mcp_key {
    const char *kid;          /* NULL when the JWK has none */
    mcp_kty_t kty;
    int ec_bits;              /* curve size for EC keys */
    const mcp_alg_t *alg;     /* the JWK's own "alg" pin, or NULL */
    cjose_jwk_t *jwk;         /* cjose's reading of the key, which vouches for its
                               * material; NULL for OKP, which cjose 0.6.2 cannot read */
    EVP_PKEY *pkey;           /* the same key for OpenSSL; immutable, shared by all threads */
    /* Per alg the key fits: a context already set up to verify (hash, padding).
     * Setting one up costs about a third of an RSA verification, so a
     * thread duplicates the template once and reuses its copy; templates
     * are only read. None for EdDSA: its check is one EVP_DigestVerify on pkey. */
    EVP_PKEY_CTX *verifier[MCP_ALG_COUNT];
    apr_uint64_t serial;      /* unique in the process, never reused: names the
                               * key where its address may come back for another */
} mcp_key_t;

typedef struct mcp_keyset {
    apr_pool_t *pool;             /* owns everything, releases the cjose keys */
    apr_array_header_t *keys;     /* of mcp_key_t */
    apr_array_header_t *skipped;  /* of const char *: why a JWK was left out */
} mcp_keyset_t;

/* Parses a JWKS document into pool. Keys that cannot be used for signature
 * verification (oct, use=enc, RSA < 2048 bits, unknown alg, OKP other than
 * Ed25519, ...) are skipped
 * and noted. Returns NULL with *err set when the document is not a JWKS or
 * holds no usable key: such a document must never replace a good one. */
mcp_keyset_t *mcp_jwks_parse(apr_pool_t *pool, const char *json, apr_size_t len,
                             const char **err);

/* One JWK (a JSON object) as a key set of that key alone, by the rules of
 * mcp_jwks_parse; NULL with *err when it cannot verify signatures. */
mcp_keyset_t *mcp_jwk_keyset(apr_pool_t *pool, json_t *jwk, const char **err);

/* Whether key may verify a signature made with alg (RFC 8725 §3.1). */
int mcp_key_fits(const mcp_key_t *key, const mcp_alg_t *alg);

#endif
