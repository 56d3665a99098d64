/* Unit tests of mcp_jwks: the keys of a JWKS (RFC 7517) kept for
 * verification, and why the others are skipped. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "mcp_jwks.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

static apr_pool_t *pool;

/* Why the key with this kid was skipped, or "" when it was not. */
static const char *skip_reason(const mcp_keyset_t *set, const char *kid)
{
    const char *tag = apr_psprintf(pool, "(kid %s): ", kid), *at;
    int i;

    for (i = 0; i < set->skipped->nelts; i++) {
        if ((at = strstr(APR_ARRAY_IDX(set->skipped, i, const char *), tag)) != NULL)
            return at + strlen(tag);
    }
    return "";
}

static void test_okp_keys(void)
{
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    const char *x = raw_public_b64url(pool, ed), *err = NULL, *doc;
    unsigned char raw[33], priv[32];
    size_t priv_len = sizeof(priv);
    const mcp_keyset_t *set;
    int i, okp_usable = 1;
    static const struct {
        const char *kid, *reason, *what;
    } skips[] = {
        { "ed448", "OKP curve is not Ed25519", "Ed448 key skipped: curve" },
        { "x25519", "OKP curve is not Ed25519", "X25519 key skipped: curve" },
        { "x448", "OKP curve is not Ed25519", "X448 key skipped: curve" },
        { "p256", "OKP curve is not Ed25519", "OKP key on P-256 skipped: curve" },
        { "no-crv", "OKP curve is not Ed25519", "OKP key without crv skipped" },
        { "no-x", "Ed25519 x is missing or not 32 bytes", "Ed25519 key without x skipped" },
        { "short-x", "Ed25519 x is missing or not 32 bytes", "Ed25519 key with a 31-byte x skipped" },
        { "long-x", "Ed25519 x is missing or not 32 bytes", "Ed25519 key with a 33-byte x skipped" },
        { "padded-x", "a key member is not strict base64url", "Ed25519 x with padding skipped" },
        { "x-number", "a key member is not strict base64url", "Ed25519 x as a number skipped" },
        { "with-d", "OKP key publishes its private part (d)", "Ed25519 key published with its private part skipped" },
        { "use-enc", "use is not sig", "Ed25519 key with use enc skipped" },
        { "alg-es256", "alg is not an accepted signature algorithm for this key type",
          "Ed25519 key pinned to ES256 skipped" },
        { "alg-rs256", "alg is not an accepted signature algorithm for this key type",
          "Ed25519 key pinned to RS256 skipped" },
        { "ec-ed25519", "unsupported EC curve", "EC key naming curve Ed25519 skipped" },
    };

    memset(raw, 0x5a, sizeof(raw));
    EVP_PKEY_get_raw_private_key(ed, priv, &priv_len);
    doc = apr_pstrcat(pool, "{\"keys\":[",
                      okp_jwk(pool, "ed", "Ed25519", x, "\"use\":\"sig\""), ",",
                      okp_jwk(pool, "ed-eddsa", "Ed25519", x, "\"alg\":\"EdDSA\""), ",",
                      okp_jwk(pool, "ed-ed25519", "Ed25519", x, "\"alg\":\"Ed25519\""), ",",
                      okp_jwk(pool, "ed448", "Ed448", raw_public_b64url(pool, ed448), NULL), ",",
                      okp_jwk(pool, "x25519", "X25519", raw_public_b64url(pool, x25519), NULL), ",",
                      okp_jwk(pool, "x448", "X448", b64url_bytes(pool, raw, 33), NULL), ",",
                      okp_jwk(pool, "p256", "P-256", x, NULL), ",",
                      okp_jwk(pool, "no-crv", NULL, x, NULL), ",",
                      okp_jwk(pool, "no-x", "Ed25519", NULL, NULL), ",",
                      okp_jwk(pool, "short-x", "Ed25519", b64url_bytes(pool, raw, 31), NULL), ",",
                      okp_jwk(pool, "long-x", "Ed25519", b64url_bytes(pool, raw, 33), NULL), ",",
                      okp_jwk(pool, "padded-x", "Ed25519", apr_pstrcat(pool, x, "=", NULL), NULL), ",",
                      okp_jwk(pool, "x-number", "Ed25519", NULL, "\"x\":7"), ",",
                      okp_jwk(pool, "with-d", "Ed25519", x,
                              apr_pstrcat(pool, "\"d\":\"", b64url_bytes(pool, priv, priv_len), "\"", NULL)), ",",
                      okp_jwk(pool, "use-enc", "Ed25519", x, "\"use\":\"enc\""), ",",
                      okp_jwk(pool, "alg-es256", "Ed25519", x, "\"alg\":\"ES256\""), ",",
                      okp_jwk(pool, "alg-rs256", "Ed25519", x, "\"alg\":\"RS256\""), ",",
                      "{\"kty\":\"EC\",\"kid\":\"ec-ed25519\",\"crv\":\"Ed25519\",\"x\":\"", x, "\"}",
                      "]}", NULL);
    set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
    CHECK(set != NULL && set->keys->nelts == 3 && set->skipped->nelts == 15,
          "Ed25519 keys kept (plain, pinned to EdDSA, pinned to Ed25519), 15 hostile OKP keys skipped");
    if (set == NULL)
        return;
    for (i = 0; i < set->keys->nelts; i++) {
        const mcp_key_t *key = &APR_ARRAY_IDX(set->keys, i, mcp_key_t);
        okp_usable = okp_usable && key->kty == MCP_KTY_OKP && key->jwk == NULL && key->pkey != NULL
                     && EVP_PKEY_is_a(key->pkey, "ED25519");
    }
    CHECK(okp_usable, "an Ed25519 key is built by OpenSSL alone (no cjose key)");
    for (i = 0; i < (int)(sizeof(skips) / sizeof(skips[0])); i++)
        CHECK(strcmp(skip_reason(set, skips[i].kid), skips[i].reason) == 0, skips[i].what);
    doc = apr_pstrcat(pool, "{\"keys\":[", okp_jwk(pool, "x25519", "X25519", raw_public_b64url(pool, x25519), NULL), "]}", NULL);
    CHECK(mcp_jwks_parse(pool, doc, strlen(doc), &err) == NULL && strstr(err, "no usable signing key") != NULL,
          "a set of only an X25519 key is unusable");
    EVP_PKEY_free(ed);
    EVP_PKEY_free(ed448);
    EVP_PKEY_free(x25519);
}

