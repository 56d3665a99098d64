#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <cjose/cjose.h>
#include <openssl/evp.h>

#include "mcp_dpop.h"
#include "mcp_jwks.h"
#include "mcp_jwt.h"

const char *mcp_sha256_b64url(apr_pool_t *pool, const void *bytes, apr_size_t len)
{
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    char *text = NULL;
    size_t text_len = 0;
    const char *copy;
    cjose_err err;

    if (EVP_Digest(bytes, len, hash, &hash_len, EVP_sha256(), NULL) != 1
        || !cjose_base64url_encode(hash, hash_len, &text, &text_len, &err))
        return NULL;
    copy = apr_pstrmemdup(pool, text, text_len);
    cjose_get_dealloc()(text);
    return copy;
}

const char *mcp_jwk_thumbprint(apr_pool_t *pool, json_t *jwk)
{
    /* RFC 7638 §3.2: the required members only, in lexicographic order, no
     * blanks; RFC 8037 §2 for OKP */
    static const struct {
        const char *kty;
        const char *members[4];
    } required[] = {
        { "RSA", { "e", "kty", "n", NULL } },
        { "EC", { "crv", "kty", "x", "y" } },
        { "OKP", { "crv", "kty", "x", NULL } },
    };
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    json_t *canonical;
    char *text;
    const char *thumbprint = NULL;
    size_t i, m;

    if (kty == NULL)
        return NULL;
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (strcmp(kty, required[i].kty) == 0)
            break;
    }
    if (i == sizeof(required) / sizeof(required[0]))
        return NULL;
    canonical = json_object();
    for (m = 0; m < 4 && required[i].members[m]; m++) {
        json_t *v = json_object_get(jwk, required[i].members[m]);

        if (!json_is_string(v)) {
            json_decref(canonical);
            return NULL;
        }
        json_object_set(canonical, required[i].members[m], v);
    }
    text = json_dumps(canonical, JSON_COMPACT | JSON_SORT_KEYS);
    if (text)
        thumbprint = mcp_sha256_b64url(pool, text, strlen(text));
    free(text);
    json_decref(canonical);
    return thumbprint;
}

/* An RFC 3986 path with its percent-encodings normalised (§6.2.2.1: hex in
 * upper case; §6.2.2.2: unreserved characters decoded); NULL when an escape
 * is broken. */
static const char *path_normal(apr_pool_t *pool, const char *path)
{
    char *out = apr_palloc(pool, strlen(path) + 1), *o = out;
    const char *p;

    for (p = path; *p; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        if (!apr_isxdigit(p[1]) || !apr_isxdigit(p[2]))
            return NULL;
        {
            char hex[3] = { p[1], p[2], 0 };
            int c = (int)strtol(hex, NULL, 16);

            if (apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
                *o++ = (char)c;
            }
            else {
                *o++ = '%';
                *o++ = (char)apr_toupper(p[1]);
                *o++ = (char)apr_toupper(p[2]);
            }
            p += 2;
        }
    }
    *o = '\0';
    return out;
}

static char *lower(apr_pool_t *pool, const char *s)
{
    char *out = apr_pstrdup(pool, s), *p;

    for (p = out; *p; p++)
        *p = (char)apr_tolower(*p);
    return out;
}

/* scheme://host[:port]/path, each part normalised, or NULL for anything
 * that is not an absolute http(s) URL without user information. */
static const char *url_normal(apr_pool_t *pool, const char *url)
{
    apr_uri_t u;
    const char *path;
    apr_port_t default_port;

    if (url == NULL || apr_uri_parse(pool, url, &u) != APR_SUCCESS || u.scheme == NULL
        || u.hostname == NULL || *u.hostname == '\0' || u.user || u.password)
        return NULL;
    if (strcasecmp(u.scheme, "https") == 0)
        default_port = 443;
    else if (strcasecmp(u.scheme, "http") == 0)
        default_port = 80;
    else
        return NULL;
    if (u.port_str && *u.port_str && u.port == 0)
        return NULL;
    path = path_normal(pool, u.path && *u.path ? u.path : "/");
    if (path == NULL)
        return NULL;
    /* §6.2.2.1: scheme and host without case; §6.2.3: the default port is
     * the same as none */
    return apr_psprintf(pool, "%s://%s%s%s%s%s", lower(pool, u.scheme), strchr(u.hostname, ':') ? "[" : "",
                        lower(pool, u.hostname), strchr(u.hostname, ':') ? "]" : "",
                        u.port && u.port != default_port ? apr_psprintf(pool, ":%u", u.port) : "",
                        path);
}

