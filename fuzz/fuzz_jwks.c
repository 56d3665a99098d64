/* libFuzzer target: the input is a JWKS document given to mcp_jwks_parse. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "mcp_jwks.h"

static const char *const alg_names[] = { "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                         "ES256", "ES384", "ES512", "EdDSA", "Ed25519" };

FUZZ_INIT_APR_ONLY

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_subpool();
    const char *err = NULL;
    mcp_keyset_t *set;
    int i;
    size_t a;

#ifdef FUZZ_SKIP_KNOWN
    /* known module bug (fuzz/crashes/jwks-*): a key member with '=' after
     * 1 mod 4 base64url characters reaches cjose's decoder, which asserts */
    if (memchr(data, '=', size) != NULL) {
        apr_pool_destroy(pool);
        return 0;
    }
#endif
    /* The raw input buffer, not NUL-terminated: any read past len is caught. */
    set = mcp_jwks_parse(pool, (const char *)data, size, &err);
    if (set == NULL) {
        FUZZ_CHECK(err != NULL);
    }
    else {
        FUZZ_CHECK(set->pool == pool && set->keys->nelts > 0);
        for (i = 0; i < set->keys->nelts; i++) {
            const mcp_key_t *k = &APR_ARRAY_IDX(set->keys, i, mcp_key_t);

            /* cjose reads RSA and EC keys; OKP (Ed25519) ones only OpenSSL */
            FUZZ_CHECK(k->kty == MCP_KTY_RSA || k->kty == MCP_KTY_EC || k->kty == MCP_KTY_OKP);
            FUZZ_CHECK((k->jwk != NULL) == (k->kty != MCP_KTY_OKP));
            FUZZ_CHECK(k->pkey != NULL);
            if (k->kty == MCP_KTY_OKP)
                FUZZ_CHECK(EVP_PKEY_is_a(k->pkey, "ED25519"));
            if (k->kty == MCP_KTY_EC)
                FUZZ_CHECK(k->ec_bits == 256 || k->ec_bits == 384 || k->ec_bits == 521);
            if (k->alg != NULL)
                FUZZ_CHECK(k->alg->kty == k->kty);
            for (a = 0; a < sizeof(alg_names) / sizeof(alg_names[0]); a++) {
                const mcp_alg_t *alg = mcp_alg_lookup(alg_names[a]);

                FUZZ_CHECK(alg != NULL);
                if (mcp_key_fits(k, alg))
                    FUZZ_CHECK(alg->kty == k->kty && (k->alg == NULL || k->alg == alg));
            }
        }
        for (i = 0; i < set->skipped->nelts; i++)
            FUZZ_CHECK(APR_ARRAY_IDX(set->skipped, i, const char *) != NULL);
    }
    /* releases the cjose keys and everything else; LSan reports what is left */
    apr_pool_destroy(pool);
    return 0;
}
