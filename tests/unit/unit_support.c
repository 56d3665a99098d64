/* Helpers the unit-test files share (unit_support.h). */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "unit_support.h"

test_key_t make_key(const char *kid, const char *alg)
{
    test_key_t k;
    cjose_err err;
    static const uint8_t e[] = { 0x01, 0x00, 0x01 };

    k.kid = kid;
    k.alg = alg;
    if (alg[0] == 'E')
        k.jwk = cjose_jwk_create_EC_random(strcmp(alg, "ES256") == 0   ? CJOSE_JWK_EC_P_256
                                           : strcmp(alg, "ES384") == 0 ? CJOSE_JWK_EC_P_384
                                                                       : CJOSE_JWK_EC_P_521,
                                           &err);
    else
        k.jwk = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
    cjose_jwk_set_kid(k.jwk, kid, strlen(kid), &err);
    return k;
}

const char *jwks_of(apr_pool_t *pool, test_key_t *keys, int n)
{
    const char *out = "{\"keys\":[";
    cjose_err err;
    int i;

    for (i = 0; i < n; i++) {
        char *pub = cjose_jwk_to_json(keys[i].jwk, false, &err);
        out = apr_pstrcat(pool, out, i ? "," : "", pub, NULL);
        free(pub);
    }
    return apr_pstrcat(pool, out, "]}", NULL);
}

const char *sign(apr_pool_t *pool, const test_key_t *k, const char *header_extra, const char *payload)
{
    cjose_err err;
    cjose_header_t *hdr = cjose_header_new(&err);
    cjose_jws_t *jws;
    const char *compact, *copy;

    cjose_header_set(hdr, CJOSE_HDR_ALG, k->alg, &err);
    if (k->kid)
        cjose_header_set(hdr, CJOSE_HDR_KID, k->kid, &err);
    if (header_extra)
        cjose_header_set(hdr, "typ", header_extra, &err);
    jws = cjose_jws_sign(k->jwk, hdr, (const uint8_t *)payload, strlen(payload), &err);
    cjose_jws_export(jws, &compact, &err);
    copy = apr_pstrdup(pool, compact);
    cjose_jws_release(jws);
    cjose_header_release(hdr);
    return copy;
}

const char *b64url(apr_pool_t *pool, const char *raw)
{
    return b64url_bytes(pool, (const unsigned char *)raw, strlen(raw));
}

const char *b64url_bytes(apr_pool_t *pool, const unsigned char *raw, size_t len)
{
    char *out;
    size_t out_len;
    cjose_err err;
    const char *copy;

    cjose_base64url_encode(raw, len, &out, &out_len, &err);
    copy = apr_pstrmemdup(pool, out, out_len);
    free(out);
    return copy;
}

const char *raw_public_b64url(apr_pool_t *pool, EVP_PKEY *k)
{
    unsigned char raw[64];
    size_t len = sizeof(raw);

    EVP_PKEY_get_raw_public_key(k, raw, &len);
    return b64url_bytes(pool, raw, len);
}

const char *okp_jwk(apr_pool_t *pool, const char *kid, const char *crv, const char *x, const char *extra)
{
    return apr_pstrcat(pool, "{\"kty\":\"OKP\",\"kid\":\"", kid, "\"",
                       crv ? ",\"crv\":\"" : "", crv ? crv : "", crv ? "\"" : "",
                       x ? ",\"x\":\"" : "", x ? x : "", x ? "\"" : "",
                       extra ? "," : "", extra ? extra : "", "}", NULL);
}

const char *claims(apr_pool_t *pool, long exp_offset, const char *extra)
{
    long now = (long)apr_time_sec(apr_time_now());

    return apr_psprintf(pool,
                        "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\",\"sub\":\"alice\","
                        "\"exp\":%ld,\"iat\":%ld%s%s}",
                        now + exp_offset, now - 10, extra ? "," : "", extra ? extra : "");
}

apr_array_header_t *words(apr_pool_t *pool, const char *a, const char *b)
{
    apr_array_header_t *list = apr_array_make(pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(list, const char *) = a;
    if (b)
        APR_ARRAY_PUSH(list, const char *) = b;
    return list;
}
