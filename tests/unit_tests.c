/* Unit tests for the engine units in modules/, run without httpd. */

#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "mcp_b64url.h"
#include "mcp_cache.h"
#include "mcp_cache_control.h"
#include "mcp_challenge.h"
#include "mcp_client.h"
#include "mcp_discovery.h"
#include "mcp_docstore.h"
#include "mcp_facade.h"
#include "mcp_fetch.h"
#include "mcp_field.h"
#include "mcp_forwarded.h"
#include "mcp_jwks.h"
#include "mcp_jsonrpc.h"
#include "mcp_era.h"
#include "mcp_jwt.h"
#include "mcp_listfilter.h"
#include "mcp_policy.h"
#include "mcp_metadata.h"
#include "mcp_scope.h"
#include "mcp_seal.h"
#include "mcp_token.h"
#include "mcp_tokencache.h"
#include "mcp_url.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

int unit_run, unit_failed;

static apr_pool_t *pool;

/* ---- token extraction (RFC 6750 §2.1) ---- */

static mcp_token_result_t extract(const char *header, const char **tok)
{
    unsigned long len;
    const char *why, *t;
    int dpop;
    mcp_token_result_t r = mcp_token_from_authorization(header, &t, &len, &dpop, &why);

    *tok = t ? apr_pstrmemdup(pool, t, len) : NULL;
    return r;
}

static void test_token_extraction(void)
{
    const char *tok;

    CHECK(extract(NULL, &tok) == MCP_TOKEN_ABSENT, "no header is absent");
    CHECK(extract("Basic dXNlcjpwYXNz", &tok) == MCP_TOKEN_ABSENT, "Basic is absent");
    CHECK(extract("DPoP abc", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc") == 0, "DPoP carries a token");
    CHECK(extract("DPoPX abc", &tok) == MCP_TOKEN_ABSENT, "DPoPX is another scheme");
    CHECK(extract("DPoP", &tok) == MCP_TOKEN_MALFORMED, "DPoP without token is malformed");
    CHECK(extract("Basic dXNlcjpwYXNz, DPoP abc", &tok) == MCP_TOKEN_MALFORMED,
          "a DPoP token next to another credential is malformed");
    CHECK(extract("DPoP abc, Bearer def", &tok) == MCP_TOKEN_MALFORMED, "DPoP and Bearer together are malformed");
    CHECK(extract("BearerX abc", &tok) == MCP_TOKEN_ABSENT, "BearerX is another scheme");
    CHECK(extract("Bearer abc.def.ghi", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc.def.ghi") == 0,
          "Bearer token extracted");
    CHECK(extract("bEaReR   abc  ", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc") == 0,
          "scheme is case-insensitive, whitespace trimmed");
    CHECK(extract("Bearer abc==", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc==") == 0,
          "b64token may end in padding");
    CHECK(extract("Bearer", &tok) == MCP_TOKEN_MALFORMED, "Bearer without token is malformed");
    CHECK(extract("Bearer    ", &tok) == MCP_TOKEN_MALFORMED, "Bearer with blanks is malformed");
    CHECK(extract("Bearer abc def", &tok) == MCP_TOKEN_MALFORMED, "two tokens are malformed");
    CHECK(extract("Bearer abc, Bearer def", &tok) == MCP_TOKEN_MALFORMED,
          "merged Authorization headers are malformed");
    CHECK(extract("Bearer a=b", &tok) == MCP_TOKEN_MALFORMED, "padding inside the token is malformed");
    CHECK(extract("Bearer \"abc\"", &tok) == MCP_TOKEN_MALFORMED, "quoted token is malformed");
    CHECK(extract("Bearer ==", &tok) == MCP_TOKEN_MALFORMED, "padding alone is no token");
}

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
    CHECK(judge(sign(pool, &keys[0], NULL, claims(pool, 300, "\"iss\":\"evil\"")), set, &err) == MCP_JWT_INVALID,
          "duplicate claim names rejected");
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
    test_okp_keys();
}

static void test_discovery(void)
{
    const char *err = NULL;
    const mcp_discovery_t *d;
    const char *doc;

    CHECK(strcmp(mcp_discovery_url_rfc8414(pool, "https://idp.example.com/realms/master"),
                 "https://idp.example.com/.well-known/oauth-authorization-server/realms/master")
              == 0,
          "RFC 8414 URL has the well-known part inserted");
    CHECK(strcmp(mcp_discovery_url_rfc8414(pool, "https://idp.example.com"),
                 "https://idp.example.com/.well-known/oauth-authorization-server")
              == 0,
          "RFC 8414 URL for an issuer without path");
    CHECK(strcmp(mcp_discovery_url_rfc8414(pool, "https://idp.example.com/t/"),
                 "https://idp.example.com/.well-known/oauth-authorization-server/t")
              == 0,
          "RFC 8414 URL drops the trailing slash");
    CHECK(strcmp(mcp_discovery_url_oidc(pool, "https://idp.example.com/realms/master"),
                 "https://idp.example.com/realms/master/.well-known/openid-configuration")
              == 0,
          "OIDC discovery URL is appended");
    doc = "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example.com/certs\"}";
    d = mcp_discovery_parse(pool, doc, strlen(doc), ISSUER, &err);
    CHECK(d && strcmp(d->jwks_uri, "https://idp.example.com/certs") == 0, "jwks_uri read from metadata");
    CHECK(d && d->registration_endpoint == NULL && d->token_endpoint == NULL,
          "absent endpoints stay NULL");
    doc = "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"https://idp.example.com/certs\","
          "\"token_endpoint\":\"https://idp.example.com/token\","
          "\"registration_endpoint\":\"javascript:alert(1)\"}";
    d = mcp_discovery_parse(pool, doc, strlen(doc), ISSUER, &err);
    CHECK(d && strcmp(d->token_endpoint, "https://idp.example.com/token") == 0
              && d->registration_endpoint == NULL,
          "relayed endpoints read once, only http(s) ones");
    d = mcp_discovery_parse(pool, doc, strlen(doc), ISSUER "x", &err);
    CHECK(d == NULL, "metadata for another issuer refused");
    doc = "{\"issuer\":\"" ISSUER "\",\"jwks_uri\":\"file:///etc/passwd\"}";
    d = mcp_discovery_parse(pool, doc, strlen(doc), ISSUER, &err);
    CHECK(d == NULL, "non-http jwks_uri refused");
}

static void test_challenge_and_metadata(void)
{
    mcp_challenge_t c = { "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", NULL, NULL,
                          "openid mcp" };
    const char *h = mcp_challenge_header(pool, &c);
    mcp_prm_t prm;
    apr_array_header_t *as = apr_array_make(pool, 1, sizeof(const char *));
    apr_table_t *extra = apr_table_make(pool, 1);
    json_t *doc;
    const char *json;

    CHECK(strcmp(h, "Bearer resource_metadata=\"https://mcp.example.com/.well-known/"
                    "oauth-protected-resource/mcp\", scope=\"openid mcp\"")
              == 0,
          "challenge without error");
    c.error = "invalid_token";
    c.description = "bad \"kid\"\r\nX-Injected: 1";
    h = mcp_challenge_header(pool, &c);
    CHECK(strstr(h, "error=\"invalid_token\"") && !strchr(h, '\r') && !strchr(h, '\n')
              && strstr(h, "error_description=\"bad ?kid???X-Injected: 1\""),
          "challenge parameters cannot break out of their quotes");

    APR_ARRAY_PUSH(as, const char *) = ISSUER;
    prm.resource = AUDIENCE;
    prm.authorization_servers = as;
    prm.scopes_supported = NULL;
    prm.bearer_methods = as;
    apr_table_set(extra, "resource_name", "\"Demo\"");
    prm.dpop = 0;
    prm.extra = extra;
    json = mcp_prm_json(pool, &prm);
    doc = json_loads(json, 0, NULL);
    CHECK(doc && strcmp(json_string_value(json_object_get(doc, "resource")), AUDIENCE) == 0
              && json_object_get(doc, "scopes_supported") == NULL
              && strcmp(json_string_value(json_object_get(doc, "resource_name")), "Demo") == 0,
          "protected resource metadata document");
    CHECK(json_object_get(doc, "dpop_signing_alg_values_supported") == NULL
              && json_object_get(doc, "dpop_bound_access_tokens_required") == NULL,
          "metadata without DPoP says nothing of it");
    json_decref(doc);
    prm.dpop = 2;
    doc = json_loads(mcp_prm_json(pool, &prm), 0, NULL);
    CHECK(json_is_array(json_object_get(doc, "dpop_signing_alg_values_supported"))
              && json_is_true(json_object_get(doc, "dpop_bound_access_tokens_required")),
          "metadata with DPoP required: algs and dpop_bound_access_tokens_required true (RFC 9728 §2)");
    json_decref(doc);
    prm.dpop = 1;
    doc = json_loads(mcp_prm_json(pool, &prm), 0, NULL);
    CHECK(json_is_false(json_object_get(doc, "dpop_bound_access_tokens_required")),
          "metadata with DPoP allowed: dpop_bound_access_tokens_required false");
    json_decref(doc);
    CHECK(mcp_json_is_valid("[1,2]") && !mcp_json_is_valid("{bad"), "JSON validity check");

    /* RFC 9449 §7.1: a DPoP challenge beside the Bearer one, the error in
     * the scheme the client used */
    c.description = "expired";
    c.dpop_algs = "ES256 PS256";
    h = mcp_challenge_header(pool, &c);
    CHECK(strncmp(h, "Bearer resource_metadata=", 25) == 0 && strstr(h, ", DPoP resource_metadata=")
              && strstr(h, "algs=\"ES256 PS256\"") && strstr(h, "error=\"invalid_token\"") < strstr(h, "DPoP "),
          "challenge with DPoP allowed: Bearer first and carrying the error of a bearer presentation");
    c.error_in_dpop = 1;
    c.error = "invalid_dpop_proof";
    h = mcp_challenge_header(pool, &c);
    CHECK(strstr(h, "error=\"invalid_dpop_proof\"") > strstr(h, "DPoP ")
              && strstr(h, "error=") == strstr(h, "error=\"invalid_dpop_proof\""),
          "challenge after a DPoP presentation: the error in the DPoP challenge only");
    c.no_bearer = 1;
    h = mcp_challenge_header(pool, &c);
    CHECK(strncmp(h, "DPoP resource_metadata=", 23) == 0 && !strstr(h, "Bearer"),
          "challenge with DPoP required: no Bearer challenge");
}

/* ---- shared-cache markers (single flight across processes and hosts) ---- */

/* A one-entry socache like redis: MP-safe (no mutex), no atomic add, and a
 * read into a buffer too small for the value fails. rival_writes makes
 * another claimant's write land right after ours. down: 1, connections
 * refused; 2, as apr_redis once it holds its server for dead: every read
 * "not found", every store failing. */
static struct {
    char id[128], value[128];
    int present, rival_writes, down, calls, slow;
} slot;

static apr_status_t slot_store(ap_socache_instance_t *i, server_rec *s, const unsigned char *id,
                               unsigned int idlen, apr_time_t expiry, unsigned char *data,
                               unsigned int datalen, apr_pool_t *p)
{
    slot.calls++;
    if (slot.down && slot.slow)
        apr_sleep(apr_time_from_msec(300));
    if (slot.down)
        return APR_ECONNREFUSED;
    if (idlen >= sizeof(slot.id) || datalen >= sizeof(slot.value))
        return APR_ENOSPC;
    memcpy(slot.id, id, idlen);
    slot.id[idlen] = '\0';
    memcpy(slot.value, data, datalen);
    slot.value[datalen] = '\0';
    slot.present = 1;
    if (slot.rival_writes) {
        slot.rival_writes--;
        strcpy(slot.value, "rival");
    }
    return APR_SUCCESS;
}

static apr_status_t slot_retrieve(ap_socache_instance_t *i, server_rec *s, const unsigned char *id,
                                  unsigned int idlen, unsigned char *data, unsigned int *datalen,
                                  apr_pool_t *p)
{
    size_t len = strlen(slot.value);

    slot.calls++;
    if (slot.down && slot.slow)
        apr_sleep(apr_time_from_msec(300));
    if (slot.down)
        return slot.down == 2 ? APR_NOTFOUND : APR_ECONNREFUSED;
    if (!slot.present || strlen(slot.id) != idlen || memcmp(slot.id, id, idlen) != 0)
        return APR_NOTFOUND;
    if (len > *datalen)
        return APR_ENOSPC;
    memcpy(data, slot.value, len);
    *datalen = (unsigned int)len;
    return APR_SUCCESS;
}

static apr_status_t slot_remove(ap_socache_instance_t *i, server_rec *s, const unsigned char *id,
                                unsigned int idlen, apr_pool_t *p)
{
    slot.present = 0;
    return APR_SUCCESS;
}

static int health_downs, health_ups;

static void count_health(const mcp_cache_t *cache, int reachable, apr_status_t rv)
{
    (void)cache;
    (void)rv;
    if (reachable)
        health_ups++;
    else
        health_downs++;
}

static void test_cache_claim(void)
{
    ap_socache_provider_t provider = { .name = "slot", .store = slot_store,
                                       .retrieve = slot_retrieve, .remove = slot_remove };
    mcp_cache_t cache = { .provider = &provider, .on_health = count_health };
    int i;

    memset(&slot, 0, sizeof(slot));
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_WON,
          "claim on an empty shared cache: this caller owns the work");
    CHECK(mcp_cache_marker_alive(&cache, "fetch", pool), "the claim's marker is seen as alive");
    CHECK(mcp_cache_marker_younger(&cache, "fetch", apr_time_from_sec(5), pool)
              && !mcp_cache_marker_younger(&cache, "fetch", 0, pool) && !mcp_cache_marker_younger(&cache, "none", apr_time_from_sec(5), pool),
          "a marker tells how long ago it was claimed");
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_HELD,
          "second claim while the marker lives: not owned");
    mcp_cache_remove(&cache, "fetch", pool);
    CHECK(!mcp_cache_marker_alive(&cache, "fetch", pool), "a removed marker is gone");
    slot.rival_writes = 1;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_HELD,
          "claim race on a cache without atomic add: the claimant whose write was overwritten steps back");
    CHECK(mcp_cache_marker_alive(&cache, "fetch", pool),
          "after a lost race the winner's marker stays, so waiters keep waiting");

    /* the store failing is not someone else's claim */
    mcp_cache_remove(&cache, "fetch", pool);
    CHECK(mcp_cache_reachable(&cache) && health_downs == 0, "a store that answers (hits, misses) is reachable");
    slot.down = 1;
    for (i = 0; i < 3; i++)
        CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE,
              "claim while the store refuses connections: unavailable, not held by someone else");
    CHECK(!mcp_cache_reachable(&cache) && health_downs == 1 && health_ups == 0,
          "the outage is reported once, however many looks fail");
    slot.calls = 0;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE && slot.calls == 1,
          "a store that refuses at once is asked again on every use (its return is seen at once)");
    slot.slow = 1;
    mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool);
    slot.calls = 0;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE && slot.calls == 0,
          "after a failure that hung, the store is left alone for 5 s (one wait, not one a request)");
    slot.slow = 0;
    cache.rest_until = 0;
    slot.down = 2;
    for (i = 0; i < 3; i++)
        CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE
                  && !mcp_cache_marker_alive(&cache, "fetch", pool),
              "claim while the client library holds the server for dead (reads say 'not found'): unavailable");
    CHECK(!mcp_cache_reachable(&cache) && health_ups == 0, "and 'not found' is not taken for the store being back");
    slot.down = 0;
    cache.rest_until = 0;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_WON
              && mcp_cache_reachable(&cache) && health_ups == 1 && health_downs == 1,
          "the store back: the claim works and the recovery is reported once");
}

