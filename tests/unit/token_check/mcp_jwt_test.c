/* Unit tests of mcp_jwt: JWT access tokens (RFC 7519, RFC 8725, RFC 9068):
 * parsing, signatures (RS, PS, ES, EdDSA) against a JWKS, claims, typ, and
 * claims as Require mcp-claim reads them. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "mcp_jwks.h"
#include "mcp_jwt.h"
#include "unit.h"
#include "unit_files.h"
#include <apr_encode.h>

#include "unit_support.h"

static apr_pool_t *pool;

/* A token signed by k's key and alg, naming another kid. */
static const char *sign_under_kid(test_key_t k, const char *kid, const char *payload)
{
    k.kid = kid;
    return sign(pool, &k, NULL, payload);
}

/* A token with header alg (and kid, unless NULL), signed with the Ed25519
 * key k over the signing input itself (RFC 8037 §3.1). */
static const char *ed25519_token(EVP_PKEY *k, const char *alg, const char *kid, const char *payload)
{
    const char *header = kid ? apr_psprintf(pool, "{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid)
                             : apr_psprintf(pool, "{\"alg\":\"%s\"}", alg);
    const char *input = apr_pstrcat(pool, b64url(pool, header), ".", b64url(pool, payload), NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    size_t sig_len = sizeof(sig);

    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k);
    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(ctx);
    return apr_pstrcat(pool, input, ".", b64url_bytes(pool, sig, sig_len), NULL);
}

/* The token's signature bytes (at most max) into out; returns their count. */
static size_t signature_of(const char *token, unsigned char *out, size_t max)
{
    const char *sig = strrchr(token, '.') + 1;
    uint8_t *raw = NULL;
    size_t len = 0;
    cjose_err err;

    if (!cjose_base64url_decode(sig, strlen(sig), &raw, &len, &err))
        return 0;
    len = len < max ? len : max;
    memcpy(out, raw, len);
    free(raw);
    return len;
}

static const char *with_signature(const char *token, const unsigned char *sig, size_t len)
{
    const char *dot = strrchr(token, '.');

    return apr_pstrcat(pool, apr_pstrmemdup(pool, token, (apr_size_t)(dot - token + 1)),
                       b64url_bytes(pool, sig, len), NULL);
}

static mcp_jwt_status_t judge(const char *token, const mcp_keyset_t *keys, const char **err)
{
    mcp_jwt_t *jwt;
    mcp_jwt_policy_t policy;
    apr_array_header_t *auds = apr_array_make(pool, 1, sizeof(const char *));
    mcp_jwt_status_t st;

    APR_ARRAY_PUSH(auds, const char *) = AUDIENCE;
    policy.issuer = ISSUER;
    policy.alt_issuer = NULL;
    policy.audiences = auds;
    policy.leeway = 60;
    *err = NULL;
    st = mcp_jwt_parse(pool, token, strlen(token), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, err);
    if (st != MCP_JWT_VALID)
        return st;
    if (mcp_jwt_claims(jwt) != NULL)
        return MCP_JWT_VALID + 100; /* claims readable before verification: a bug */
    st = mcp_jwt_verify(jwt, keys, err);
    if (st != MCP_JWT_VALID)
        return st;
    return mcp_jwt_check_claims(jwt, &policy, (double)apr_time_sec(apr_time_now()), err);
}

/* Whether token is refused as invalid for exactly this reason. */
static int refused_for(const char *token, const mcp_keyset_t *keys, const char *reason)
{
    const char *err = NULL;

    return judge(token, keys, &err) == MCP_JWT_INVALID && err != NULL && strcmp(err, reason) == 0;
}

static void test_jwt(void)
{
    test_key_t keys[4];
    const mcp_keyset_t *set;
    const char *err = NULL, *tok, *h, *p, *s, *dot;
    const char *now_claims = claims(pool, 300, NULL);
    int i;
    const char *algs[] = { "RS256", "RS384", "RS512", "PS256", "PS384", "PS512" };

    keys[0] = make_key("rsa1", "RS256");
    keys[1] = make_key("ec256", "ES256");
    keys[2] = make_key("ec384", "ES384");
    keys[3] = make_key("ec521", "ES512");
    set = mcp_jwks_parse(pool, jwks_of(pool, keys, 4), strlen(jwks_of(pool, keys, 4)), &err);
    CHECK(set != NULL && set->keys->nelts == 4, "JWKS with RSA and three EC keys parses");

    for (i = 0; i < 6; i++) {
        test_key_t k = keys[0];
        k.alg = algs[i];
        CHECK(judge(sign(pool, &k, NULL, now_claims), set, &err) == MCP_JWT_VALID,
              apr_psprintf(pool, "%s token accepted", algs[i]));
    }
    CHECK(judge(sign(pool, &keys[1], "at+jwt", now_claims), set, &err) == MCP_JWT_VALID, "ES256 accepted");
    CHECK(judge(sign(pool, &keys[2], "JWT", now_claims), set, &err) == MCP_JWT_VALID, "ES384 accepted");
    CHECK(judge(sign(pool, &keys[3], NULL, now_claims), set, &err) == MCP_JWT_VALID, "ES512 accepted");

    CHECK(judge(sign(pool, &keys[0], NULL, claims(pool, -3600, NULL)), set, &err) == MCP_JWT_INVALID
              && strcmp(err, "token expired") == 0,
          "expired token rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, claims(pool, -30, NULL)), set, &err) == MCP_JWT_VALID,
          "expiry within leeway accepted");
    CHECK(judge(sign(pool, &keys[0], NULL, claims(pool, 300, "\"nbf\":9999999999")), set, &err) == MCP_JWT_INVALID,
          "future nbf rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, claims(pool, 300, "\"nbf\":\"0\"")), set, &err) == MCP_JWT_INVALID,
          "string nbf rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\",\"sub\":\"a\"}"),
                set, &err) == MCP_JWT_INVALID,
          "missing exp rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, apr_psprintf(pool, "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE
                                                        "\",\"sub\":\"a\",\"exp\":1e300}")),
                set, &err) == MCP_JWT_INVALID,
          "exp 1e300 rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, apr_psprintf(pool, "{\"iss\":\"" ISSUER "/\",\"aud\":\"" AUDIENCE
                                                        "\",\"sub\":\"a\",\"exp\":%ld}",
                                                  (long)apr_time_sec(apr_time_now()) + 60)),
                set, &err) == MCP_JWT_INVALID && strcmp(err, "issuer mismatch") == 0,
          "issuer with trailing slash rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, apr_psprintf(pool, "{\"iss\":\"" ISSUER "\",\"aud\":[\"x\",\"" AUDIENCE
                                                        "\"],\"sub\":\"a\",\"exp\":%ld}",
                                                  (long)apr_time_sec(apr_time_now()) + 60)),
                set, &err) == MCP_JWT_VALID,
          "audience array containing ours accepted");
    CHECK(judge(sign(pool, &keys[0], NULL, apr_psprintf(pool, "{\"iss\":\"" ISSUER "\",\"aud\":[1,\"" AUDIENCE
                                                        "\"],\"sub\":\"a\",\"exp\":%ld}",
                                                  (long)apr_time_sec(apr_time_now()) + 60)),
                set, &err) == MCP_JWT_INVALID,
          "mixed-type audience array rejected");
    CHECK(judge(sign(pool, &keys[0], NULL, apr_psprintf(pool, "{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE
                                                        "/\",\"sub\":\"a\",\"exp\":%ld}",
                                                  (long)apr_time_sec(apr_time_now()) + 60)),
                set, &err) == MCP_JWT_INVALID && strcmp(err, "audience mismatch") == 0,
          "audience with trailing slash rejected");
    {
        /* RFC 8725 §3.11: the claims' own word on the kind of token */
        static const struct {
            const char *extra;
            int accepted;
            const char *what;
        } kinds[] = {
            { "\"typ\":\"Bearer\"", 1, "Keycloak's access token (typ Bearer)" },
            { "\"typ\":\"at+jwt\"", 1, "typ at+jwt" },
            { "\"typ\":\"ID\"", 0, "Keycloak's ID token (typ ID)" },
            { "\"typ\":\"Refresh\"", 0, "Keycloak's refresh token" },
            { "\"typ\":\"Logout\"", 0, "a logout token" },
            { "\"typ\":null", 0, "typ null" },
            { "\"typ\":[\"Bearer\"]", 0, "typ as an array" },
            { "\"token_use\":\"access\"", 1, "Cognito's access token (token_use access)" },
            { "\"token_use\":\"id\"", 0, "Cognito's ID token (token_use id)" },
            { "\"token_use\":\"access\",\"typ\":\"Refresh\"", 0, "token_use access but typ Refresh" },
        };
        size_t k;

        for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
            const char *t = sign(pool, &keys[0], NULL, claims(pool, 300, kinds[k].extra));

            CHECK(kinds[k].accepted ? judge(t, set, &err) == MCP_JWT_VALID
                                    : refused_for(t, set, "the token's claims name another kind of token (typ or token_use)"),
                  apr_psprintf(pool, "%s: %s", kinds[k].what, kinds[k].accepted ? "accepted" : "refused"));
        }
    }
    CHECK(judge(sign(pool, &keys[0], NULL, claims(pool, 300, "\"iss\":\"evil\"")), set, &err) == MCP_JWT_MALFORMED
              && strcmp(err, "token payload is not a valid JSON object") == 0,
          "duplicate claim names rejected (once the signature holds)");
    {
        /* a payload nobody signed is not even parsed: the refusal is the signature's */
        const char *good = sign(pool, &keys[0], NULL, claims(pool, 300, NULL));
        const char *dot1 = strchr(good, '.'), *dot2 = strchr(dot1 + 1, '.');
        const char *forged = apr_pstrcat(pool, apr_pstrndup(pool, good, (apr_size_t)(dot1 - good)), ".",
                                         b64url(pool, "{\"iss\":1,\"iss\":2"), dot2, NULL);

        CHECK(judge(forged, set, &err) == MCP_JWT_INVALID && strcmp(err, "signature verification failed") == 0,
              "an unsigned, broken payload is refused for its signature, never parsed");
    }
    CHECK(judge(sign(pool, &keys[0], "dpop+jwt", now_claims), set, &err) == MCP_JWT_INVALID,
          "typ dpop+jwt rejected");

    /* tampering */
    tok = sign(pool, &keys[0], NULL, now_claims);
    dot = strrchr(tok, '.');
    s = apr_pstrcat(pool, apr_pstrmemdup(pool, tok, (apr_size_t)(dot - tok + 1)),
                    dot[1] == 'A' ? "B" : "A", dot + 2, NULL);
    CHECK(judge(s, set, &err) == MCP_JWT_INVALID, "flipped signature rejected");
    CHECK(judge(apr_pstrcat(pool, tok, "=", NULL), set, &err) == MCP_JWT_INVALID,
          "padding after signature rejected");
    CHECK(judge(apr_pstrcat(pool, tok, "=junk", NULL), set, &err) == MCP_JWT_INVALID,
          "junk after padding rejected");
    CHECK(judge(apr_pstrcat(pool, tok, ".x.y", NULL), set, &err) == MCP_JWT_INVALID,
          "five segments rejected");
    CHECK(judge("abcde=.abc.abc", set, &err) == MCP_JWT_INVALID,
          "segment of 1 mod 4 length with padding rejected before cjose");
    CHECK(judge("abcde.abcde.abcde", set, &err) == MCP_JWT_INVALID, "1 mod 4 segments rejected");

    /* algorithm attacks */
    h = b64url(pool, "{\"alg\":\"none\",\"kid\":\"rsa1\"}");
    p = b64url(pool, now_claims);
    CHECK(judge(apr_pstrcat(pool, h, ".", p, ".", NULL), set, &err) == MCP_JWT_INVALID,
          "alg none without signature rejected");
    CHECK(judge(apr_pstrcat(pool, b64url(pool, "{\"alg\":\"NoNe\"}"), ".", p, ".AAAA", NULL), set, &err)
              == MCP_JWT_INVALID,
          "alg NoNe rejected");
    CHECK(judge(apr_pstrcat(pool, b64url(pool, "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}"), ".", p, ".AAAA", NULL), set,
                &err) == MCP_JWT_INVALID,
          "HS256 rejected");
    CHECK(judge(apr_pstrcat(pool, b64url(pool, "{\"alg\":\"RS256\",\"crit\":[\"exp\"]}"), ".", p, ".AAAA", NULL), set,
                &err) == MCP_JWT_INVALID,
          "crit rejected");
    CHECK(judge(apr_pstrcat(pool, b64url(pool, "{\"alg\":\"RS256\",\"alg\":\"none\"}"), ".", p, ".AAAA", NULL), set,
                &err) == MCP_JWT_INVALID,
          "duplicate header names rejected");
    CHECK(judge(apr_pstrcat(pool, b64url(pool, "{\"alg\":\"RS256\",\"kid\":7}"), ".", p, ".AAAA", NULL), set, &err)
              == MCP_JWT_INVALID,
          "numeric kid rejected");

    /* key fitting */
    {
        test_key_t wrong = keys[1];
        wrong.kid = "ec384"; /* ES256 signature claiming the P-384 key */
        CHECK(judge(sign(pool, &wrong, NULL, now_claims), set, &err) != MCP_JWT_VALID,
              "ES256 token naming a P-384 key rejected");
        wrong = keys[0];
        wrong.kid = "nope";
        CHECK(judge(sign(pool, &wrong, NULL, now_claims), set, &err) == MCP_JWT_KEY_UNKNOWN,
              "unknown kid reported as such");
        wrong.kid = NULL;
        CHECK(judge(sign(pool, &wrong, NULL, now_claims), set, &err) == MCP_JWT_VALID,
              "token without kid verified against fitting keys");
    }
    {
        /* ES256 with a zero-padded 66-byte signature: cjose alone accepts it */
        const char *good = sign(pool, &keys[1], NULL, now_claims);
        const char *sig = strrchr(good, '.') + 1;
        uint8_t *raw, padded[66];
        size_t raw_len;
        char *enc;
        size_t enc_len;
        cjose_err cerr;

        cjose_base64url_decode(sig, strlen(sig), &raw, &raw_len, &cerr);
        padded[0] = 0;
        memcpy(padded + 1, raw, 32);
        padded[33] = 0;
        memcpy(padded + 34, raw + 32, 32);
        free(raw);
        cjose_base64url_encode(padded, 66, &enc, &enc_len, &cerr);
        CHECK(judge(apr_pstrcat(pool, apr_pstrmemdup(pool, good, (apr_size_t)(sig - good)),
                                apr_pstrmemdup(pool, enc, enc_len), NULL),
                    set, &err) == MCP_JWT_INVALID,
              "zero-padded ECDSA signature rejected");
        free(enc);
    }
    CHECK(judge(apr_pstrcat(pool, h, ".", p, ".", apr_pstrndup(pool, "", 0), NULL), set, &err)
              == MCP_JWT_INVALID,
          "empty signature rejected");
    {
        char *big = apr_palloc(pool, MCP_JWT_DEFAULT_MAX_LEN + 2);
        memset(big, 'a', MCP_JWT_DEFAULT_MAX_LEN + 1);
        big[MCP_JWT_DEFAULT_MAX_LEN + 1] = '\0';
        CHECK(judge(big, set, &err) == MCP_JWT_INVALID && strcmp(err, "token too large") == 0,
              "oversized token rejected");
    }

    /* EdDSA (RFC 8037 §3.1): the same keys plus Ed25519 ones */
    {
        EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        EVP_PKEY *stranger = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        const char *rsa_ec = jwks_of(pool, keys, 4);
        const char *doc = apr_pstrcat(pool, apr_pstrmemdup(pool, rsa_ec, strlen(rsa_ec) - 2), ",",
                                      okp_jwk(pool, "ed1", "Ed25519", raw_public_b64url(pool, ed), NULL), ",",
                                      okp_jwk(pool, "ed1-eddsa", "Ed25519", raw_public_b64url(pool, ed), "\"alg\":\"EdDSA\""),
                                      "]}", NULL);
        const mcp_keyset_t *with_ed = mcp_jwks_parse(pool, doc, strlen(doc), &err);
        unsigned char sig[66];
        size_t sig_len;
        int k, a, fits_wrong = 0;
        const char *no_fit = "no key fits the signature algorithm";
        struct {
            const char *token, *reason, *what;
        } refusals[] = {
            { ed25519_token(ed, "Ed25519", "ed1-eddsa", now_claims), no_fit,
              "Ed25519 token with the key pinned to EdDSA rejected" },
            { ed25519_token(stranger, "EdDSA", "ed1", now_claims), "signature verification failed",
              "EdDSA token signed by another Ed25519 key rejected" },
            { ed25519_token(ed, "EdDSA", "ed1", claims(pool, -3600, NULL)), "token expired", "expired EdDSA token rejected" },
            /* alg confusion, both ways (RFC 8725 §3.1) */
            { ed25519_token(ed, "EdDSA", "rsa1", now_claims), no_fit, "EdDSA token naming the RSA key rejected" },
            { ed25519_token(ed, "EdDSA", "ec256", now_claims), no_fit, "EdDSA token naming the P-256 key rejected" },
            { sign_under_kid(keys[0], "ed1", now_claims), no_fit, "RS256 token naming the Ed25519 key rejected" },
            { sign_under_kid(keys[1], "ed1", now_claims), no_fit,
              "ES256 token (64-byte signature too) naming the Ed25519 key rejected" },
        };

        CHECK(with_ed != NULL && with_ed->keys->nelts == 6, "JWKS with RSA, EC and Ed25519 keys parses");
        if (with_ed == NULL)
            return;
        CHECK(judge(ed25519_token(ed, "EdDSA", "ed1", now_claims), with_ed, &err) == MCP_JWT_VALID,
              "EdDSA token accepted");
        CHECK(judge(ed25519_token(ed, "Ed25519", "ed1", now_claims), with_ed, &err) == MCP_JWT_VALID,
              "alg Ed25519 (RFC 9864) accepted");
        CHECK(judge(ed25519_token(ed, "EdDSA", NULL, now_claims), with_ed, &err) == MCP_JWT_VALID,
              "kid-less EdDSA token verified against the Ed25519 keys");
        CHECK(judge(ed25519_token(ed, "EdDSA", "ed1-eddsa", now_claims), with_ed, &err) == MCP_JWT_VALID,
              "EdDSA token with the key pinned to EdDSA accepted");

        tok = ed25519_token(ed, "EdDSA", "ed1", now_claims);
        sig_len = signature_of(tok, sig, sizeof(sig));
        CHECK(sig_len == 64 && judge(with_signature(tok, sig, 64), with_ed, &err) == MCP_JWT_VALID,
              "EdDSA signature of 64 bytes, taken apart and put back, accepted");
        sig[20] ^= 0x08;
        CHECK(refused_for(with_signature(tok, sig, 64), with_ed, "signature verification failed"),
              "EdDSA signature with one bit flipped rejected");
        sig[20] ^= 0x08;
        CHECK(refused_for(with_signature(tok, sig, 63), with_ed, "EdDSA signature has the wrong length"),
              "EdDSA signature cut to 63 bytes rejected");
        sig[64] = 0;
        CHECK(refused_for(with_signature(tok, sig, 65), with_ed, "EdDSA signature has the wrong length"),
              "EdDSA signature with a 65th byte rejected");

        for (k = 0; k < (int)(sizeof(refusals) / sizeof(refusals[0])); k++)
            CHECK(refused_for(refusals[k].token, with_ed, refusals[k].reason), refusals[k].what);
        for (k = 0; k < with_ed->keys->nelts; k++) {
            const mcp_key_t *key = &APR_ARRAY_IDX(with_ed->keys, k, mcp_key_t);

            for (a = 0; a < MCP_ALG_COUNT; a++) {
                if (mcp_key_fits(key, mcp_alg_at(a))
                    && (key->kty == MCP_KTY_OKP) != (mcp_alg_at(a)->kty == MCP_KTY_OKP))
                    fits_wrong++;
            }
        }
        CHECK(fits_wrong == 0, "no RS, PS or ES alg fits an OKP key, no EdDSA alg an RSA or EC key");
        EVP_PKEY_free(ed);
        EVP_PKEY_free(stranger);
    }
    for (i = 0; i < 4; i++)
        cjose_jwk_release(keys[i].jwk);
}

