/* Unit tests of mcp_dpop: DPoP proofs (RFC 9449 §4.3), JWK thumbprints
 * (RFC 7638), htu normalisation. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <cjose/cjose.h>
#include <jansson.h>

#include "mcp_dpop.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

#define URL "https://mcp.example.com/mcp"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"
#define NOW 1800000000.0

/* A client's proof key: its private half signs, its public JWK goes in the proof. */
typedef struct {
    cjose_jwk_t *jwk;
    const char *alg;
    const char *public_json;
} proof_key_t;

static proof_key_t ec_key(void)
{
    proof_key_t k;
    cjose_err err;
    char *pub;

    k.jwk = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &err);
    k.alg = "ES256";
    pub = cjose_jwk_to_json(k.jwk, false, &err);
    k.public_json = apr_pstrdup(pool, pub);
    free(pub);
    return k;
}

/* A kid for the next proof's header (NULL: none). */
static const char *header_kid;

/* A proof signed by k, with typ and jwk as given (NULL: left out), over payload. */
static const char *proof_with(const proof_key_t *k, const char *typ, const char *jwk_json, json_t *payload)
{
    cjose_err err;
    cjose_header_t *hdr = cjose_header_new(&err);
    char *text = json_dumps(payload, JSON_COMPACT);
    cjose_jws_t *jws;
    const char *compact, *copy;

    cjose_header_set(hdr, CJOSE_HDR_ALG, k->alg, &err);
    if (typ)
        cjose_header_set(hdr, "typ", typ, &err);
    if (jwk_json)
        cjose_header_set_raw(hdr, "jwk", jwk_json, &err);
    if (header_kid)
        cjose_header_set(hdr, CJOSE_HDR_KID, header_kid, &err);
    jws = cjose_jws_sign(k->jwk, hdr, (const uint8_t *)text, strlen(text), &err);
    cjose_jws_export(jws, &compact, &err);
    copy = apr_pstrdup(pool, compact);
    cjose_jws_release(jws);
    cjose_header_release(hdr);
    free(text);
    json_decref(payload);
    return copy;
}

/* The claims of a good proof for URL, POST, TOKEN at NOW, with one changed:
 * name set to value (a JSON text), or removed when value is NULL. */
static json_t *claims_but(const char *name, const char *value)
{
    json_t *c = json_pack("{ss ss ss sf ss}", "jti", "e1j3V_bKic8-LAEB", "htm", "POST", "htu", URL, "iat", NOW,
                          "ath", mcp_sha256_b64url(pool, TOKEN, strlen(TOKEN)));

    if (name && value)
        json_object_set_new(c, name, json_loads(value, JSON_DECODE_ANY, NULL));
    else if (name)
        json_object_del(c, name);
    return c;
}

static int check(const char *proof, mcp_dpop_proof_t *out, const char **err)
{
    mcp_dpop_expect_t want = { "POST", URL, "https://public.example/api/mcp", TOKEN, strlen(TOKEN), NOW, 60, 5 };

    return mcp_dpop_check(pool, proof, strlen(proof), &want, out, err);
}

static int refused_with(const char *proof, const char *reason)
{
    mcp_dpop_proof_t out;
    const char *err = NULL;

    return !check(proof, &out, &err) && err && strstr(err, reason) != NULL;
}

