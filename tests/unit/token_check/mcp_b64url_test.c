/* Unit tests of mcp_b64url: base64url as JOSE uses it (RFC 7515 §2),
 * strictly. */

#include <string.h>

#include <apr_encode.h>

#include "mcp_b64url.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_b64url(void)
{
    CHECK(mcp_b64url_is_strict("eyJhbGciOiJSUzI1NiJ9", 20), "base64url: a JOSE header passes");
    CHECK(!mcp_b64url_is_strict("eyJhbGciOiJSUzI1NiJ9==", 22), "base64url: padding is refused");
    CHECK(!mcp_b64url_is_strict("ab+/", 4), "base64url: the base64 alphabet's + and / are refused");
    CHECK(!mcp_b64url_is_strict("QR", 2), "base64url: non-zero unused bits are refused");
    CHECK(mcp_b64url_is_strict("QQ", 2), "base64url: zero unused bits pass");
    CHECK(!mcp_b64url_is_strict("QUFBQ", 5), "base64url: a length of 1 mod 4 is refused");
    CHECK(!mcp_b64url_is_strict("", 0), "base64url: empty is refused");
    CHECK(!mcp_b64url_is_strict("QU\0B", 4), "base64url: a NUL inside is refused");
}

/* Every length from 0 to 300 bytes, each byte value in every position:
 * what an encoder writes comes back exactly, and nothing strictness
 * refuses is decoded. */
static void test_decode(void)
{
    unsigned char raw[300];
    apr_size_t n, i, enc_len, out_len;
    int round_trips = 1;

    for (n = 1; n < sizeof(raw); n++) {
        for (i = 0; i < n; i++)
            raw[i] = (unsigned char)((n * 131 + i * 29) & 0xff);
        const char *enc = apr_pencode_base64_binary(pool, raw, (apr_ssize_t)n, APR_ENCODE_BASE64URL, &enc_len);
        const unsigned char *out = mcp_b64url_decode(pool, enc, enc_len, &out_len);
        if (out == NULL || out_len != n || memcmp(out, raw, n) != 0 || out[n] != '\0')
            round_trips = 0;
    }
    CHECK(round_trips, "base64url decode: 1 to 299 bytes come back exactly, NUL-terminated");
    CHECK(mcp_b64url_decode(pool, "YQ==", 4, &out_len) == NULL, "base64url decode: padding is refused");
    CHECK(mcp_b64url_decode(pool, "Y+Q", 3, &out_len) == NULL, "base64url decode: + is refused");
    CHECK(mcp_b64url_decode(pool, "QR", 2, &out_len) == NULL, "base64url decode: non-zero unused bits are refused");
    CHECK(mcp_b64url_decode(pool, "", 0, &out_len) == NULL, "base64url decode: empty is refused");
    CHECK(mcp_b64url_decode(pool, "YWJj.", 4, &out_len) != NULL && out_len == 3,
          "base64url decode: only the length given is read");
}

void mcp_b64url_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_b64url();
    test_decode();
    apr_pool_destroy(pool);
}
