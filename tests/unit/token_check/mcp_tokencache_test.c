/* Unit tests of mcp_tokencache: the per-process memory of signature checks:
 * sets, key-set copies, the byte budget. */

#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "mcp_jwks.h"
#include "mcp_jwt.h"
#include "mcp_tokencache.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

static apr_pool_t *pool;

/* A cache key whose first bytes (which pick the set) are `set_bits`. */
static void tc_key(unsigned char key[MCP_TOKENCACHE_KEY_LEN], unsigned set_bits, unsigned char tag)
{
    memset(key, tag, MCP_TOKENCACHE_KEY_LEN);
    memcpy(key, &set_bits, sizeof(set_bits));
}

static mcp_jwt_t *tc_token(long exp_offset)
{
    json_t *payload = json_loads(claims(pool, exp_offset, NULL), 0, NULL);

    return mcp_jwt_verified(pool, payload, "RS256", "k1", NULL);
}

static void test_tokencache(void)
{
    mcp_tokencache_t *tc;
    unsigned char k[5][MCP_TOKENCACHE_KEY_LEN], other[MCP_TOKENCACHE_KEY_LEN];
    mcp_jwt_t *jwt = NULL;
    int i, kept = 0;

    /* 8 slots: with 0, 8, 16, 24 in front, a direct-mapped cache would put
     * all four keys in one slot */
    mcp_tokencache_create(&tc, pool, 8, 1024 * 1024);
    for (i = 0; i < 5; i++)
        tc_key(k[i], (unsigned)i * 8, (unsigned char)(i + 1));
    for (i = 0; i < 4; i++)
        mcp_tokencache_store_valid(tc, k[i], 1, tc_token(300), apr_time_from_sec(60));
    for (i = 0; i < 4; i++)
        kept += mcp_tokencache_lookup(tc, k[i], 1, pool, &jwt) == MCP_TC_VALID;
    CHECK(kept == 4, "four tokens that share a set are all remembered");
    CHECK(jwt && mcp_jwt_claims(jwt) && strcmp(mcp_jwt_kid(jwt), "k1") == 0 && strcmp(mcp_jwt_alg(jwt), "RS256") == 0,
          "a hit returns the verified claims, alg and kid");
    mcp_tokencache_store_valid(tc, k[4], 1, tc_token(300), apr_time_from_sec(60));
    CHECK(mcp_tokencache_lookup(tc, k[4], 1, pool, &jwt) == MCP_TC_MISS
              && mcp_tokencache_lookup(tc, k[0], 1, pool, &jwt) == MCP_TC_VALID,
          "a fifth token seen once does not push one out of a full set");
    /* their fingerprints (tags 10 to 59) leave the fifth's (5) in place */
    for (i = 0; i < 50; i++) {
        tc_key(other, 8 * (unsigned)(i + 5), (unsigned char)(10 + i));
        mcp_tokencache_store_bad(tc, other, 1, apr_time_from_sec(60));
    }
    kept = 0;
    for (i = 0; i < 4; i++)
        kept += mcp_tokencache_lookup(tc, k[i], 1, pool, &jwt) == MCP_TC_VALID;
    CHECK(kept == 4, "fifty forged tokens, each sent once, leave the remembered tokens in place");
    mcp_tokencache_store_valid(tc, k[4], 1, tc_token(300), apr_time_from_sec(60));
    CHECK(mcp_tokencache_lookup(tc, k[4], 1, pool, &jwt) == MCP_TC_VALID
              && mcp_tokencache_lookup(tc, k[0], 1, pool, &jwt) == MCP_TC_MISS
              && mcp_tokencache_lookup(tc, k[3], 1, pool, &jwt) == MCP_TC_VALID,
          "seen a second time, it replaces the one stored longest ago");
    CHECK(mcp_tokencache_lookup(tc, k[4], 2, pool, &jwt) == MCP_TC_MISS,
          "an entry of another key-set copy is void");
    tc_key(other, 1, 9);
    mcp_tokencache_store_bad(tc, other, 1, apr_time_from_sec(60));
    CHECK(mcp_tokencache_lookup(tc, other, 1, pool, &jwt) == MCP_TC_BAD_SIGNATURE,
          "a bad signature is remembered");
    tc_key(other, 3, 10);
    mcp_tokencache_store_valid(tc, other, 1, tc_token(-5), apr_time_from_sec(60));
    CHECK(mcp_tokencache_lookup(tc, other, 1, pool, &jwt) == MCP_TC_MISS,
          "an already expired token is not remembered");
}