/* ---- RSASSA-PSS details cjose does not let a test choose (RFC 7518 §3.5) ---- */

static const char *bn_b64url(const EVP_PKEY *k, const char *name)
{
    BIGNUM *bn = NULL;
    unsigned char buf[512];
    int len;

    EVP_PKEY_get_bn_param(k, name, &bn);
    len = BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url_bytes(pool, buf, (size_t)len);
}

/* A token with header alg `alg`, signed RSASSA-PSS with SHA-256 and the given
 * salt length, or PKCS#1 v1.5 when saltlen < 0. */
static const char *rsa_token(EVP_PKEY *k, const char *alg, int saltlen, const char *payload)
{
    const char *input = apr_pstrcat(pool, b64url(pool, apr_psprintf(pool, "{\"alg\":\"%s\",\"kid\":\"pss\"}", alg)),
                                     ".", b64url(pool, payload), NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char sig[512];
    size_t sig_len = sizeof(sig);

    EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, k);
    if (saltlen >= 0) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen);
    }
    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(ctx);
    return apr_pstrcat(pool, input, ".", b64url_bytes(pool, sig, sig_len), NULL);
}

static void test_pss(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    const char *jwks = apr_psprintf(pool, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"pss\",\"n\":\"%s\",\"e\":\"%s\"}]}",
                                    bn_b64url(k, "n"), bn_b64url(k, "e"));
    const char *err = NULL;
    const mcp_keyset_t *set = mcp_jwks_parse(pool, jwks, strlen(jwks), &err);
    const char *now_claims = claims(pool, 300, NULL);

    CHECK(set != NULL && judge(rsa_token(k, "PS256", 32, now_claims), set, &err) == MCP_JWT_VALID,
          "PS256 with a salt as long as the hash accepted");
    CHECK(judge(rsa_token(k, "PS256", 0, now_claims), set, &err) == MCP_JWT_INVALID,
          "PS256 with an empty salt rejected");
    CHECK(judge(rsa_token(k, "PS256", 64, now_claims), set, &err) == MCP_JWT_INVALID,
          "PS256 with a 64-byte salt rejected");
    CHECK(judge(rsa_token(k, "RS256", 32, now_claims), set, &err) == MCP_JWT_INVALID,
          "PSS signature under alg RS256 rejected");
    CHECK(judge(rsa_token(k, "PS256", -1, now_claims), set, &err) == MCP_JWT_INVALID,
          "PKCS#1 v1.5 signature under alg PS256 rejected");
    CHECK(judge(rsa_token(k, "RS256", -1, now_claims), set, &err) == MCP_JWT_VALID,
          "PKCS#1 v1.5 signature under alg RS256 accepted");
    EVP_PKEY_free(k);
}

