/* libFuzzer target: the input is a token payload, signed at run time with a
 * P-256 key the validator trusts, so that the claim checks (iss, aud, exp,
 * nbf, iat, sub) and the claim accessors see every shape of JSON. Invariants:
 * the payload is refused (MALFORMED) exactly when it is no JSON object jansson
 * reads without duplicates within the depth limit; VALID claims only when
 * they really satisfy the policy. */
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <cjose/cjose.h>
#include <jansson.h>

#include "fuzz_common.h"
#include "mcp_jwks.h"
#include "mcp_jwt.h"

#define ISSUER "https://issuer.example.com"
#define AUDIENCE "https://mcp.example.com/mcp"
#define FUZZ_NOW 1767225600.0 /* 2026-01-01T00:00:00Z */

static mcp_keyset_t *keys;
static mcp_key_t key_refs[1];
static cjose_jwk_t *signer;
static cjose_header_t *header;
static mcp_jwt_policy_t policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    cjose_err err;
    char *pub, *doc;
    apr_pool_t *kp;
    apr_array_header_t *aud;

    (void)argc;
    (void)argv;
    fuzz_apr_init();
    signer = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    FUZZ_CHECK(signer != NULL && cjose_jwk_set_kid(signer, "ec-1", 4, &err));
    pub = cjose_jwk_to_json(signer, false, &err);
    FUZZ_CHECK(pub != NULL);
    kp = fuzz_subpool();
    doc = apr_pstrcat(kp, "{\"keys\":[", pub, "]}", NULL);
    free(pub);
    keys = fuzz_keyset(kp, doc, 1);
    memcpy(key_refs, keys->keys->elts, sizeof(key_refs));
    header = cjose_header_new(&err);
    FUZZ_CHECK(cjose_header_set(header, CJOSE_HDR_ALG, "ES256", &err)
               && cjose_header_set(header, CJOSE_HDR_KID, "ec-1", &err));

    aud = apr_array_make(kp, 1, sizeof(const char *));
    APR_ARRAY_PUSH(aud, const char *) = AUDIENCE;
    policy.issuer = ISSUER;
    policy.audiences = aud;
    policy.leeway = 60;
    return 0;
}

/* What VALID promises, checked independently of the validator. */
static int claims_hold(json_t *c)
{
    json_t *aud = json_object_get(c, "aud"), *exp = json_object_get(c, "exp"), *v;
    size_t i;
    int aud_ok = json_is_string(aud) && strcmp(json_string_value(aud), AUDIENCE) == 0;

    if (json_is_array(aud)) {
        json_array_foreach(aud, i, v) {
            if (json_is_string(v) && strcmp(json_string_value(v), AUDIENCE) == 0)
                aud_ok = 1;
        }
    }
    return json_is_string(json_object_get(c, "iss"))
           && strcmp(json_string_value(json_object_get(c, "iss")), ISSUER) == 0 && aud_ok
           && json_is_number(exp) && json_number_value(exp) + 60 >= FUZZ_NOW
           && json_is_string(json_object_get(c, "sub"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool;
    cjose_err err;
    cjose_jws_t *jws;
    const char *compact, *why = NULL, *token;
    mcp_jwt_t *jwt = NULL;
    mcp_jwt_status_t st;
    json_t *claims, *raw;
    int readable;

    if (size > 8192)
        return 0;
    jws = cjose_jws_sign(signer, header, data, size, &err);
    if (jws == NULL || !cjose_jws_export(jws, &compact, &err)) {
        cjose_jws_release(jws);
        return 0;
    }
    pool = fuzz_subpool();
    token = apr_pstrdup(pool, compact);
    cjose_jws_release(jws);

    if (mcp_jwt_parse(pool, token, strlen(token), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &why) != MCP_JWT_VALID) {
        FUZZ_CHECK(size == 0); /* only an empty payload makes an empty, refused segment */
        apr_pool_destroy(pool);
        return 0;
    }
    /* the payload is read once the signature holds: MALFORMED exactly when
     * it is no JSON object without duplicates, nested at most 16 deep */
    st = mcp_jwt_verify(jwt, keys, &why);
    raw = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    readable = json_is_object(raw) && mcp_json_depth_ok(raw, 1);
    json_decref(raw);
    if (!readable) {
        FUZZ_CHECK(st == MCP_JWT_MALFORMED && why != NULL && mcp_jwt_claims(jwt) == NULL);
        FUZZ_CHECK(mcp_jwt_check_claims(jwt, &policy, FUZZ_NOW, &why) == MCP_JWT_INVALID);
        apr_pool_destroy(pool);
        return 0;
    }
    FUZZ_CHECK(st == MCP_JWT_VALID);
    claims = mcp_jwt_claims(jwt);
    FUZZ_CHECK(claims != NULL);
    if (mcp_jwt_check_claims(jwt, &policy, FUZZ_NOW, &why) == MCP_JWT_VALID)
        FUZZ_CHECK(claims_hold(claims));
    else
        FUZZ_CHECK(why != NULL);
    /* accessors on hostile shapes: nested paths, arrays, control characters */
    (void)mcp_jwt_claim_string(pool, jwt, "sub");
    (void)mcp_jwt_claim_string(pool, jwt, "scope");
    (void)mcp_jwt_claim_string(pool, jwt, "realm_access.roles");
    (void)mcp_jwt_claim_string(pool, jwt, "a.b.c.d");
    apr_pool_destroy(pool);
    return 0;
}
