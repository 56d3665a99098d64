/* libFuzzer target: the input is a DPoP header given to mcp_dpop_check
 * (RFC 9449 §4.3), and a URL compared with itself and the request's. */
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>

#include "fuzz_common.h"
#include "mcp_dpop.h"

FUZZ_INIT_APR_ONLY

#define URL "https://mcp.example.com/mcp"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_subpool();
    mcp_dpop_expect_t want = { "POST", URL, NULL, TOKEN, sizeof(TOKEN) - 1, 1800000000.0, 60, 60 };
    mcp_dpop_proof_t proof;
    const char *err = NULL;
    char *text = apr_pstrmemdup(pool, (const char *)data, size);

#ifdef FUZZ_SKIP_KNOWN
    /* known module bug (fuzz/crashes/jwks-*): a jwk member with '=' after
     * 1 mod 4 base64url characters reaches cjose's decoder, which asserts */
    if (memchr(data, '=', size) != NULL) {
        apr_pool_destroy(pool);
        return 0;
    }
#endif
    /* the raw input, not NUL-terminated: any read past len is caught */
    if (mcp_dpop_check(pool, (const char *)data, size, &want, &proof, &err)) {
        FUZZ_CHECK(proof.jkt != NULL && strlen(proof.jkt) == 43);
        FUZZ_CHECK(proof.jti != NULL && *proof.jti && strlen(proof.jti) <= MCP_DPOP_MAX_JTI);
        FUZZ_CHECK(proof.alg != NULL);
        FUZZ_CHECK(proof.iat <= want.now + want.leeway && proof.iat >= want.now - want.lifetime - want.leeway);
    }
    else {
        FUZZ_CHECK(err != NULL && *err);
    }
    /* a URL that names anything names itself; it names the request's URL
     * only if it is one of its spellings */
    if (strlen(text) == size && mcp_dpop_url_matches(pool, text, URL))
        FUZZ_CHECK(mcp_dpop_url_matches(pool, text, text) && mcp_dpop_url_matches(pool, URL, text));
    apr_pool_destroy(pool);
    return 0;
}