static void test_jwks(void)
{
    const char *err = NULL;
    const mcp_keyset_t *set;
    const char *doc;

    set = mcp_jwks_parse(pool, "[]", 2, &err);
    CHECK(set == NULL && err, "a JSON array is not a JWKS");
    set = mcp_jwks_parse(pool, "{\"keys\":[]}", 11, &err);
    CHECK(set == NULL, "an empty key list is unusable");
    set = mcp_jwks_parse(pool, "<html>", 6, &err);
    CHECK(set == NULL, "HTML is not a JWKS");
    /* found by fuzz_jwks: cjose aborts on "=" after 1 mod 4 characters */
    doc = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"abcde=\",\"e\":\"AQAB\"}]}";
    set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
    CHECK(set == NULL, "RSA modulus with padding refused before cjose sees it");
    doc = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"abcde=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"y\":\"AA\"}]}";
    set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
    CHECK(set == NULL, "EC coordinate with padding refused before cjose sees it");
    {
        /* a P-256 public key with its coordinates swapped: a point off the curve */
        cjose_err cerr;
        cjose_jwk_t *ec = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &cerr);
        char *ec_json = cjose_jwk_to_json(ec, false, &cerr);
        json_t *jwk = json_loads(ec_json, 0, NULL), *x = json_incref(json_object_get(jwk, "x"));

        json_object_set(jwk, "x", json_object_get(jwk, "y"));
        json_object_set_new(jwk, "y", x);
        err = NULL;
        CHECK(mcp_jwk_keyset(pool, jwk, &err) == NULL && err
                  && strcmp(err, "not a usable EC key (is the point on the curve?)") == 0,
              apr_psprintf(pool, "an EC point off its curve: refused as such, in words of ours (%s)", err ? err : "accepted"));
        json_decref(jwk);
        free(ec_json);
        cjose_jwk_release(ec);
    }
    doc = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\",\"kid\":\"hmac\"}]}";
    set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
    CHECK(set == NULL, "oct keys are never used");
    {
        static const uint8_t e[] = { 0x01, 0x00, 0x01 };
        cjose_err cerr;
        cjose_jwk_t *big = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &cerr);
        cjose_jwk_t *small = cjose_jwk_create_RSA_random(1024, e, sizeof(e), &cerr);
        char *big_json = cjose_jwk_to_json(big, false, &cerr);
        char *small_json = cjose_jwk_to_json(small, false, &cerr);
        json_t *enc = json_loads(big_json, 0, NULL);
        char *enc_json;

        doc = apr_pstrcat(pool, "{\"keys\":[", big_json, "]}", NULL);
        set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
        CHECK(set != NULL && set->keys->nelts == 1, "RSA-2048 key accepted");
        doc = apr_pstrcat(pool, "{\"keys\":[", small_json, "]}", NULL);
        set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
        CHECK(set == NULL, "RSA-1024 key refused");
        json_object_set_new(enc, "use", json_string("enc"));
        enc_json = json_dumps(enc, JSON_COMPACT);
        doc = apr_pstrcat(pool, "{\"keys\":[", enc_json, "]}", NULL);
        set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
        CHECK(set == NULL, "use=enc key is not used for signatures");
        json_object_set_new(enc, "use", json_string("sig"));
        json_object_set_new(enc, "alg", json_string("ES256"));
        free(enc_json);
        enc_json = json_dumps(enc, JSON_COMPACT);
        doc = apr_pstrcat(pool, "{\"keys\":[", enc_json, "]}", NULL);
        set = mcp_jwks_parse(pool, doc, strlen(doc), &err);
        CHECK(set == NULL, "RSA key pinned to an EC algorithm refused");
        free(enc_json);
        json_decref(enc);
        free(big_json);
        free(small_json);
        cjose_jwk_release(big);
        cjose_jwk_release(small);
    }
}

void mcp_jwks_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_jwks();
    test_okp_keys();
    apr_pool_destroy(pool);
}