/* ---- token cache: what a repeat may skip ---- */

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
    CHECK(mcp_tokencache_lookup(tc, k[4], 1, pool, &jwt) == MCP_TC_VALID
              && mcp_tokencache_lookup(tc, k[0], 1, pool, &jwt) == MCP_TC_MISS
              && mcp_tokencache_lookup(tc, k[3], 1, pool, &jwt) == MCP_TC_VALID,
          "a fifth replaces the one stored longest ago");
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

/* access_token from a form: n found, the token and the rest (with length). */
static int form(const char *text, apr_size_t len, const char **token, const char **rest, apr_size_t *rest_len)
{
    return mcp_token_from_form(pool, text, len, token, rest, rest_len);
}

static void test_form_tokens(void)
{
    const char *tok, *rest;
    apr_size_t rlen;
    static const char with_nul[] = "a=1\0b&access_token=T1&c=2";

    CHECK(form("a=1&b=2", 7, &tok, &rest, &rlen) == 0 && rest == NULL, "form: no token, nothing to cut");
    CHECK(form("a=1&access_token=abc&b=2", 24, &tok, &rest, &rlen) == 1 && strcmp(tok, "abc") == 0
              && rlen == 7 && memcmp(rest, "a=1&b=2", 7) == 0,
          "form: the token is cut from the middle");
    CHECK(form("access%5Ftoken=abc&b=2", 22, &tok, &rest, &rlen) == 1 && strcmp(tok, "abc") == 0
              && strcmp(rest, "b=2") == 0,
          "form: a %-encoded name is the same parameter");
    CHECK(form("%61ccess_token=abc", 18, &tok, &rest, &rlen) == 1 && rlen == 0,
          "form: %61ccess_token is access_token");
    CHECK(form("a=1;access_token=abc;b=2", 24, &tok, &rest, &rlen) == 1 && strcmp(rest, "a=1;b=2") == 0,
          "form: ';' separates parameters too, and survives in the rest");
    CHECK(form("Access_Token=abc", 16, &tok, &rest, &rlen) == 1, "form: names are compared without case");
    CHECK(form("access.token=abc&access+token=x", 31, &tok, &rest, &rlen) == 2,
          "form: PHP's '.' and ' ' for '_' count (twice here)");
    CHECK(form("access_token[]=abc", 18, &tok, &rest, &rlen) == 1, "form: PHP's array form counts");
    CHECK(form("+access_token=a&%20access_token=b&access[token=c&access%5Btoken=d", 64, &tok, &rest, &rlen) == 4,
          "form: PHP's leading spaces and '[' for '_' count");
    CHECK(form("%u0061ccess_token=abc", 21, &tok, &rest, &rlen) == 1, "form: ASP.NET's %u0061 counts");
    CHECK(form("Access-Token=abc", 16, &tok, &rest, &rlen) == 1, "form: any separator between the words counts");
    CHECK(form("access_token%00x=abc", 20, &tok, &rest, &rlen) == 1, "form: a name cut at %00 counts");
    CHECK(form("access_tokens=abc&xaccess_token=1", 33, &tok, &rest, &rlen) == 0,
          "form: longer names are other parameters");
    CHECK(form("access_token=a%2Bb+c", 20, &tok, &rest, &rlen) == 1 && strcmp(tok, "a+b c") == 0,
          "form: the value is decoded");
    CHECK(form("access_token=a%zz", 17, &tok, &rest, &rlen) == 1 && strcmp(tok, "") == 0,
          "form: a broken escape leaves no usable token");
    CHECK(form("access_token=ab%00cd", 20, &tok, &rest, &rlen) == 1 && strcmp(tok, "") == 0,
          "form: %00 in the value leaves no usable token");
    CHECK(form(with_nul, sizeof(with_nul) - 1, &tok, &rest, &rlen) == 1 && strcmp(tok, "T1") == 0 && rlen == 9
              && memcmp(rest, "a=1\0b&c=2", 9) == 0,
          "form: bytes after a NUL are kept, length and all");
    CHECK(form("a=1&&access_token=x&b", 21, &tok, &rest, &rlen) == 1 && strcmp(rest, "a=1&&b") == 0,
          "form: empty parameters are kept as they were");
    CHECK(form("a=1&access_token=x&", 19, &tok, &rest, &rlen) == 1 && strcmp(rest, "a=1") == 0,
          "form: no dangling separator");
    CHECK(extract("Basic dXNlcjpwYXNz, Bearer abc", &tok) == MCP_TOKEN_MALFORMED,
          "a Bearer token joined to another scheme is malformed");
    CHECK(extract("Basic dXNlcjpwYXNz", &tok) == MCP_TOKEN_ABSENT, "another scheme alone is no token");
    CHECK(extract("Digest a=\"b,c\", realm=x", &tok) == MCP_TOKEN_ABSENT, "another scheme with commas is no token");
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

static void test_tokencache_scope(void)
{
    unsigned char a[MCP_TOKENCACHE_KEY_LEN], b[MCP_TOKENCACHE_KEY_LEN], a2[MCP_TOKENCACHE_KEY_LEN];
    int x, y;
    mcp_jwt_t *jwt = NULL;
    const char *err = NULL;
    apr_array_header_t *strict = apr_array_make(pool, 1, sizeof(const char *));

    mcp_tokencache_key("tok", 3, &x, a);
    mcp_tokencache_key("tok", 3, &y, b);
    mcp_tokencache_key("tok", 3, &x, a2);
    CHECK(memcmp(a, b, sizeof(a)) != 0 && memcmp(a, a2, sizeof(a)) == 0,
          "token cache: the key depends on the key set it was checked against");
    APR_ARRAY_PUSH(strict, const char *) = "at+jwt";
    mcp_jwt_parse(pool, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAA", 44, MCP_JWT_DEFAULT_MAX_LEN, NULL, &jwt, &err);
    CHECK(jwt && strcmp(mcp_jwt_typ(jwt), "JWT") == 0 && mcp_jwt_type_accepted(jwt, NULL)
              && !mcp_jwt_type_accepted(jwt, strict),
          "typ JWT: accepted by default, not where at+jwt is required");
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

static void test_forwarded(void)
{
    const char *host, *proto;

    CHECK(strcmp(mcp_forwarded_last_value(pool, "evil.example, mcp.example.com"), "mcp.example.com") == 0,
          "X-Forwarded-*: the last (proxy-appended) value counts");
    CHECK(strcmp(mcp_forwarded_last_value(pool, " https "), "https") == 0, "X-Forwarded-*: one value, trimmed");
    CHECK(mcp_forwarded_last_value(pool, "a, ") == NULL && mcp_forwarded_last_value(pool, NULL) == NULL,
          "X-Forwarded-*: an empty last value is none");
    CHECK(mcp_forwarded_parse_last(pool, "host=evil;proto=http, for=10.0.0.1;host=\"mcp.example.com:8443\";proto=https",
                                   &host, &proto)
              && strcmp(host, "mcp.example.com:8443") == 0 && strcmp(proto, "https") == 0,
          "Forwarded: host and proto of the last element, quoted values unquoted");
    CHECK(mcp_forwarded_parse_last(pool, "for=\"a,b\";Host=x.test", &host, &proto) && strcmp(host, "x.test") == 0
              && proto == NULL,
          "Forwarded: a comma inside quotes splits nothing; names without case");
    CHECK(mcp_forwarded_parse_last(pool, "for=1.2.3.4", &host, &proto) && host == NULL,
          "Forwarded: no host parameter, no host");
    CHECK(!mcp_forwarded_parse_last(pool, "host=\"unterminated", &host, &proto)
              && !mcp_forwarded_parse_last(pool, "host", &host, &proto),
          "Forwarded: broken syntax is refused");
    CHECK(mcp_forwarded_is_host("mcp.example.com") && mcp_forwarded_is_host("mcp.example.com:8443")
              && mcp_forwarded_is_host("[::1]:8080") && mcp_forwarded_is_host("10.0.0.1"),
          "host[:port] forms are hosts");
    CHECK(!mcp_forwarded_is_host("evil.example/path") && !mcp_forwarded_is_host("a@b") && !mcp_forwarded_is_host("")
              && !mcp_forwarded_is_host("h:") && !mcp_forwarded_is_host("h:123456") && !mcp_forwarded_is_host("[zz]"),
          "paths, userinfo, empty names and bad ports are not hosts");
}

static void test_http_bits(void)
{
    mcp_cache_control_t cc;

    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "private, max-age=60");
    CHECK(cc.max_age == 60 && !cc.shared_ok && !cc.no_store, "Cache-Control: private, max-age");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "no-cache\r\n");
    CHECK(cc.no_store && cc.max_age == -1, "Cache-Control: no-cache with the line ending curl leaves");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "max-age=0");
    mcp_cache_control_add(&cc, "S-MAXAGE=30");
    CHECK(cc.shared_ok && cc.max_age == 0, "Cache-Control over two lines; s-maxage allows shared caches");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "publicity, must-revalidatex");
    CHECK(!cc.shared_ok, "Cache-Control: directive names match whole");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "must-revalidate");
    CHECK(mcp_cache_control_shared_store(&cc), "Cache-Control: must-revalidate allows shared caches (RFC 9111 §3.5)");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "private, must-revalidate");
    CHECK(!mcp_cache_control_shared_store(&cc), "Cache-Control: private never goes to a shared cache");

    CHECK(strcmp(mcp_url_redacted(pool, "https://user:pass@idp.example/jwks"), "https://***@idp.example/jwks") == 0,
          "redacted: userinfo");
    CHECK(strcmp(mcp_url_redacted(pool, "https://idp.example/jwks?key=s3cret#f"), "https://idp.example/jwks?***#f") == 0,
          "redacted: query");
    CHECK(strcmp(mcp_url_redacted(pool, "https://idp.example/a@b"), "https://idp.example/a@b") == 0,
          "redacted: an @ in the path is no userinfo");
    CHECK(strcmp(mcp_field_value(pool, "alice@example.test"), "alice@example.test") == 0,
          "field value: printable ASCII as it is");
    CHECK(strcmp(mcp_field_value(pool, "Jos\xc3\xa9 100%"), "Jos%C3%A9 100%25") == 0,
          "field value: UTF-8 and %% percent-encoded");
    CHECK(strcmp(mcp_field_value(pool, "a\xc2\x85" "b\xe2\x80\xa8"), "a%C2%85b%E2%80%A8") == 0,
          "field value: U+0085 and U+2028 cannot split a line");
    CHECK(mcp_field_value(pool, "a\r\nX-Evil: 1") == NULL && mcp_field_value(pool, "a\tb") == NULL,
          "field value: control characters refuse the value");
}