static void test_tokencache_key(void)
{
    unsigned char a[MCP_TOKENCACHE_KEY_LEN], b[MCP_TOKENCACHE_KEY_LEN], a2[MCP_TOKENCACHE_KEY_LEN];
    int x, y;

    mcp_tokencache_key("tok", 3, &x, a);
    mcp_tokencache_key("tok", 3, &y, b);
    mcp_tokencache_key("tok", 3, &x, a2);
    CHECK(memcmp(a, b, sizeof(a)) != 0 && memcmp(a, a2, sizeof(a)) == 0,
          "token cache: the key depends on the key set it was checked against");
}

/* A verified token with a payload of about size bytes. */
static mcp_jwt_t *verified_of_size(const test_key_t *k, const mcp_keyset_t *set, apr_size_t size, int n)
{
    char *filler = apr_palloc(pool, size + 1);
    const char *tok, *err = NULL;
    mcp_jwt_t *jwt = NULL;

    memset(filler, 'x', size);
    filler[size] = '\0';
    tok = sign(pool, k, NULL, claims(pool, 300, apr_psprintf(pool, "\"n\":%d,\"pad\":\"%s\"", n, filler)));
    if (mcp_jwt_parse(pool, tok, strlen(tok), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err) != MCP_JWT_VALID
        || mcp_jwt_verify(jwt, set, &err) != MCP_JWT_VALID)
        return NULL;
    return jwt;
}

static void test_tokencache_budget(void)
{
    test_key_t k = make_key("rsa1", "RS256");
    const char *err = NULL, *jwks = jwks_of(pool, &k, 1);
    const mcp_keyset_t *set = mcp_jwks_parse(pool, jwks, strlen(jwks), &err);
    mcp_tokencache_t *tc;
    unsigned char key[MCP_TOKENCACHE_KEY_LEN];
    mcp_jwt_t *big = verified_of_size(&k, set, 9000, 0), *hit = NULL;
    int i, kept = 0;

    CHECK(big != NULL && mcp_jwt_payload_size(big) > 9000, "a signed 9 KB payload verifies and has its size");
    mcp_tokencache_create(&tc, pool, 64, 40 * 1024);
    tc_key(key, 1, 1);
    mcp_tokencache_store_valid(tc, key, 1, big, apr_time_from_sec(60));
    CHECK(mcp_tokencache_lookup(tc, key, 1, pool, &hit) == MCP_TC_VALID && hit
              && json_equal(mcp_jwt_claims(hit), mcp_jwt_claims(big)),
          "a large payload kept as text comes back with the same claims");
    CHECK(mcp_tokencache_bytes(tc) > 9000 && mcp_tokencache_bytes(tc) < 2 * 9000,
          "a large payload counts about its text size, not a tree's");
    for (i = 2; i < 40; i++) {
        tc_key(key, (unsigned)i, (unsigned char)i);
        mcp_tokencache_store_valid(tc, key, 1, verified_of_size(&k, set, 9000, i), apr_time_from_sec(60));
    }
    CHECK(mcp_tokencache_bytes(tc) <= 40 * 1024, "38 more large tokens never take the cache past its budget");
    for (i = 1; i < 40; i++) {
        tc_key(key, (unsigned)i, (unsigned char)i);
        kept += mcp_tokencache_lookup(tc, key, 1, pool, &hit) == MCP_TC_VALID;
    }
    CHECK(kept >= 3 && kept <= 4, apr_psprintf(pool, "as many as fit are remembered (%d)", kept));
    mcp_tokencache_create(&tc, pool, 64, 0);
    tc_key(key, 1, 1);
    mcp_tokencache_store_valid(tc, key, 1, big, apr_time_from_sec(60));
    CHECK(mcp_tokencache_lookup(tc, key, 1, pool, &hit) == MCP_TC_MISS && mcp_tokencache_bytes(tc) == 0,
          "a budget of 0 remembers nothing");
}

void mcp_tokencache_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_tokencache();
    test_tokencache_key();
    test_tokencache_budget();
    apr_pool_destroy(pool);
}
