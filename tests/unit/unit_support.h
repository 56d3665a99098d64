/* Helpers the unit-test files share: keys, signed tokens, base64url, claims.
 * Everything they return is allocated in the pool they are given. */
#ifndef MCP_UNIT_SUPPORT_H
#define MCP_UNIT_SUPPORT_H

#include <stddef.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <cjose/cjose.h>
#include <openssl/evp.h>

#define ISSUER "https://idp.example.com/realms/master"
#define AUDIENCE "https://mcp.example.com/mcp"

/* ---- signing helpers: cjose mints, the validator must judge ---- */

typedef struct test_key {
    cjose_jwk_t *jwk;
    const char *kid;
    const char *alg;
} test_key_t;

/* A fresh key for alg (ES256/ES384/ES512 make EC keys, anything else RSA-2048). */
test_key_t make_key(const char *kid, const char *alg);

/* The JWKS document of the public halves of n keys. */
const char *jwks_of(apr_pool_t *pool, test_key_t *keys, int n);

/* A compact JWS of payload by k (its alg, and kid unless NULL); typ is set
 * to header_extra unless NULL. */
const char *sign(apr_pool_t *pool, const test_key_t *k, const char *header_extra, const char *payload);

const char *b64url(apr_pool_t *pool, const char *raw);
const char *b64url_bytes(apr_pool_t *pool, const unsigned char *raw, size_t len);

/* ---- Ed25519 (RFC 8037): cjose 0.6.2 makes no OKP keys, OpenSSL does ---- */

const char *raw_public_b64url(apr_pool_t *pool, EVP_PKEY *k);

/* An OKP JWK; crv or x NULL leaves the member out, extra is appended as is. */
const char *okp_jwk(apr_pool_t *pool, const char *kid, const char *crv, const char *x, const char *extra);

/* A claims set for ISSUER and AUDIENCE, subject alice, expiring exp_offset
 * seconds from now, with extra members (a JSON fragment) unless NULL. */
const char *claims(apr_pool_t *pool, long exp_offset, const char *extra);

/* A list of one or two words (b NULL: one). */
apr_array_header_t *words(apr_pool_t *pool, const char *a, const char *b);

#endif