/* A value as version 1 sealed it (no key id): AES-256-GCM, purpose as
 * associated data, [1][nonce][ciphertext][tag], base64url. */
static const char *seal_v1(const unsigned char *key, const char *purpose, const char *text)
{
    unsigned char raw[256];
    int n = 0, len = (int)strlen(text);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    char *b64 = NULL;
    size_t b64_len = 0;
    cjose_err err;
    const char *out = NULL;

    raw[0] = 1;
    memset(raw + 1, 0x5a, 12);
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw + 1)
        && EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)purpose, (int)strlen(purpose))
        && EVP_EncryptUpdate(ctx, raw + 13, &n, (const unsigned char *)text, len)
        && EVP_EncryptFinal_ex(ctx, raw + 13 + n, &n)
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, raw + 13 + len)
        && cjose_base64url_encode(raw, (size_t)(13 + len + 16), &b64, &b64_len, &err)) {
        out = apr_pstrmemdup(pool, b64, b64_len);
        cjose_get_dealloc()(b64);
    }
    EVP_CIPHER_CTX_free(ctx);
    return out;
}

static void test_seal(void)
{
    unsigned char key[MCP_SEAL_KEY_LEN], other[MCP_SEAL_KEY_LEN];
    const char *s, *s2, *plain;
    char *bad;
    apr_size_t n = 0;
    static const char text[] = "{\"cid\":\"x\",\"nul\":\"a\0b\"}";

    memset(key, 7, sizeof(key));
    memset(other, 8, sizeof(other));
    s = mcp_seal(pool, key, "state", text, sizeof(text) - 1);
    CHECK(s != NULL && mcp_b64url_is_strict(s, strlen(s)), "seal: base64url on the wire");
    plain = mcp_unseal(pool, key, "state", s, &n);
    CHECK(plain && n == sizeof(text) - 1 && memcmp(plain, text, n) == 0, "seal: round trip, NUL bytes and all");
    s2 = mcp_seal(pool, key, "state", text, sizeof(text) - 1);
    CHECK(strcmp(s, s2) != 0, "seal: the same text seals differently each time (random nonce)");
    CHECK(mcp_unseal(pool, key, "code", s, &n) == NULL, "seal: refused for another purpose");
    CHECK(mcp_unseal(pool, other, "state", s, &n) == NULL, "seal: refused with another key");
    bad = apr_pstrdup(pool, s);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    CHECK(mcp_unseal(pool, key, "state", bad, &n) == NULL, "seal: one changed character is refused");
    CHECK(mcp_unseal(pool, key, "state", apr_pstrndup(pool, s, strlen(s) - 4), &n) == NULL,
          "seal: a truncated value is refused");
    CHECK(mcp_unseal(pool, key, "state", "", &n) == NULL && mcp_unseal(pool, key, "state", "AAAA", &n) == NULL
              && mcp_unseal(pool, key, "state", "a=b", &n) == NULL && mcp_unseal(pool, key, "state", NULL, &n) == NULL,
          "seal: empty, short and non-base64url values are refused");
    s = mcp_seal(pool, key, "code", "", 0);
    CHECK(s && (plain = mcp_unseal(pool, key, "code", s, &n)) != NULL && n == 0 && *plain == '\0',
          "seal: an empty text round-trips");
    {
        char mine[MCP_SEAL_KEY_ID_HEX], theirs[MCP_SEAL_KEY_ID_HEX], named[MCP_SEAL_KEY_ID_HEX];
        const char *v1 = seal_v1(key, "state", "{\"old\":1}");

        mcp_seal_key_id(key, mine);
        mcp_seal_key_id(other, theirs);
        s = mcp_seal(pool, other, "state", text, sizeof(text) - 1);
        CHECK(strlen(mine) == 8 && strcmp(mine, theirs) != 0, "seal: two keys, two key ids of 8 hex digits");
        CHECK(mcp_sealed_key_id(s, named) && strcmp(named, theirs) == 0 && mcp_unseal(pool, key, "state", s, &n) == NULL,
              "seal: a value from a host with another key names that key's id, and does not open here");
        bad = apr_pstrdup(pool, s);
        bad[2] = bad[2] == 'A' ? 'B' : 'A';
        CHECK(mcp_unseal(pool, other, "state", bad, &n) == NULL, "seal: a value whose key id was altered does not open");
        CHECK(v1 && (plain = mcp_unseal(pool, key, "state", v1, &n)) != NULL && strcmp(plain, "{\"old\":1}") == 0
                  && !mcp_sealed_key_id(v1, named),
              "seal: a value sealed before key ids (version 1) still opens, and names no key");
    }
}

