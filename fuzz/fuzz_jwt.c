/* libFuzzer target: the input is a compact JWS given to mcp_jwt_parse,
 * mcp_jwt_verify and mcp_jwt_check_claims against a fixed key set (an
 * RSA-2048, a P-256 and an Ed25519 key made once at start-up). No input can carry a
 * valid signature for those keys, so VALID out of verify is a forgery. */
#include <stdint.h>
#include <string.h>

#include <apr_tables.h>
#include <cjose/cjose.h>
#include <jansson.h>

#include "fuzz_common.h"
#include "mcp_jwks.h"
#include "mcp_jwt.h"

static mcp_keyset_t *keys;
/* A copy of the parsed keys outside pool memory (see fuzz_common.h). */
static mcp_key_t key_refs[6];
static mcp_jwt_policy_t policy;

/* 2026-01-01T00:00:00Z: fixed so that runs are reproducible. */
#define FUZZ_NOW 1767225600.0

static json_t *public_jwk(cjose_jwk_t *jwk, const char *kid, const char *alg)
{
    cjose_err err;
    char *text = cjose_jwk_to_json(jwk, false, &err);
    json_t *obj;

    FUZZ_CHECK(text != NULL);
    obj = json_loads(text, 0, NULL);
    free(text);
    FUZZ_CHECK(json_is_object(obj));
    if (kid)
        json_object_set_new(obj, "kid", json_string(kid));
    if (alg)
        json_object_set_new(obj, "alg", json_string(alg));
    json_object_set_new(obj, "use", json_string("sig"));
    return obj;
}

/* cjose 0.6.2 has no OKP keys: OpenSSL makes this one (RFC 8037 §2). */
static json_t *ed25519_public_jwk(const char *kid, const char *alg)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char raw[32];
    size_t raw_len = sizeof(raw), x_len = 0;
    char *x = NULL;
    cjose_err err;
    json_t *obj = json_object();

    FUZZ_CHECK(k != NULL && EVP_PKEY_get_raw_public_key(k, raw, &raw_len) == 1);
    FUZZ_CHECK(cjose_base64url_encode(raw, raw_len, &x, &x_len, &err));
    EVP_PKEY_free(k);
    json_object_set_new(obj, "kty", json_string("OKP"));
    json_object_set_new(obj, "crv", json_string("Ed25519"));
    json_object_set_new(obj, "x", json_stringn(x, x_len));
    free(x);
    if (kid)
        json_object_set_new(obj, "kid", json_string(kid));
    if (alg)
        json_object_set_new(obj, "alg", json_string(alg));
    return obj;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const uint8_t e[] = { 0x01, 0x00, 0x01 };
    cjose_err err;
    cjose_jwk_t *rsa, *ec;
    json_t *jwks, *arr;
    char *doc;
    apr_pool_t *kp;
    apr_array_header_t *aud;

    (void)argc;
    (void)argv;
    fuzz_apr_init();

    rsa = cjose_jwk_create_RSA_random(2048, e, sizeof(e), &err);
    ec = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    FUZZ_CHECK(rsa != NULL && ec != NULL);

    /* kid-carrying keys, one pinned to its alg, plus kid-less copies so that
     * both key-selection paths are reachable. */
    arr = json_array();
    json_array_append_new(arr, public_jwk(rsa, "rsa-1", "RS256"));
    json_array_append_new(arr, public_jwk(ec, "ec-1", NULL));
    json_array_append_new(arr, public_jwk(rsa, NULL, NULL));
    json_array_append_new(arr, public_jwk(ec, NULL, "ES256"));
    json_array_append_new(arr, ed25519_public_jwk("ed-1", NULL));
    json_array_append_new(arr, ed25519_public_jwk(NULL, "EdDSA"));
    jwks = json_object();
    json_object_set_new(jwks, "keys", arr);
    doc = json_dumps(jwks, JSON_COMPACT);
    json_decref(jwks);
    cjose_jwk_release(rsa);
    cjose_jwk_release(ec);

    kp = fuzz_subpool();
    keys = fuzz_keyset(kp, doc, 6);
    free(doc);
    memcpy(key_refs, keys->keys->elts, sizeof(key_refs));

    aud = apr_array_make(kp, 2, sizeof(const char *));
    APR_ARRAY_PUSH(aud, const char *) = "https://mcp.example.com/mcp";
    APR_ARRAY_PUSH(aud, const char *) = "https://mcp.example.com/";
    policy.issuer = "https://issuer.example.com";
    policy.audiences = aud;
    policy.leeway = 60;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_subpool();
    mcp_jwt_t *jwt = (mcp_jwt_t *)1;
    const char *err = NULL;
    mcp_jwt_status_t st;

    /* The raw input buffer, not NUL-terminated: any read past len is caught. */
    st = mcp_jwt_parse(pool, (const char *)data, size, MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err);
    if (st != MCP_JWT_VALID) {
        FUZZ_CHECK(st == MCP_JWT_INVALID);
        FUZZ_CHECK(err != NULL);
        /* a token refused after its header was read is returned for the
         * log line only: never with readable claims */
        if (jwt != NULL)
            FUZZ_CHECK(jwt != (mcp_jwt_t *)1 && mcp_jwt_claims(jwt) == NULL && mcp_jwt_alg(jwt) != NULL);
        apr_pool_destroy(pool);
        return 0;
    }
    FUZZ_CHECK(jwt != NULL);
    FUZZ_CHECK(size <= MCP_JWT_DEFAULT_MAX_LEN);
    FUZZ_CHECK(mcp_jwt_alg(jwt) != NULL && mcp_alg_lookup(mcp_jwt_alg(jwt)) != NULL);
    /* nothing of the payload is readable before verification */
    FUZZ_CHECK(mcp_jwt_claims(jwt) == NULL);
    FUZZ_CHECK(mcp_jwt_claim_string(pool, jwt, "sub") == NULL);
    err = NULL;
    FUZZ_CHECK(mcp_jwt_check_claims(jwt, &policy, FUZZ_NOW, &err) == MCP_JWT_INVALID);
    FUZZ_CHECK(err != NULL);

    err = NULL;
    st = mcp_jwt_verify(jwt, keys, &err);
    /* MALFORMED comes only after a signature held: as much a forgery */
    if (st == MCP_JWT_VALID || st == MCP_JWT_MALFORMED) {
        fprintf(stderr, "fuzz_jwt: FORGERY: input verified against a key made at start-up\n");
        abort();
    }
    FUZZ_CHECK(err != NULL);
    if (st == MCP_JWT_KEY_UNKNOWN)
        FUZZ_CHECK(mcp_jwt_kid(jwt) != NULL);
    else
        FUZZ_CHECK(st == MCP_JWT_INVALID);

    /* still nothing readable, and claims never pass unverified */
    FUZZ_CHECK(mcp_jwt_claims(jwt) == NULL);
    FUZZ_CHECK(mcp_jwt_claim_string(pool, jwt, "scope") == NULL);
    FUZZ_CHECK(mcp_jwt_check_claims(jwt, &policy, FUZZ_NOW, &err) == MCP_JWT_INVALID);

    apr_pool_destroy(pool);
    return 0;
}