static void test_thumbprint(void)
{
    /* RFC 7638 §3.1: the example key and its thumbprint */
    json_t *rfc = json_pack(
        "{ss ss ss ss}", "kty", "RSA", "e", "AQAB", "alg", "RS256", "n",
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3"
        "oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdA"
        "ZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
        "kEgU8awapJzKnqDKgw");
    json_t *partial = json_pack("{ss ss}", "kty", "EC", "crv", "P-256");
    json_t *odd = json_pack("{ss ss}", "kty", "oct", "k", "c2VjcmV0");
    const char *t = mcp_jwk_thumbprint(pool, rfc);

    CHECK(t && strcmp(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs") == 0,
          "dpop: RFC 7638 example thumbprint (members beyond the required ones left out)");
    CHECK(mcp_jwk_thumbprint(pool, partial) == NULL, "dpop: no thumbprint of an EC key without x and y");
    CHECK(mcp_jwk_thumbprint(pool, odd) == NULL, "dpop: no thumbprint of a symmetric key");
    json_decref(rfc);
    json_decref(partial);
    json_decref(odd);
}

static void test_urls(void)
{
    CHECK(mcp_dpop_url_matches(pool, URL, URL), "dpop: htu equal to the URL matches");
    CHECK(mcp_dpop_url_matches(pool, "https://mcp.example.com/mcp?x=1#f", URL), "dpop: query and fragment ignored");
    CHECK(mcp_dpop_url_matches(pool, "HTTPS://MCP.Example.COM:443/mcp", URL),
          "dpop: scheme and host without case, the default port the same as none");
    CHECK(mcp_dpop_url_matches(pool, "http://h:80/a%7eb", "http://h/a~b"), "dpop: unreserved escapes decoded");
    CHECK(mcp_dpop_url_matches(pool, "http://h/a%2f", "http://h/a%2F"), "dpop: escapes compare in upper case");
    CHECK(!mcp_dpop_url_matches(pool, "https://mcp.example.com/MCP", URL), "dpop: the path keeps its case");
    CHECK(!mcp_dpop_url_matches(pool, "https://mcp.example.com:8443/mcp", URL), "dpop: another port differs");
    CHECK(!mcp_dpop_url_matches(pool, "http://mcp.example.com/mcp", URL), "dpop: another scheme differs");
    CHECK(!mcp_dpop_url_matches(pool, "https://mcp.example.com/mcp/", URL), "dpop: a trailing slash differs");
    CHECK(!mcp_dpop_url_matches(pool, "https://evil.example/mcp", URL), "dpop: another host differs");
    CHECK(!mcp_dpop_url_matches(pool, "https://u:p@mcp.example.com/mcp", URL), "dpop: user information refused");
    CHECK(!mcp_dpop_url_matches(pool, "/mcp", URL), "dpop: a relative htu refused");
    CHECK(!mcp_dpop_url_matches(pool, "https://mcp.example.com/m%zzcp", URL), "dpop: a broken escape refused");
    CHECK(mcp_dpop_url_matches(pool, "http://[::1]:8080/mcp", "http://[::1]:8080/mcp"), "dpop: IPv6 hosts");
}

static void test_proofs(void)
{
    proof_key_t k = ec_key(), other = ec_key();
    mcp_dpop_proof_t out;
    const char *err = NULL, *good = proof_with(&k, "dpop+jwt", k.public_json, claims_but(NULL, NULL));
    json_t *jwk = json_loads(k.public_json, 0, NULL), *priv;
    char *private_json;
    cjose_err cerr;

    CHECK(check(good, &out, &err) && out.jkt && strcmp(out.jkt, mcp_jwk_thumbprint(pool, jwk)) == 0
              && strcmp(out.jti, "e1j3V_bKic8-LAEB") == 0 && out.nonce == NULL && strcmp(out.alg, "ES256") == 0,
          "dpop: a good proof passes and names its key's thumbprint");
    CHECK(check(proof_with(&k, "application/dpop+jwt", k.public_json, claims_but(NULL, NULL)), &out, &err),
          "dpop: typ with application/ passes (RFC 7515 §4.1.9)");
    CHECK(check(proof_with(&k, "dpop+jwt", k.public_json, claims_but("nonce", "\"n-1\"")), &out, &err)
              && out.nonce && strcmp(out.nonce, "n-1") == 0,
          "dpop: the nonce is handed back");

    header_kid = "some-key-id";
    CHECK(check(proof_with(&k, "dpop+jwt", k.public_json, claims_but(NULL, NULL)), &out, &err),
          "dpop: a kid in the proof's header does not matter: its key is the jwk");
    header_kid = NULL;
    CHECK(refused_with(proof_with(&k, "JWT", k.public_json, claims_but(NULL, NULL)), "typ"),
          "dpop: typ JWT refused");
    CHECK(refused_with(proof_with(&k, NULL, k.public_json, claims_but(NULL, NULL)), "typ"), "dpop: no typ refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", NULL, claims_but(NULL, NULL)), "no jwk"), "dpop: no jwk refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", "\"key\"", claims_but(NULL, NULL)), "no jwk"),
          "dpop: a jwk that is no object refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", other.public_json, claims_but(NULL, NULL)), "signature"),
          "dpop: a proof signed by another key than its jwk refused");
    private_json = cjose_jwk_to_json(k.jwk, true, &cerr);
    priv = json_loads(private_json, 0, NULL);
    CHECK(json_object_get(priv, "d") != NULL
              && refused_with(proof_with(&k, "dpop+jwt", private_json, claims_but(NULL, NULL)), "private"),
          "dpop: a jwk with the private key refused (RFC 9449 §4.3 (7))");
    free(private_json);
    json_decref(priv);

    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("htm", "\"GET\"")), "htm"),
          "dpop: a proof for another method refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("htm", "\"post\"")), "htm"),
          "dpop: htm compares with case");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json,
                                  claims_but("htu", "\"https://mcp.example.com/other\"")), "htu"),
          "dpop: a proof for another URL refused");
    CHECK(check(proof_with(&k, "dpop+jwt", k.public_json, claims_but("htu", "\"https://public.example/api/mcp\"")),
                &out, &err),
          "dpop: a proof for the URL MCPAuthResource names passes");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("htu", NULL)), "htu"),
          "dpop: a proof without htu refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("jti", NULL)), "jti"),
          "dpop: a proof without jti refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("jti", "\"\"")), "jti"),
          "dpop: an empty jti refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("jti", "7")), "jti"),
          "dpop: a numeric jti refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("iat", NULL)), "iat"),
          "dpop: a proof without iat refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("iat", "1799999930")), "too old"),
          "dpop: a proof made before its lifetime and leeway refused");
    CHECK(check(proof_with(&k, "dpop+jwt", k.public_json, claims_but("iat", "1799999940")), &out, &err),
          "dpop: a proof within lifetime and leeway passes");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("iat", "1800000010")), "future"),
          "dpop: a proof from beyond the leeway ahead refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("iat", "\"1800000000\"")), "iat"),
          "dpop: a string iat refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("ath", NULL)), "ath"),
          "dpop: a proof without ath refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json,
                                  claims_but("ath", "\"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo\"")), "ath"),
          "dpop: a proof for another token refused");
    CHECK(refused_with(proof_with(&k, "dpop+jwt", k.public_json, claims_but("nonce", "5")), "nonce"),
          "dpop: a numeric nonce refused");

    {
        /* the allow-list holds no MAC and no "none" */
        const char *none = apr_pstrcat(pool, "eyJhbGciOiJub25lIiwidHlwIjoiZHBvcCtqd3QifQ.",
                                       strchr(good, '.') + 1, NULL);
        char *cut = apr_pstrdup(pool, good);

        /* a signature of some bytes, so that only the alg can refuse it */
        strcpy(strrchr(none, '.') + 1, "c2ln");
        CHECK(refused_with(none, "not allowed"), "dpop: alg none refused");
        cut[strlen(cut) - 3] = cut[strlen(cut) - 3] == 'A' ? 'B' : 'A';
        CHECK(refused_with(cut, "signature") || refused_with(cut, "base64url"), "dpop: an altered signature refused");
        CHECK(refused_with(apr_pstrcat(pool, good, ".x", NULL), "compact JWS"), "dpop: four segments refused");
    }
    {
        char *big = apr_palloc(pool, MCP_DPOP_MAX_LEN + 2);

        memset(big, 'a', MCP_DPOP_MAX_LEN + 1);
        big[MCP_DPOP_MAX_LEN + 1] = '\0';
        CHECK(refused_with(big, "too large"), "dpop: an oversized proof refused before any parsing");
    }
    json_decref(jwk);
    cjose_jwk_release(k.jwk);
    cjose_jwk_release(other.jwk);
}

static void test_algs(void)
{
    const char *algs = mcp_dpop_algs();
    json_t *list = mcp_dpop_algs_json();

    CHECK(strstr(algs, "ES256") && strstr(algs, "PS256") && !strstr(algs, "HS") && !strstr(algs, "none"),
          "dpop: algs are the asymmetric ones this module verifies");
    CHECK(json_array_size(list) > 0 && strcmp(json_string_value(json_array_get(list, 0)),
                                              apr_pstrndup(pool, algs, strcspn(algs, " "))) == 0,
          "dpop: the metadata list and the challenge list agree");
    json_decref(list);
}

void mcp_dpop_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_thumbprint();
    test_urls();
    test_proofs();
    test_algs();
    apr_pool_destroy(pool);
}