static int uri_ok(const char *uri)
{
    const char *why;

    return mcp_client_redirect_uri_ok(pool, uri, &why);
}

static const char *reg(const char *json, mcp_client_t *cl, const char **desc)
{
    return mcp_client_from_registration(pool, json, strlen(json), cl, desc);
}

static const char *cimd(const char *url, const char *json, mcp_client_t *cl, const char **desc)
{
    return mcp_client_from_metadata_document(pool, url, json, strlen(json), cl, desc);
}

static void test_client(void)
{
    mcp_client_t cl, back;
    const char *err, *desc = NULL, *json;

    CHECK(uri_ok("https://app.example.com/cb") && uri_ok("http://127.0.0.1:33418/callback")
              && uri_ok("http://localhost:6274/oauth/callback") && uri_ok("http://[::1]:8080/cb")
              && uri_ok("cursor://anysphere.cursor-retrieval/oauth/callback") && uri_ok("com.example.app:/oauth2redirect"),
          "redirect URIs: https, loopback http, native-app schemes");
    CHECK(!uri_ok("http://app.example.com/cb") && !uri_ok("http://127.0.0.1.evil.example/cb")
              && !uri_ok("http://localhost.evil.example/cb"),
          "redirect URIs: http only to loopback hosts");
    CHECK(!uri_ok("javascript:alert(1)") && !uri_ok("data:text/html,x") && !uri_ok("file:///etc/passwd")
              && !uri_ok("JavaScript://x/%0aalert(1)"),
          "redirect URIs: no script, data or file schemes");
    CHECK(!uri_ok("https://app.example.com/cb#frag") && !uri_ok("https://user:pw@app.example.com/cb")
              && !uri_ok("/relative/cb") && !uri_ok("https://app.example.com/a b") && !uri_ok("https:///nohost"),
          "redirect URIs: no fragment, user info, relative form, spaces or missing host");

    err = reg("{\"client_name\":\"Inspector\",\"redirect_uris\":[\"http://localhost:6274/cb\"],"
                                             "\"grant_types\":[\"authorization_code\",\"refresh_token\"]}", &cl, &desc);
    CHECK(err == NULL && cl.redirect_uris->nelts == 1 && strcmp(cl.client_name, "Inspector") == 0,
          "registration: a usual MCP client request");
    err = reg("{\"redirect_uris\":[\"http://evil.example/cb\"]}", &cl, &desc);
    CHECK(err && strcmp(err, "invalid_redirect_uri") == 0, "registration: a bad redirect URI is refused");
    err = reg("{\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[\"implicit\"]}", &cl, &desc);
    CHECK(err && strcmp(err, "invalid_client_metadata") == 0, "registration: an unserved grant is refused");
    err = reg("{\"redirect_uris\":[]}", &cl, &desc);
    CHECK(err && strcmp(err, "invalid_redirect_uri") == 0, "registration: no redirect URI is refused");

    err = reg("{\"redirect_uris\":[\"https://a.example/cb\",\"http://127.0.0.1/x\"]}", &cl, &desc);
    cl.idp_client_id = "idp-123";
    cl.idp_client_secret = "s3cret";
    json = mcp_client_to_json(pool, &cl);
    CHECK(err == NULL && mcp_client_from_json(pool, json, strlen(json), &back)
              && strcmp(back.idp_client_id, "idp-123") == 0 && strcmp(back.idp_client_secret, "s3cret") == 0
              && back.redirect_uris->nelts == 2,
          "client: the sealed form round-trips");
    {
        mcp_client_t app, app_back;

        err = reg("{\"redirect_uris\":[\"http://127.0.0.1:33418/cb\",\"https://vscode.dev/redirect\",\"com.example.app:/cb\"],"
                  "\"application_type\":\"native\"}", &app, &desc);
        json = err ? "" : mcp_client_to_json(pool, &app);
        CHECK(err == NULL && strcmp(app.application_type, "native") == 0 && mcp_client_from_json(pool, json, strlen(json), &app_back)
                  && app_back.application_type && strcmp(app_back.application_type, "native") == 0
                  && strstr(mcp_client_registration_response(pool, "id", &app_back, 0), "\"application_type\":\"native\""),
              "registration: a native app with loopback, claimed https and private-use redirect URIs is kept as native");
        err = reg("{\"redirect_uris\":[\"https://app.example/cb\",\"http://localhost:8080/cb\"],\"application_type\":\"web\"}",
                  &app, &desc);
        CHECK(err && strcmp(err, "invalid_redirect_uri") == 0 && strstr(desc, "redirect URI 2"),
              "registration: a web app may not redirect to a loopback host (OIDC Registration §2)");
        err = reg("{\"redirect_uris\":[\"com.example.app:/cb\"],\"application_type\":\"web\"}", &app, &desc);
        CHECK(err && strcmp(err, "invalid_redirect_uri") == 0, "registration: nor to a private-use scheme");
        err = reg("{\"redirect_uris\":[\"https://app.example/cb\"],\"application_type\":\"web\"}", &app, &desc);
        CHECK(err == NULL && strcmp(app.application_type, "web") == 0, "registration: a web app with an https redirect URI");
        err = reg("{\"redirect_uris\":[\"https://app.example/cb\"],\"application_type\":\"desktop\"}", &app, &desc);
        CHECK(err && strcmp(err, "invalid_client_metadata") == 0, "registration: an unknown application_type is refused");
        err = cimd("https://c.example/id", "{\"client_id\":\"https://c.example/id\",\"redirect_uris\":[\"http://127.0.0.1/cb\"],"
                   "\"application_type\":\"web\"}", &app, &desc);
        CHECK(err && strcmp(err, "invalid_redirect_uri") == 0, "metadata document: application_type is checked there too");
    }
    {
        static const char req[] = "{\"client_name\":\"N\",\"redirect_uris\":[\"https://a.example/cb\"],\"grant_types\":[\"authorization_code\"],"
            "\"sector_identifier_uri\":\"https://evil.example/s\",\"jwks_uri\":\"https://evil.example/k\","
            "\"request_uris\":[\"https://evil.example/r\"],\"post_logout_redirect_uris\":[\"https://evil.example/l\"],"
            "\"application_type\":\"native\"}";
        const char *sent = mcp_client_idp_registration(pool, req, sizeof(req) - 1,
                                                       "https://gw.example/.well-known/mcp-auth/callback/mcp");

        CHECK(sent && strstr(sent, "\"client_name\":\"N\"") && strstr(sent, "\"application_type\":\"native\"")
                  && strstr(sent, "authorization_code") && !strstr(sent, "evil.example") && !strstr(sent, "a.example")
                  && strstr(sent, "\"redirect_uris\":[\"https://gw.example/.well-known/mcp-auth/callback/mcp\"]"),
              "registration at the IdP: the client's description and application_type pass; its redirect URIs become "
              "the gateway's callback; URLs the IdP would fetch or send users to do not pass");
    }
    /* RFC 7636 appendix B */
    CHECK(mcp_client_pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                                       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
              && !mcp_client_pkce_s256_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl",
                                               "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
              && !mcp_client_pkce_s256_matches("short", "x"),
          "PKCE S256: the RFC 7636 example matches, a changed or short verifier does not");
    CHECK(mcp_client_has_redirect_uri(&back, "http://127.0.0.1/x") && !mcp_client_has_redirect_uri(&back, "http://127.0.0.1/x/")
              && !mcp_client_has_redirect_uri(&back, "HTTPS://a.example/cb"),
          "client: redirect URIs match exactly");

    err = cimd("https://app.example/client.json", "{\"client_id\":\"https://app.example/client.json\",\"client_name\":\"App\","
                                            "\"redirect_uris\":[\"http://127.0.0.1:9/cb\"]}", &cl, &desc);
    CHECK(err == NULL && strcmp(cl.metadata_url, "https://app.example/client.json") == 0, "CIMD: a document naming itself");
    err = cimd("https://app.example/client.json", "{\"client_id\":\"https://evil.example/client.json\","
                                            "\"redirect_uris\":[\"http://127.0.0.1:9/cb\"]}", &cl, &desc);
    CHECK(err && strcmp(err, "invalid_client") == 0, "CIMD: a document naming another client id is refused");
}

static void test_facade(void)
{
    static const char idp[] = "{\"issuer\":\"https://idp.example/realms/x\",\"authorization_endpoint\":\"https://idp.example/auth\","
                              "\"token_endpoint\":\"https://idp.example/token\",\"jwks_uri\":\"https://idp.example/certs\","
                              "\"code_challenge_methods_supported\":[\"plain\",\"S256\"],\"scopes_supported\":[\"openid\"],"
                              "\"pushed_authorization_request_endpoint\":\"https://idp.example/par\","
                              "\"dpop_signing_alg_values_supported\":[\"ES256\"]}";
    mcp_facade_t f;
    const char *err = NULL, *out;
    json_t *doc;

    memset(&f, 0, sizeof(f));
    out = mcp_facade_metadata(pool, idp, &f, &err);
    doc = json_loads(out, 0, NULL);
    CHECK(doc && strcmp(json_string_value(json_object_get(doc, "authorization_endpoint")), "https://idp.example/auth") == 0
              && json_object_get(doc, "dpop_signing_alg_values_supported") != NULL,
          "facade without an issuer: the IdP's document as it is, DPoP algs included (the client asks the IdP)");
    json_decref(doc);
    f.issuer = "https://mcp.example/mcp";
    f.authorization_endpoint = "https://mcp.example/.well-known/mcp-auth/authorize/mcp";
    f.token_endpoint = "https://mcp.example/.well-known/mcp-auth/token/mcp";
    f.registration_endpoint = "https://mcp.example/.well-known/mcp-auth/register/mcp";
    f.client_metadata_documents = 1;
    doc = json_loads(mcp_facade_metadata(pool, idp, &f, &err), 0, NULL);
    CHECK(doc && strcmp(json_string_value(json_object_get(doc, "issuer")), "https://mcp.example/mcp") == 0
              && strcmp(json_string_value(json_object_get(doc, "token_endpoint")), f.token_endpoint) == 0
              && json_is_true(json_object_get(doc, "authorization_response_iss_parameter_supported"))
              && json_is_true(json_object_get(doc, "client_id_metadata_document_supported")),
          "relay metadata: the gateway's issuer and endpoints, iss promised, CIMD");
    CHECK(doc && json_array_size(json_object_get(doc, "code_challenge_methods_supported")) == 1
              && json_object_get(doc, "pushed_authorization_request_endpoint") == NULL
              && strcmp(json_string_value(json_object_get(doc, "jwks_uri")), "https://idp.example/certs") == 0,
          "relay metadata: S256 only, no IdP endpoints the relay does not serve, the IdP's keys kept");
    CHECK(doc && json_object_get(doc, "dpop_signing_alg_values_supported") == NULL,
          "relay metadata: no DPoP algs (the relay redeems codes itself and issues bearer tokens)");
    json_decref(doc);
    CHECK(mcp_facade_metadata(pool, "[1]", &f, &err) == NULL, "facade: an IdP document that is no object is refused");
}