int mcp_dpop_url_matches(apr_pool_t *pool, const char *htu, const char *url)
{
    const char *a = url_normal(pool, htu), *b = url_normal(pool, url);

    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Written once: every refusal of a DPoP location names them. */
static char dpop_algs[MCP_ALG_COUNT * 16];
static pthread_once_t dpop_algs_once = PTHREAD_ONCE_INIT;

static void write_dpop_algs(void)
{
    int i;

    for (i = 0; i < MCP_ALG_COUNT; i++) {
        if (i)
            apr_cpystrn(dpop_algs + strlen(dpop_algs), " ", sizeof(dpop_algs) - strlen(dpop_algs));
        apr_cpystrn(dpop_algs + strlen(dpop_algs), mcp_alg_at(i)->name, sizeof(dpop_algs) - strlen(dpop_algs));
    }
}

const char *mcp_dpop_algs(void)
{
    pthread_once(&dpop_algs_once, write_dpop_algs);
    return dpop_algs;
}

json_t *mcp_dpop_algs_json(void)
{
    json_t *algs = json_array();
    int i;

    for (i = 0; i < MCP_ALG_COUNT; i++)
        json_array_append_new(algs, json_string(mcp_alg_at(i)->name));
    return algs;
}

/* RFC 7517 §9.2, RFC 7518 §6.2.2, §6.3.2: members only a private key has. */
static int holds_private_key(json_t *jwk)
{
    static const char *const private_members[] = { "d", "p", "q", "dp", "dq", "qi", "oth", "k" };
    size_t i;

    for (i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
        if (json_object_get(jwk, private_members[i]) != NULL)
            return 1;
    }
    return 0;
}

static int fail(const char **err, const char *why)
{
    *err = why;
    return 0;
}

int mcp_dpop_check(apr_pool_t *pool, const char *proof, apr_size_t len, const mcp_dpop_expect_t *want,
                   mcp_dpop_proof_t *out, const char **err)
{
    apr_array_header_t *types = apr_array_make(pool, 1, sizeof(const char *));
    mcp_keyset_t *key;
    const char *why, *ath;
    mcp_jwt_t *jwt;
    json_t *jwk, *claims, *v;

    memset(out, 0, sizeof(*out));
    /* §4.2: typ dpop+jwt, an asymmetric alg (the allow-list has no MAC and
     * no "none"), one JWS */
    APR_ARRAY_PUSH(types, const char *) = "dpop+jwt";
    if (mcp_jwt_parse(pool, proof, len, MCP_DPOP_MAX_LEN, types, &jwt, &why) != MCP_JWT_VALID)
        return fail(err, strcmp(why, "token type is not an access token") == 0 ? "DPoP proof typ is not dpop+jwt"
                                                                              : apr_pstrcat(pool, "DPoP proof: ", why, NULL));
    out->alg = mcp_jwt_alg(jwt);
    /* §4.3 (7): the key is in the proof, public only */
    jwk = mcp_jwt_header_param(jwt, "jwk");
    if (!json_is_object(jwk))
        return fail(err, "DPoP proof has no jwk header");
    if (holds_private_key(jwk))
        return fail(err, "DPoP proof jwk holds a private key");
    key = mcp_jwk_keyset(pool, jwk, &why);
    if (key == NULL)
        return fail(err, apr_pstrcat(pool, "DPoP proof key unusable: ", why, NULL));
    /* the proof's key is the one it carries, whatever kid its header names */
    APR_ARRAY_IDX(key->keys, 0, mcp_key_t).kid = mcp_jwt_kid(jwt);
    switch (mcp_jwt_verify(jwt, key, &why)) {
    case MCP_JWT_VALID:
        break;
    case MCP_JWT_MALFORMED:
        return fail(err, apr_pstrcat(pool, "DPoP proof: ", why, NULL));
    default:
        return fail(err, "DPoP proof signature verification failed");
    }
    claims = mcp_jwt_claims(jwt);

    v = json_object_get(claims, "jti");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > MCP_DPOP_MAX_JTI)
        return fail(err, "DPoP proof jti missing or unusable");
    out->jti = json_string_value(v);
    /* §4.3 (8), (9): made for this method and URL */
    v = json_object_get(claims, "htm");
    if (!json_is_string(v) || strcmp(json_string_value(v), want->method) != 0)
        return fail(err, "DPoP proof htm does not match the request method");
    v = json_object_get(claims, "htu");
    if (!json_is_string(v)
        || !(mcp_dpop_url_matches(pool, json_string_value(v), want->url)
             || (want->alt_url && mcp_dpop_url_matches(pool, json_string_value(v), want->alt_url))))
        return fail(err, "DPoP proof htu does not match the request URL");
    /* §4.3 (11): recent, by iat (§11.1) */
    v = json_object_get(claims, "iat");
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return fail(err, "DPoP proof iat missing or not a number");
    out->iat = json_number_value(v);
    if (out->iat > want->now + want->leeway)
        return fail(err, "DPoP proof issued in the future");
    if (out->iat < want->now - want->lifetime - want->leeway)
        return fail(err, "DPoP proof too old");
    /* §4.3 (12): made for this access token */
    v = json_object_get(claims, "ath");
    ath = mcp_sha256_b64url(pool, want->token, want->token_len);
    if (!json_is_string(v) || ath == NULL || strcmp(json_string_value(v), ath) != 0)
        return fail(err, "DPoP proof ath does not match the access token");
    v = json_object_get(claims, "nonce");
    if (v != NULL && (!json_is_string(v) || json_string_length(v) == 0))
        return fail(err, "DPoP proof nonce is not a string");
    out->nonce = json_string_value(v);
    out->jkt = mcp_jwk_thumbprint(pool, jwk);
    if (out->jkt == NULL)
        return fail(err, "DPoP proof key has no thumbprint");
    return 1;
}