static void test_typ(void)
{
    mcp_jwt_t *jwt = NULL;
    const char *err = NULL;
    apr_array_header_t *strict = apr_array_make(pool, 1, sizeof(const char *));

    APR_ARRAY_PUSH(strict, const char *) = "at+jwt";
    mcp_jwt_parse(pool, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA", 44, MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err);
    CHECK(jwt && strcmp(mcp_jwt_typ(jwt), "JWT") == 0 && mcp_jwt_type_accepted(jwt, NULL)
              && !mcp_jwt_type_accepted(jwt, strict),
          "typ JWT: accepted by default, not where at+jwt is required");
}

static void test_claim_holds(void)
{
    json_t *payload = json_loads("{\"sub\":\"u1\",\"groups\":[\"eng\",\"ops\"],\"admin\":true,\"level\":3,"
                                 "\"realm_access\":{\"roles\":[\"mcp-user\"]},\"a.b\":\"top\","
                                 "\"a\":{\"b\":\"nested\"},\"ratio\":0.5}", 0, NULL);
    mcp_jwt_t *jwt = mcp_jwt_verified(pool, payload, "RS256", "k1", NULL);

    CHECK(mcp_jwt_claim_holds(pool, jwt, "sub", "u1"), "claim: a string equals");
    CHECK(!mcp_jwt_claim_holds(pool, jwt, "sub", "U1"), "claim: strings compare exactly");
    CHECK(mcp_jwt_claim_holds(pool, jwt, "groups", "ops"), "claim: an array element equals");
    CHECK(!mcp_jwt_claim_holds(pool, jwt, "groups", "eng,ops"), "claim: an array is not its joined text");
    CHECK(mcp_jwt_claim_holds(pool, jwt, "admin", "true") && !mcp_jwt_claim_holds(pool, jwt, "admin", "1"),
          "claim: booleans compare by their JSON text");
    CHECK(mcp_jwt_claim_holds(pool, jwt, "level", "3"), "claim: integers compare by their JSON text");
    CHECK(!mcp_jwt_claim_holds(pool, jwt, "ratio", "0.5"), "claim: fractions never match");
    CHECK(mcp_jwt_claim_holds(pool, jwt, "realm_access.roles", "mcp-user"), "claim: dotted names reach nested claims");
    CHECK(mcp_jwt_claim_holds(pool, jwt, "a.b", "top") && !mcp_jwt_claim_holds(pool, jwt, "a.b", "nested"),
          "claim: a top-level claim named a.b wins over the path a.b");
    CHECK(!mcp_jwt_claim_holds(pool, jwt, "missing", "x"), "claim: an absent claim holds nothing");
}

/* The per-thread memo of parsed headers: a header seen before gives the
 * same answer as the first time, one that differs by a byte is read anew,
 * and a header still works after its first request's pool is gone. */
static void test_header_memo(void)
{
    static const char *const headers[] = {
        "{\"alg\":\"RS256\",\"kid\":\"k1\"}", "{\"alg\":\"RS256\",\"kid\":\"k2\"}",
        "{\"alg\":\"ES256\",\"kid\":\"k1\"}", "{\"alg\":\"RS256\",\"kid\":\"k3\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k4\"}", "{\"alg\":\"RS256\",\"kid\":\"k5\"}",
    };
    static const char *const want_alg[] = { "RS256", "RS256", "ES256", "RS256", "RS256", "RS256" };
    static const char *const want_kid[] = { "k1", "k2", "k1", "k3", "k4", "k5" };
    int step, same = 1;

    /* the first header every other time (hits), the rest in turn (misses
     * that push remembered ones out, the first among them now and then) */
    for (step = 0; step < 24; step++) {
        int i = step % 2 == 0 ? 0 : step / 2 % 6;
        apr_pool_t *rp;
        mcp_jwt_t *jwt = NULL;
        const char *err = NULL, *token;
        apr_size_t n;

        apr_pool_create(&rp, pool);
        token = apr_pstrcat(rp, apr_pencode_base64(rp, headers[i], APR_ENCODE_STRING, APR_ENCODE_BASE64URL, &n),
                            ".e30.AAAA", NULL);
        mcp_jwt_parse(rp, token, strlen(token), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err);
        if (jwt == NULL || strcmp(mcp_jwt_alg(jwt), want_alg[i]) != 0 || mcp_jwt_kid(jwt) == NULL
            || strcmp(mcp_jwt_kid(jwt), want_kid[i]) != 0)
            same = 0;
        apr_pool_destroy(rp); /* the memo keeps a reference of its own */
    }
    CHECK(same, "header memo: a header seen before reads as the first time, one a byte apart is read anew, "
                "after the pools of the requests that parsed them are gone");
}

/* A thread's copies of verify contexts: a key set replaced by another whose
 * key has the same kid (and, freed and allocated again, likely the same
 * address) never verifies with the old key's copy; more keys than the
 * thread keeps copies of still verify each with its own. */
static void test_verifier_copies(void)
{
    const char *alg[] = { "RS256", "ES256" };
    int a, round, right = 1, forged_refused = 1, many_ok = 1, i;

    for (a = 0; a < 2; a++) {
        for (round = 0; round < 3; round++) {
            test_key_t k = make_key("same-kid", alg[a]);
            apr_pool_t *kp;
            const char *err = NULL, *jwks, *good, *old_key_token = NULL;
            const mcp_keyset_t *set;
            mcp_jwt_t *jwt = NULL;
            static const char *previous[2];

            apr_pool_create(&kp, pool);
            jwks = jwks_of(kp, &k, 1);
            set = mcp_jwks_parse(kp, jwks, strlen(jwks), &err);
            good = sign(pool, &k, NULL, claims(pool, 300, NULL));
            if (set == NULL || mcp_jwt_parse(kp, good, strlen(good), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err)
                != MCP_JWT_VALID || mcp_jwt_verify(jwt, set, &err) != MCP_JWT_VALID)
                right = 0;
            old_key_token = previous[a];
            if (old_key_token
                && (mcp_jwt_parse(kp, old_key_token, strlen(old_key_token), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt,
                                  &err) != MCP_JWT_VALID || mcp_jwt_verify(jwt, set, &err) == MCP_JWT_VALID))
                forged_refused = 0;
            previous[a] = good;
            apr_pool_destroy(kp);
        }
    }
    CHECK(right, "verify copies: a new key set under the same kid verifies its own tokens");
    CHECK(forged_refused, "verify copies: a token of the replaced key is refused by the new one (same kid, "
                          "the old key set freed)");

    for (round = 0; round < 2; round++) {
        for (i = 0; i < 12; i++) {
            test_key_t k = make_key(apr_psprintf(pool, "k%d", i), i % 2 ? "ES256" : "RS256");
            const char *err = NULL, *jwks = jwks_of(pool, &k, 1), *tok = sign(pool, &k, NULL, claims(pool, 300, NULL));
            const mcp_keyset_t *set = mcp_jwks_parse(pool, jwks, strlen(jwks), &err);
            mcp_jwt_t *jwt = NULL;

            if (set == NULL || mcp_jwt_parse(pool, tok, strlen(tok), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err)
                != MCP_JWT_VALID || mcp_jwt_verify(jwt, set, &err) != MCP_JWT_VALID)
                many_ok = 0;
        }
    }
    CHECK(many_ok, "verify copies: twelve keys, more than a thread keeps copies of, each verify their tokens");
}

/* Threads that check tokens and end, as mod_http2 retires its idle workers:
 * each one's state (header memo, verify copies) is freed by its own exit,
 * and a check in a thread started after the key set went still verifies. */
typedef struct thread_check {
    const char *token;
    const mcp_keyset_t *set;
    int verified;
} thread_check_t;

static void *APR_THREAD_FUNC check_in_thread(apr_thread_t *thread, void *data)
{
    thread_check_t *tc = data;
    apr_pool_t *p;
    mcp_jwt_t *jwt = NULL;
    const char *err = NULL;
    int i;

    apr_pool_create_unmanaged(&p);
    for (i = 0; i < 3; i++)
        tc->verified += mcp_jwt_parse(p, tc->token, strlen(tc->token), MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err)
                            == MCP_JWT_VALID && mcp_jwt_verify(jwt, tc->set, &err) == MCP_JWT_VALID;
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void test_thread_exit(void)
{
    test_key_t k[2] = { make_key("t-rsa", "RS256"), make_key("t-ec", "ES256") };
    const char *err = NULL, *jwks = jwks_of(pool, k, 2);
    const mcp_keyset_t *set = mcp_jwks_parse(pool, jwks, strlen(jwks), &err);
    thread_check_t tc[8];
    apr_thread_t *threads[8];
    apr_status_t rv;
    int i, all = 1;

    for (i = 0; i < 8; i++) {
        tc[i].token = sign(pool, &k[i % 2], NULL, claims(pool, 300, NULL));
        tc[i].set = set;
        tc[i].verified = 0;
        if (apr_thread_create(&threads[i], NULL, check_in_thread, &tc[i], pool) != APR_SUCCESS)
            all = 0;
    }
    for (i = 0; i < 8; i++) {
        apr_thread_join(&rv, threads[i]);
        all = all && tc[i].verified == 3;
    }
    CHECK(set && all, "eight threads each verify three times and end, their thread state freed on exit");
}

void mcp_jwt_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_jwt();
    test_pss();
    test_typ();
    test_claim_holds();
    test_header_memo();
    test_verifier_copies();
    test_thread_exit();
    apr_pool_destroy(pool);
}