static void test_public_address(void)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    static const char *const priv4[] = { "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                         "100.64.0.1", "0.0.0.0", "224.0.0.1", NULL };
    static const char *const priv6[] = { "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "64:ff9b::a00:1",
                                         "::127.0.0.1", "64:ff9b:1::1", "fec0::1", "2002:a00:1::1", "2001:0:1::1", NULL };
    int i, refused = 1;

    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    inet_pton(AF_INET, "93.184.216.34", &v4.sin_addr);
    CHECK(mcp_address_is_public((struct sockaddr *)&v4), "SSRF: a public IPv4 address is allowed");
    for (i = 0; priv4[i]; i++) {
        inet_pton(AF_INET, priv4[i], &v4.sin_addr);
        refused &= !mcp_address_is_public((struct sockaddr *)&v4);
    }
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    for (i = 0; priv6[i]; i++) {
        inet_pton(AF_INET6, priv6[i], &v6.sin6_addr);
        refused &= !mcp_address_is_public((struct sockaddr *)&v6);
    }
    CHECK(refused, "SSRF: loopback, private, link-local (metadata service), CGNAT, mapped and NAT64 forms are refused");
    inet_pton(AF_INET6, "2606:4700::1111", &v6.sin6_addr);
    CHECK(mcp_address_is_public((struct sockaddr *)&v6), "SSRF: a public IPv6 address is allowed");
}

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

