/* Strict base64url checks (RFC 7515 §2). Decoding is left to APR and
 * OpenSSL; this unit only decides what may reach them. */

#include <apr_encode.h>

#include "mcp_b64url.h"

/* Each byte's value in the base64url alphabet, -1 outside it: a token's
 * every character passes here on every request, so a lookup, not tests. */
static const signed char b64url_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

int mcp_b64url_is_strict(const char *s, apr_size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    int last;

    if (len == 0 || len % 4 == 1)
        return 0;
    for (; p < end; p++) {
        if (b64url_values[*p] < 0)
            return 0;
    }
    last = b64url_values[(unsigned char)s[len - 1]];
    if (len % 4 == 2)
        return (last & 0x0f) == 0;
    if (len % 4 == 3)
        return (last & 0x03) == 0;
    return 1;
}

#define DECODE_FLAGS (APR_ENCODE_BASE64URL | APR_ENCODE_RELAXED)

unsigned char *mcp_b64url_decode(apr_pool_t *pool, const char *s, apr_size_t len, apr_size_t *out_len)
{
    unsigned char *out;

    /* checked strictly here, so APR's relaxed mode (not constant time: a
     * token is no secret to its bearer) decodes exactly the same */
    if (!mcp_b64url_is_strict(s, len))
        return NULL;
    /* unpadded and strict: the size is known without a sizing pass */
    out = apr_palloc(pool, len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) + 1);
    if (apr_decode_base64_binary(out, s, (apr_ssize_t)len, DECODE_FLAGS, out_len) != APR_SUCCESS)
        return NULL;
    out[*out_len] = '\0';
    return out;
}