static void test_scope(void)
{
    CHECK(mcp_scope_list_covers(pool, "openid mcp:tools", "mcp:tools openid"), "scope list covers the same words in any order");
    CHECK(mcp_scope_list_covers(pool, "openid", NULL) && mcp_scope_list_covers(pool, "", ""), "nothing asked is covered");
    CHECK(!mcp_scope_list_covers(pool, "openid mcp:tools", "openid mcp:admin"), "a word not granted is not covered");
    CHECK(!mcp_scope_list_covers(pool, "mcp:tools", "mcp:tool"), "words, not prefixes");
    {
        int valid = 0;
        const char *n = mcp_scope_list_normal(pool, "  openid   mcp:tools ", &valid);

        CHECK(n && strcmp(n, "openid mcp:tools") == 0 && valid, "scope normal form: one space between words");
        CHECK(mcp_scope_list_normal(pool, " ", &valid) == NULL && valid
                  && mcp_scope_list_normal(pool, "", &valid) == NULL && mcp_scope_list_normal(pool, NULL, &valid) == NULL,
              "scope normal form: blanks, empty and absent are all no scope (the IdP's default)");
        mcp_scope_list_normal(pool, "openid\tprofile", &valid);
        CHECK(!valid, "scope normal form: a tab is not a separator but a bad scope-token");
    }
    {
        apr_array_header_t *apis = words(pool, "66666666-7777-8888-9999-000000000000", "api://mcp-server/");

        CHECK(mcp_entra_foreign_scope(pool, "openid offline_access api://mcp-server/mcp.tools "
                                      "66666666-7777-8888-9999-000000000000/.default", apis) == NULL,
              "Entra scopes: OpenID scopes and this API's scopes, in both forms of its name, pass");
        CHECK(strcmp(mcp_entra_foreign_scope(pool, "api://mcp-server/.default https://graph.microsoft.com/.default", apis) ?: "",
                     "https://graph.microsoft.com/.default") == 0,
              "Entra scopes: another API's .default is named as foreign");
        CHECK(mcp_entra_foreign_scope(pool, "User.Read", apis) != NULL, "Entra scopes: a bare scope is Microsoft Graph's");
        CHECK(mcp_entra_foreign_scope(pool, "api://mcp-server-evil/x", apis) != NULL
                  && mcp_entra_foreign_scope(pool, "api://mcp/x", apis) != NULL,
              "Entra scopes: an API whose name starts or ends like this one's is another API");
        CHECK(mcp_entra_foreign_scope(pool, "/x", apis) != NULL, "Entra scopes: an empty API name is no API of ours");
    }

    json_t *claims;

    CHECK(mcp_scope_is_token("mcp:tools"), "scope: a scope-token passes");
    CHECK(!mcp_scope_is_token("a b") && !mcp_scope_is_token("a\"b") && !mcp_scope_is_token("")
              && !mcp_scope_is_token("caf\xc3\xa9"),
          "scope: space, quote, empty and non-ASCII are not scope-tokens (RFC 6749 §3.3)");
    CHECK(mcp_scope_list_has("openid mcp:tools", "mcp:tools"), "scope list: a word is found");
    CHECK(!mcp_scope_list_has("openid mcp:tools", "mcp"), "scope list: a prefix of a word is not the word");
    CHECK(!mcp_scope_list_has("openid MCP", "mcp"), "scope list: words are case-sensitive");
    CHECK(!mcp_scope_list_has("openid", ""), "scope list: the empty word is never found");
    CHECK(strcmp(mcp_scope_list_add(pool, "a b", words(pool, "b", "c")), "a b c") == 0,
          "scope list: only missing words are appended");
    CHECK(strcmp(mcp_scope_list_add(pool, "", words(pool, "x", NULL)), "x") == 0,
          "scope list: appending to an empty list has no leading space");

    claims = json_loads("{\"scope\":\"openid mcp:tools\"}", 0, NULL);
    CHECK(mcp_claims_grant_scopes(claims, words(pool, "mcp:tools", "openid")), "scope claim: a string grants its words");
    CHECK(!mcp_claims_grant_scopes(claims, words(pool, "mcp:tools", "admin")), "scope claim: every scope must be granted");
    json_decref(claims);
    claims = json_loads("{\"scp\":[\"files.read\",\"mcp\"]}", 0, NULL);
    CHECK(mcp_claims_grant_scopes(claims, words(pool, "mcp", NULL)), "scp claim: an array element grants it");
    CHECK(!mcp_claims_grant_scopes(claims, words(pool, "files", NULL)), "scp claim: no prefix match in arrays");
    json_decref(claims);
    claims = json_loads("{\"scope\":[\"mcp\"]}", 0, NULL);
    CHECK(mcp_claims_grant_scopes(claims, words(pool, "mcp", NULL)), "scope claim: an array is read too");
    json_decref(claims);
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

/* ---- docstore: documents at URLs clients choose stay bounded per process ---- */

/* A loopback HTTP server that answers every request with one small JSON
 * document, and counts the requests. */
static apr_socket_t *doc_listener;
static volatile apr_uint32_t doc_requests;

static void *APR_THREAD_FUNC doc_server(apr_thread_t *thread, void *data)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Cache-Control: max-age=300\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    apr_pool_t *p;
    apr_socket_t *conn;

    (void)data;
    apr_pool_create(&p, NULL);
    while (apr_socket_accept(&conn, doc_listener, p) == APR_SUCCESS) {
        char buf[2048];
        apr_size_t n, got = 0, len;

        /* the request head, then the answer */
        while (got < sizeof(buf) - 1 && (n = sizeof(buf) - 1 - got, apr_socket_recv(conn, buf + got, &n) == APR_SUCCESS)) {
            got += n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        apr_atomic_inc32(&doc_requests);
        len = sizeof(answer) - 1;
        apr_socket_send(conn, answer, &len);
        apr_socket_close(conn);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static int parsed_docs;

static void *parse_any(apr_pool_t *p, const char *body, apr_size_t len, const void *ctx, const char **err)
{
    (void)ctx;
    (void)err;
    parsed_docs++;
    return apr_pstrmemdup(p, body, len);
}

static void test_docstore_limit(void)
{
    apr_sockaddr_t *sa;
    apr_thread_t *thread;
    apr_status_t rv;
    mcp_docstore_t *store;
    mcp_doc_policy_t policy;
    const mcp_doc_t *kept;
    const char *err, *base;
    apr_pool_t *held;
    int i;

    mcp_fetch_global_init();
    apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, pool);
    apr_socket_create(&doc_listener, APR_INET, SOCK_STREAM, APR_PROTO_TCP, pool);
    apr_socket_bind(doc_listener, sa);
    apr_socket_listen(doc_listener, 16);
    apr_socket_addr_get(&sa, APR_LOCAL, doc_listener);
    base = apr_psprintf(pool, "http://127.0.0.1:%d/doc", sa->port);
    apr_thread_create(&thread, NULL, doc_server, NULL, pool);

    memset(&policy, 0, sizeof(policy));
    policy.refresh_min = policy.refresh_max = apr_time_from_sec(300);
    policy.max_stale = apr_time_from_sec(300);
    policy.fetch.connect_timeout_ms = 5000;
    policy.fetch.timeout_ms = 10000;
    policy.fetch.max_bytes = 1024;

    mcp_docstore_create(&store, pool, NULL);
    mcp_docstore_limit(store, 2);
    apr_pool_create(&held, pool);
    kept = mcp_docstore_get(store, apr_pstrcat(pool, base, "/a", NULL), parse_any, NULL, &policy, 0, held, &err);
    CHECK(kept && strcmp(kept->parsed, "{}") == 0, "docstore: a document fetched and parsed");
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/b", NULL), parse_any, NULL, &policy, 0, pool, &err);
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/a", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 2 && parsed_docs == 2, "docstore: a fresh document is served from the process, not fetched again");
    for (i = 0; i < 50; i++)
        mcp_docstore_get(store, apr_psprintf(pool, "%s/n%d", base, i), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 52, "docstore: 50 more URLs, 50 more fetches");
    CHECK(kept && strcmp(kept->parsed, "{}") == 0,
          "docstore: a document a request still holds outlives its eviction");
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/a", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 53, "docstore with a limit of 2: the first document was dropped (fetched again, no shared cache here)");
    apr_pool_destroy(held);

    mcp_docstore_create(&store, pool, NULL);
    rv = APR_SUCCESS;
    for (i = 0; i < 5; i++)
        mcp_docstore_get(store, apr_psprintf(pool, "%s/u%d", base, i), parse_any, NULL, &policy, 0, pool, &err);
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/u0", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 58, "docstore without a limit: every document is kept");

    /* a copy fetched where private addresses are allowed is not one where they are not */
    policy.fetch.public_only = 1;
    kept = mcp_docstore_get(store, apr_pstrcat(pool, base, "/u0", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(kept == NULL && doc_requests == 58,
          "docstore: a loopback document held for a lax lookup is not served to a public-only one (nor fetched)");
    policy.fetch.public_only = 0;
    kept = mcp_docstore_get(store, apr_pstrcat(pool, base, "/u0", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(kept != NULL && doc_requests == 58, "docstore: and the public-only refusal does not block the lax lookup");

    apr_socket_shutdown(doc_listener, APR_SHUTDOWN_READWRITE);
    apr_socket_close(doc_listener);
    apr_thread_join(&rv, thread);
}

/* ---- authorization inside MCP: rules and JSON-RPC requests ---- */

static const mcp_rule_t *rule_of(mcp_kind_t kind, const char *words)
{
    char *copy = apr_pstrdup(pool, words), *state = NULL, *w;
    char *argv[16];
    int argc = 0;
    mcp_rule_t *rule = apr_palloc(pool, sizeof(*rule));

    for (w = apr_strtok(copy, " ", &state); w && argc < 16; w = apr_strtok(NULL, " ", &state))
        argv[argc++] = w;
    return mcp_rule_parse(pool, kind, argc, argv, rule) ? NULL : rule;
}

static void test_policy(void)
{
    apr_array_header_t *rules = apr_array_make(pool, 4, sizeof(const mcp_rule_t *));
    const mcp_rule_t *m;
    const char *scopes;
    mcp_jwt_t *user = mcp_jwt_verified(pool, json_pack("{s:s, s:s, s:[s,s]}", "sub", "u", "scope", "mcp:tools",
                                                       "groups", "engineering", "ops"), "RS256", "k", NULL);
    mcp_rule_t r;
    char *bad1[] = { "x" }, *bad2[] = { "x", "scope" }, *bad3[] = { "x", "allow", "scope", "a" },
         *bad4[] = { "x", "claim", "groups" }, *bad5[] = { "x", "permit" }, *bad6[] = { "x", "scope", "a\"b" };

    CHECK(mcp_glob_matches("delete_*", "delete_repo") && !mcp_glob_matches("delete_*", "undelete_repo"),
          "glob: * at the end");
    CHECK(mcp_glob_matches("*", "") && mcp_glob_matches("a?c", "abc") && !mcp_glob_matches("a?c", "ac"), "glob: * and ?");
    CHECK(mcp_glob_matches("file:///etc/*", "file:///etc/ssl/x") && !mcp_glob_matches("file:///etc/*", "file:///etcx"),
          "glob: * crosses slashes (URIs), the prefix is literal");
    CHECK(mcp_glob_matches("*a*b*c", "xxaxxbxxbxxc") && !mcp_glob_matches("*a*b*c", "xxaxxbxx"), "glob: backtracking");
    CHECK(mcp_glob_matches("a[1]", "a[1]") && !mcp_glob_matches("a[1]", "a1"), "glob: brackets are literal");
    CHECK(!mcp_glob_matches("**********************************b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
          "glob: many stars stay linear (no blow-up)");

    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 1, bad1, &r) != NULL, "rule: a pattern alone is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 2, bad2, &r) != NULL, "rule: scope without scopes is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 4, bad3, &r) != NULL, "rule: allow mixed with scope is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 3, bad4, &r) != NULL, "rule: claim without a value is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 2, bad5, &r) != NULL, "rule: an unknown requirement is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 3, bad6, &r) != NULL, "rule: a scope with a quote is refused");

    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "delete_* scope repo:admin mcp:tools");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "search_* claim groups engineering");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "secret_* claim groups finance scope mcp:tools");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "* scope mcp:tools");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_RESOURCE, "file:///etc/* deny");
    CHECK(APR_ARRAY_IDX(rules, 0, const mcp_rule_t *) && APR_ARRAY_IDX(rules, 4, const mcp_rule_t *), "rules parse");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "delete_repo", user, &m, &scopes) == MCP_VERDICT_SCOPE
          && scopes && strcmp(scopes, "repo:admin mcp:tools") == 0,
          "a missing scope: step-up, naming every scope the rule needs");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "search_code", user, &m, &scopes) == MCP_VERDICT_ALLOW
          && m == APR_ARRAY_IDX(rules, 1, const mcp_rule_t *), "a claim held (array member): allowed by that rule");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "secret_x", user, &m, &scopes) == MCP_VERDICT_DENY,
          "a claim not held: denied (no step-up for claims)");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "echo", user, &m, &scopes) == MCP_VERDICT_ALLOW,
          "the catch-all: allowed with its scope");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "echo", NULL, &m, &scopes) == MCP_VERDICT_SCOPE,
          "anonymous: scopes missing");
    CHECK(mcp_policy_decide(pool, rules, 1, MCP_KIND_PROMPT, "greet", user, &m, &scopes) == MCP_VERDICT_DENY && m == NULL,
          "no rule of the kind: the default (deny)");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_PROMPT, "greet", user, &m, &scopes) == MCP_VERDICT_ALLOW,
          "no rule of the kind: the default (allow)");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_RESOURCE, "file:///etc/passwd", user, &m, &scopes) == MCP_VERDICT_DENY,
          "a resource rule denies");
    CHECK(mcp_policy_has_kind(rules, MCP_KIND_RESOURCE) && !mcp_policy_has_kind(rules, MCP_KIND_PROMPT), "kinds with rules");

    {
        /* spellings a server normalises to file:///etc/passwd (or into a denied URI) */
        static const char *const denied[] = {
            "file:///etc/passwd", "FILE:///etc/passwd", "file://localhost/etc/passwd", "file://LOCALHOST/etc/passwd",
            "file://%6cocalhost/etc/passwd", "file:///tmp/../etc/passwd", "file:///./etc/passwd", "file:/etc/passwd",
            "file:etc/passwd", "file:///../etc/passwd", " file:///etc/passwd", "file:///et\tc/passwd",
            "file:\\\\\\etc\\passwd", "file:///%65tc/passwd", "file:///tmp/%2e%2e/etc/passwd", "file:///tmp/.%2E/etc/x",
            /* hosts a WHATWG parser maps by UTS #46 to localhost: full-width
             * letters, a soft hyphen, a zero-width space, escaped or not */
            "file://\xef\xbd\x8c\xef\xbd\x8f\xef\xbd\x83\xef\xbd\x81\xef\xbd\x8c\xef\xbd\x88\xef\xbd\x8f\xef\xbd\x93\xef\xbd\x94/etc/passwd",
            "file://local\xc2\xadhost/etc/passwd", "file://local\xe2\x80\x8bhost/etc/passwd",
            "file://%EF%BD%8Cocalhost/etc/passwd", "file://local%C2%ADhost/etc/passwd",
        };
        static const struct { const char *in, *out; } forms[] = {
            { "https://API.example.com:443/v1/x", "https://api.example.com/v1/x" },
            { "https://api.example.com:/v1/x", "https://api.example.com/v1/x" },
            { "https://api.example.com:0443/v1/x", "https://api.example.com/v1/x" },
            { "https://u:p@api.example.com/v1/x", "https://api.example.com/v1/x" },
            { "https://0x7f.0.0.1/x", "https://127.0.0.1/x" },
            { "https://2130706433/x", "https://127.0.0.1/x" },
            { "https://127.1/x", "https://127.0.0.1/x" },
            { "https://0177.0.0.1/x", "https://127.0.0.1/x" },
            { "https://127.0.0.1", "https://127.0.0.1/" },
            { "http://a.example:80/x", "http://a.example/x" },
            { "wss://a.example:443/x", "wss://a.example/x" },
            { "greeting://root:", "greeting://root" },
            { "users://U123/profile", "users://U123/profile" },
            { "file:///docs/caf\xc3\xa9.txt", "file:///docs/caf\xc3\xa9.txt" },
            { "file:///docs/caf%C3%A9.txt", "file:///docs/caf\xc3\xa9.txt" },
            { "docs://caf%c3%a9/menu", "docs://caf\xc3\xa9/menu" },
            { "http://[0::1]/admin", "http://[::1]/admin" },
            { "HTTP://[0:0:0:0:0:0:0:1]:80/admin", "http://[::1]/admin" },
            { "http://[::0:1]/admin", "http://[::1]/admin" },
            { "https://[2001:DB8:0:0:1:0:0:1]/x", "https://[2001:db8::1:0:0:1]/x" },
            { "http://[1:2:3:4:5:6:0:0]/", "http://[1:2:3:4:5:6::]/" },
            { "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/" },
            { "mcp:thing", "mcp:thing" },
        };
        const mcp_rule_t *deny_etc = rule_of(MCP_KIND_RESOURCE, "file:///etc/* deny");
        apr_array_header_t *only = apr_array_make(pool, 1, sizeof(const mcp_rule_t *));
        size_t i;
        int all = 1;

        APR_ARRAY_PUSH(only, const mcp_rule_t *) = deny_etc;
        for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
            int d = mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, denied[i], user, &m, &scopes) == MCP_VERDICT_DENY;

            if (!d)
                printf("# allowed: %s (normalised: %s)\n", denied[i], mcp_resource_uri_normalized(pool, denied[i]));
            all &= d;
        }
        CHECK(all, "file:///etc/* deny holds against every spelling a server normalises to it");
        for (all = 1, i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
            const char *got = mcp_resource_uri_normalized(pool, forms[i].in);

            if (strcmp(got, forms[i].out) != 0)
                printf("# %s -> %s, want %s\n", forms[i].in, got, forms[i].out);
            all &= strcmp(got, forms[i].out) == 0;
        }
        CHECK(all, "normalised forms: default and empty ports, userinfo, IPv4 forms, an empty path; other schemes keep their host's case");
        CHECK(mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "users://U123/profile", user, &m, &scopes) == MCP_VERDICT_ALLOW
              && mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "file:///docs/My Notes.txt", user, &m, &scopes)
                     == MCP_VERDICT_ALLOW,
              "URIs no rule denies in any spelling stay allowed (upper case hosts of other schemes, spaces, UTF-8)");
        CHECK(mcp_resource_uri_normalized(pool, "https://caf\xc3\xa9.example/x") == NULL
              && mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "https://caf\xc3\xa9.example/x", user, &m, &scopes)
                     == MCP_VERDICT_DENY && m == NULL
              && mcp_policy_decide(pool, NULL, 0, MCP_KIND_RESOURCE, "https://caf\xc3\xa9.example/x", user, &m, &scopes)
                     == MCP_VERDICT_ALLOW,
              "a special URL's host beyond ASCII: no normal form, denied where rules speak of resources, not elsewhere");
        CHECK(mcp_resource_uri_normalized(pool, "http://[::g]/x") == NULL
              && mcp_resource_uri_normalized(pool, "http://[::1%25lo]/x") == NULL,
              "an IPv6 host that does not parse: no normal form (denied where resource rules exist)");
        APR_ARRAY_IDX(only, 0, const mcp_rule_t *) = rule_of(MCP_KIND_RESOURCE, "docs://caf\xc3\xa9/* deny");
        CHECK(mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "docs://caf%C3%A9/menu", user, &m, &scopes)
                  == MCP_VERDICT_DENY, "a rule naming a URI beyond ASCII holds against its escaped spelling");
    }
}

static void test_media_type(void)
{
    CHECK(mcp_media_type_is("application/json", "application/json")
          && mcp_media_type_is(" Application/JSON; charset=utf-8", "application/json")
          && mcp_media_type_is("text/event-stream\t;x=1", "text/event-stream"),
          "media types: case, parameters and whitespace aside");
    CHECK(!mcp_media_type_is("application/json-seq", "application/json") && !mcp_media_type_is(NULL, "application/json")
          && !mcp_media_type_is("text/plain; x=application/json", "application/json"),
          "media types: a longer type, none, or the name in a parameter is not it");
    CHECK(mcp_json_content_type_problem("application/json") == NULL
          && mcp_json_content_type_problem("Application/JSON ; charset=UTF-8") == NULL
          && mcp_json_content_type_problem("application/json;charset=\"utf-8\"") == NULL
          && mcp_json_content_type_problem("application/json; ; profile=x") == NULL,
          "JSON request types: no charset, UTF-8 in any case, quoted, other parameters");
    CHECK(mcp_json_content_type_problem("application/json; charset=utf-7")
          && mcp_json_content_type_problem("application/json; charset=UTF-16LE")
          && mcp_json_content_type_problem("application/json; charset=iso-8859-1")
          && mcp_json_content_type_problem("application/json; charset=us-ascii")
          && mcp_json_content_type_problem("application/json; charset=\"utf\\-8\""),
          "JSON request types: every other charset is refused (servers decode by it)");
    CHECK(mcp_json_content_type_problem("application/json; charset=utf-8; charset=utf-7")
          && mcp_json_content_type_problem("application/json; charset=utf-8, text/plain")
          && mcp_json_content_type_problem("application/json, application/json; charset=utf-7")
          && mcp_json_content_type_problem("application/json; charset")
          && mcp_json_content_type_problem("application/json; charset=\"utf-8")
          && mcp_json_content_type_problem("text/plain") && mcp_json_content_type_problem(NULL),
          "JSON request types: two charsets, lists, parameters that do not parse, other types: refused");
}

static void test_field_names(void)
{
    CHECK(mcp_field_names_alike("Mcp_Session_Id", "Mcp-Session-Id") && mcp_field_names_alike("mcp.session.id", "Mcp-Session-Id")
          && mcp_field_names_alike("MCP-SESSION-ID", "Mcp-Session-Id") && !mcp_field_names_alike("X-Mcp-Session-Id", "Mcp-Session-Id")
          && !mcp_field_names_alike("Mcp-Session-Idx", "Mcp-Session-Id"),
          "header names alike to a folding backend: case, '-', '_' and '.' as one");
}

static void test_era(void)
{
    apr_array_header_t *calls;
    int batch, code;
    mcp_rpc_headers_t h = { NULL, NULL, NULL };
    const char *modern_call = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"caf\u00e9_lookup\","
                              "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}";
    const char *legacy_call = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}";
#define READ(s) mcp_rpc_read(pool, s, strlen(s), &calls, &batch)
#define PROBLEM() mcp_era_header_problem(pool, calls, batch, &h, &code)

    CHECK(mcp_version_is_modern("2026-07-28") && mcp_version_is_modern("2027-01-01") && !mcp_version_is_modern("2025-11-25")
          && !mcp_version_is_modern(NULL), "eras: 2026-07-28 and later are modern");
    CHECK(strcmp(mcp_header_value_decode(pool, "=?base64?Y2Fmw6lfbG9va3Vw?="), "caf\xc3\xa9_lookup") == 0
          && strcmp(mcp_header_value_decode(pool, "echo"), "echo") == 0
          && strcmp(mcp_header_value_decode(pool, "=?BASE64?eA==?="), "=?BASE64?eA==?=") == 0,
          "sentinel: decoded; plain values and other markers as they are");
    CHECK(mcp_header_value_decode(pool, "=?base64?eA?=") == NULL && mcp_header_value_decode(pool, "=?base64?eB==?=") == NULL
          && mcp_header_value_decode(pool, "=?base64?e A==?=") == NULL && mcp_header_value_decode(pool, "=?base64?AA==?=") == NULL,
          "sentinel: no padding, unused bits, stray characters or NUL: invalid");

    READ(modern_call);
    CHECK(mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h), "eras: a body claim makes a request modern");
    CHECK(PROBLEM() && code == MCP_RPC_HEADER_MISMATCH, "modern: no MCP-Protocol-Version header: -32020");
    h.version = "2026-07-28";
    CHECK(PROBLEM() != NULL, "modern: no Mcp-Method: refused");
    h.method = "tools/call";
    CHECK(PROBLEM() != NULL, "modern: no Mcp-Name for tools/call: refused");
    h.name = "=?base64?Y2Fmw6lfbG9va3Vw?=";
    CHECK(PROBLEM() == NULL, "modern: every header, Mcp-Name as a sentinel: accepted");
    h.name = "caf\xc3\xa9_lookup";
    CHECK(PROBLEM() == NULL, "modern: Mcp-Name spelled out: accepted (the same text)");
    h.name = "=?base64?ZWNobw==?=";
    CHECK(PROBLEM() != NULL, "modern: a sentinel naming another tool: refused");
    h.name = "=?base64?Y2Fmw6lfbG9va3Vw?=";
    h.version = "2026-09-01";
    CHECK(PROBLEM() != NULL, "modern: header and body claim name different versions: refused");
    h.version = NULL;
    h.method = NULL;
    h.name = NULL;
    READ(legacy_call);
    CHECK(!mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h) && PROBLEM() == NULL,
          "legacy: no headers needed");
    h.version = "2026-07-28";
    CHECK(mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h) && PROBLEM() != NULL,
          "no claim, a modern header: modern, and its headers are required");
    h.version = "2025-11-25";
    h.name = "=?base64?ZWNobw==?=";
    CHECK(PROBLEM() == NULL, "legacy: an Mcp-Name sentinel that matches: accepted");
    h.name = "admin";
    CHECK(PROBLEM() != NULL && code == MCP_RPC_HEADER_MISMATCH, "legacy: an Mcp-Name that disagrees: -32020");
    h.name = NULL;
    h.version = NULL;
    READ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
         "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}]");
    CHECK(batch && PROBLEM() != NULL && code == -32600, "a batch with a modern message: -32600");
    READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}");
    CHECK(strcmp(mcp_era_version(calls, &h), "2025-06-18") == 0, "the version of an initialize: what it asks for");
    h.version = "2025-11-25";
    CHECK(strcmp(mcp_era_version(calls, &h), "2025-11-25") == 0, "the version: the header before initialize's");
    READ(modern_call);
    CHECK(strcmp(mcp_era_version(calls, &h), "2026-07-28") == 0, "the version: the body's claim first");
#undef PROBLEM
#undef READ
}

static void test_jsonrpc(void)
{
    apr_array_header_t *calls;
    int batch;
    const mcp_rpc_call_t *c;
#define READ(s) mcp_rpc_read(pool, s, strlen(s), &calls, &batch)

    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"dele\\u0074e_repo\"}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_TOOL && strcmp(c->target, "delete_repo") == 0
          && strcmp(c->id, "7") == 0 && !batch, "tools/call: the name as the server reads it (\\u escapes decoded), the id");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///etc/passwd\"}}") == NULL
          && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).kind == MCP_KIND_RESOURCE
          && strcmp(APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).id, "\"a\"") == 0, "resources/read: the uri");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"name\":\"b\"}}") != NULL,
          "two names (duplicate keys): refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"method\":\"tools/list\"}") != NULL,
          "two methods: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\\u0000b\"}}") != NULL,
          "a NUL in the name: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":7}}") != NULL,
          "a name that is not a string: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}") != NULL, "tools/call without params: refused");
    CHECK(READ("{\"a\":\"\xff\"}") != NULL, "invalid UTF-8: refused");
    CHECK(READ("[]") != NULL && READ("[1]") != NULL && READ("\"x\"") != NULL, "empty batch, non-object members, scalars: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}} x") != NULL,
          "trailing bytes: refused");
    CHECK(READ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
               "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
               "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}]") == NULL && batch && calls->nelts == 3
          && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).lists == MCP_KIND_TOOL
          && APR_ARRAY_IDX(calls, 1, mcp_rpc_call_t).id == NULL
          && APR_ARRAY_IDX(calls, 2, mcp_rpc_call_t).method == NULL, "a batch: a list, a notification, a response");
    CHECK(strcmp(mcp_rpc_error(pool, "\"x\"", -32602, "Unknown tool: a"),
                 "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32602,\"message\":\"Unknown tool: a\"}}") == 0,
          "a JSON-RPC error to the request's id");
    CHECK(strcmp(mcp_rpc_error_uri(pool, "2", -32602, "Resource not found: x:y", "x:y"),
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\"Resource not found: x:y\","
                 "\"data\":{\"uri\":\"x:y\"}}}") == 0, "a JSON-RPC error naming the resource");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"Method\":\"tools/call\",\"params\":{\"name\":\"a\"}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"ID\":1,\"method\":\"tools/list\"}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"NAME\":\"b\"}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"a:b\",\"URI\":\"c:d\"}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"para\u017fs\":{}}") == NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"param\u017f\":{}}") != NULL,
          "member names of the protocol in another case (or with U+017F for s): refused, as Go would read them");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
               "{\"toolsListChanged\":true,\"resourceSubscriptions\":[\"file:///a\",\"file:///etc/shadow\"]}}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_RESOURCE && c->targets->nelts == 2
          && strcmp(APR_ARRAY_IDX(c->targets, 1, const char *), "file:///etc/shadow") == 0 && !c->named,
          "subscriptions/listen: every subscribed resource is a target");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
               "{\"toolsListChanged\":true}}}") == NULL && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).targets == NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                  "{\"resourceSubscriptions\":[7]}}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                  "{\"resourceSubscriptions\":\"file:///etc/shadow\"}}}") != NULL,
          "subscriptions/listen: no resources, nothing to judge; entries that are not strings: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":"
               "{\"type\":\"ref/prompt\",\"name\":\"secret_plan\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_PROMPT && strcmp(c->target, "secret_plan") == 0
          && READ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":"
                  "{\"type\":\"ref/resource\",\"uri\":\"file:///etc/{f}\"}}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_RESOURCE
          && strcmp(c->target, "file:///etc/{f}") == 0
          && READ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":"
                  "{\"type\":\"ref/prompt\",\"Name\":\"x\"}}}") != NULL,
          "completion/complete: the prompt or resource template it completes is a target");
#undef READ
}

/* ---- list answers filtered ---- */

static int hide_secret(void *ctx, mcp_kind_t kind, const char *name)
{
    (void)ctx;
    return !(kind == MCP_KIND_TOOL && strncmp(name, "secret", 6) == 0) && strcmp(name, "file:///etc/passwd") != 0;
}

static int concerns_nothing(void *ctx, mcp_kind_t kind)
{
    (void)ctx;
    (void)kind;
    return 0;
}

typedef struct { char *buf; apr_size_t len; } sink_t;

static void sink(void *ctx, const char *data, apr_size_t len)
{
    sink_t *s = ctx;

    s->buf = realloc(s->buf, s->len + len + 1);
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
}

/* The stream through the filter, fed step bytes at a time. */
static char *sse_through(const mcp_listfilter_t *lf, const char *stream, apr_size_t step, apr_size_t max)
{
    sink_t out = { NULL, 0 };
    mcp_sse_filter_t *f = mcp_sse_filter_create(pool, lf, max, sink, &out);
    apr_size_t i, n = strlen(stream);
    char *copy;

    for (i = 0; i < n; i += step)
        mcp_sse_filter_feed(f, stream + i, n - i < step ? n - i : step);
    mcp_sse_filter_finish(f);
    copy = apr_pstrdup(pool, out.buf ? out.buf : "");
    free(out.buf);
    return copy;
}

static void test_listfilter(void)
{
    mcp_listfilter_t lf = { 0 };
    apr_size_t n;
    const char *tools = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{}},"
                        "{\"name\":\"secret_x\"},{\"title\":\"no name\"}],\"nextCursor\":\"c2\"}}";
    const char *other = "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[{\"name\":\"secret_x\"}]}}";
    char *out, *stream, *expect;

    int unreadable;

    lf.visible = hide_secret;
    lf.ctx = NULL;
    out = mcp_listfilter_json(pool, &lf, tools, strlen(tools), &n, &unreadable);
    CHECK(out && strcmp(out, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{}}],"
                             "\"nextCursor\":\"c2\"}}") == 0,
          "tools/list: a hidden tool and a nameless entry go, nextCursor and the rest stay");
    out = mcp_listfilter_json(pool, &lf, other, strlen(other), &n, &unreadable);
    CHECK(out && strstr(out, "secret") == NULL,
          "a list answering another request (a replayed stream, another id spelling): filtered by its shape");
    {
        const char *plain = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"content\":[]}}";

        CHECK(mcp_listfilter_json(pool, &lf, plain, strlen(plain), &n, &unreadable) == NULL && !unreadable,
              "a result without a list: untouched");
    }
    CHECK(mcp_listfilter_json(pool, &lf, "{\"result\":{\"tools\":[]},\"result\":{\"tools\":[{\"name\":\"secret\"}]}}",
                              strlen("{\"result\":{\"tools\":[]},\"result\":{\"tools\":[{\"name\":\"secret\"}]}}"), &n,
                              &unreadable) == NULL && unreadable,
          "an answer with duplicate names: unreadable (the caller refuses it)");
    out = mcp_listfilter_json(pool, &lf, "[{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{\"resources\":"
                              "[{\"uri\":\"file:///etc/passwd\"},{\"uri\":\"file:///tmp/a\"}]}}]", 106, &n, &unreadable);
    CHECK(out && strstr(out, "passwd") == NULL && strstr(out, "file:///tmp/a"), "a batch answer: resources filtered by uri");

    stream = apr_psprintf(pool, "id: 1\nevent: message\ndata: %s\n\n: comment\n\ndata: %s\n\n", tools, other);
    expect = apr_psprintf(pool, "id: 1\nevent: message\ndata: %s\n\n: comment\n\ndata: %s\n\n",
                          "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{}}],"
                          "\"nextCursor\":\"c2\"}}", "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[]}}");
    CHECK(strcmp(sse_through(&lf, stream, 4096, 65536), expect) == 0, "SSE: list events filtered, others byte for byte");
    CHECK(strcmp(sse_through(&lf, stream, 1, 65536), expect) == 0, "SSE: the same, fed one byte at a time");
    /* split where JSON allows a line break: after {"jsonrpc":"2.0", */
    stream = apr_psprintf(pool, "data: %.17s\r\ndata: %s\r\n\r\n", tools, tools + 17);
    out = sse_through(&lf, stream, 7, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo") && strstr(out, "c2"),
          "SSE: CRLF lines, the message split over two data lines, reads split anywhere");
    stream = apr_psprintf(pool, "data: %s\n\ndata: %s\n\n", tools, tools);
    out = sse_through(&lf, stream, 3, 64);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "too large"), "SSE: an event over the bound is dropped, not passed");
    out = sse_through(&lf, apr_psprintf(pool, "data: %s", tools), 5, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo"), "SSE: an event cut off by the end of the stream is still filtered");
    out = sse_through(&lf, apr_psprintf(pool, "\xEF\xBB\xBF" "data: %s\n\n", tools), 2, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo"), "SSE: a BOM before the first line does not hide its data");
    out = sse_through(&lf, apr_psprintf(pool, "\xEF\xBB\xBF\xEF\xBB\xBF" "data: %s\n\n", tools), 1, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo"), "SSE: nor do two");
    {
        const char *hinted = "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"tools\":[{\"name\":\"echo\"}],"
                             "\"ttlMs\":60000,\"cacheScope\":\"public\"}}";
        const char *read = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"contents\":[],\"ttlMs\":5}}";

        out = mcp_listfilter_json(pool, &lf, hinted, strlen(hinted), &n, &unreadable);
        CHECK(out && strstr(out, "\"cacheScope\":\"private\"") && strstr(out, "\"ttlMs\":60000") && strstr(out, "echo"),
              "a list with cache hints: private, ttlMs kept, though nothing went");
        out = mcp_listfilter_json(pool, &lf, read, strlen(read), &n, &unreadable);
        CHECK(out && strstr(out, "\"cacheScope\":\"private\""), "a resources/read result with a ttlMs: private");
        lf.concerns = concerns_nothing;
        CHECK(mcp_listfilter_json(pool, &lf, hinted, strlen(hinted), &n, &unreadable) == NULL,
              "a list of a kind no rule names: passed as it came, public");
        lf.concerns = NULL;
        out = sse_through(&lf, apr_psprintf(pool, "data: %s\n\n", hinted), 3, 65536);
        CHECK(strstr(out, "\"cacheScope\":\"private\"") != NULL, "SSE: the same, event by event");
        hinted = "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[],\"cacheScope\":\"private\"}}";
        CHECK(mcp_listfilter_json(pool, &lf, hinted, strlen(hinted), &n, &unreadable) == NULL && !unreadable,
              "a list that is private already: untouched");
    }
    out = sse_through(&lf, "data: {\"tools\": [\xff]}\n\ndata: {\"a\":1}\n\n", 4, 65536);
    CHECK(strstr(out, "not JSON") && strstr(out, "data: {\"a\":1}"), "SSE: an event that is not JSON is dropped, the next passes");
}

int main(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
    test_token_extraction();
    test_jwt();
    test_jwks();
    test_pss();
    test_discovery();
    test_challenge_and_metadata();
    test_cache_claim();
    test_tokencache();
    test_form_tokens();
    test_tokencache_scope();
    test_tokencache_budget();
    test_forwarded();
    test_http_bits();
    test_seal();
    test_facade();
    test_public_address();
    test_client();
    test_b64url();
    test_scope();
    test_claim_holds();
    test_docstore_limit();
    test_policy();
    test_jsonrpc();
    test_media_type();
    test_era();
    test_field_names();
    test_listfilter();
    mcp_dpop_tests(pool);
    mcp_cnf_tests(pool);
    mcp_introspect_tests(pool);
    mcp_client_auth_tests(pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return UNIT_DONE();
}
