#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include <pthread.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "mcp_b64url.h"
#include "mcp_digest.h"
#include "mcp_jwt.h"
#include "mcp_thread_state.h"

/* The last NumericDate we take as a date: 9999-12-31T23:59:59Z. Larger values
 * (1e300, 1e400 as infinity) are hostile, and casting them is undefined. */
#define MCP_MAX_NUMERIC_DATE 253402300799.0


/* Kid-less tokens may be tried against this many fitting keys at most. */
#define MCP_KIDLESS_MAX_TRIES 8

struct mcp_jwt {
    apr_pool_t *pool;         /* where a parsed token's decoded parts live */
    const char *token;
    apr_size_t len;
    json_t *header;
    json_t *payload;
    const mcp_alg_t *alg;
    const char *presented_alg;  /* as the header says, for the log; NULL if not a string */
    const char *kid;
    const char *typ;          /* the header's typ, or NULL when absent */
    apr_size_t sig_len;
    apr_size_t input_len;     /* header.payload: what the signature covers */
    const char *payload_seg;  /* the payload's base64url, read once the signature holds */
    apr_size_t payload_seg_len;
    int verified;
    int signature_checked;    /* a key's check of the signature ran (and may have failed) */
};

static apr_status_t release_json(void *data)
{
    json_decref(data);
    return APR_SUCCESS;
}

int mcp_json_depth_ok(json_t *v, int depth)
{
    const char *key;
    json_t *child;
    size_t i;

    if (depth > MCP_MAX_JSON_DEPTH)
        return 0;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child) {
            if (!mcp_json_depth_ok(child, depth + 1))
                return 0;
        }
    }
    else if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (!mcp_json_depth_ok(child, depth + 1))
                return 0;
        }
    }
    return 1;
}

static json_t *decode_json_segment(apr_pool_t *pool, const char *seg, apr_size_t len)
{
    apr_size_t raw_len = 0;
    unsigned char *raw = mcp_b64url_decode(pool, seg, len, &raw_len);
    json_t *json;

    if (raw == NULL)
        return NULL;
    /* Duplicate member names are rejected outright (RFC 8725 §2.6 parser
     * differentials); jansson also refuses invalid UTF-8 and "\u0000". */
    json = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    if (json == NULL)
        return NULL;
    apr_pool_cleanup_register(pool, json, release_json, apr_pool_cleanup_null);
    if (!json_is_object(json) || !mcp_json_depth_ok(json, 1))
        return NULL;
    return json;
}

/* The header segments a thread decoded last, exactly as they came, and
 * their JSON: an IdP signs every token with the same few headers, so a
 * memo spares the decoding and parsing of most. Each holds one reference
 * of its own. Kept in the thread's state (below). */
#define HEADER_MEMO_SLOTS 4
#define HEADER_MEMO_MAX_LEN 256
typedef struct header_memo {
    apr_size_t len;
    char seg[HEADER_MEMO_MAX_LEN];
    json_t *header;
} header_memo_t;

/* What a thread keeps between checks: the header memo and its copies of
 * key templates (copying an EC template costs microseconds). A copy is
 * known by its key's serial, never by the key's address, which a freed key
 * set may hand to another key; it holds a reference to its key, so it
 * stays right if the key set goes. */
#define VERIFIER_SLOTS 8
typedef struct verifier_slot {
    apr_uint64_t serial;
    int alg;
    EVP_PKEY_CTX *ctx;
} verifier_slot_t;
typedef struct thread_state {
    header_memo_t headers[HEADER_MEMO_SLOTS];
    unsigned next_header;
    verifier_slot_t slots[VERIFIER_SLOTS];
    unsigned next_slot;
} thread_state_t;
static void release_thread_state(void *data)
{
    thread_state_t *ts = data;
    int i;

    for (i = 0; i < HEADER_MEMO_SLOTS; i++)
        json_decref(ts->headers[i].header);
    for (i = 0; i < VERIFIER_SLOTS; i++)
        EVP_PKEY_CTX_free(ts->slots[i].ctx);
    free(ts);
}

static mcp_thread_state_t thread_states = MCP_THREAD_STATE(sizeof(thread_state_t), release_thread_state);
static __thread void *thread_state;

static thread_state_t *this_thread(void)
{
    return mcp_thread_state(&thread_states, &thread_state);
}

static json_t *decode_header(apr_pool_t *pool, const char *seg, apr_size_t len)
{
    thread_state_t *ts = this_thread();
    header_memo_t *m;
    json_t *header;
    int i;

    for (i = 0; ts && i < HEADER_MEMO_SLOTS; i++) {
        m = &ts->headers[i];
        if (m->header && m->len == len && memcmp(m->seg, seg, len) == 0) {
            header = json_incref(m->header);
            apr_pool_cleanup_register(pool, header, release_json, apr_pool_cleanup_null);
            return header;
        }
    }
    header = decode_json_segment(pool, seg, len);
    if (ts && header && len <= HEADER_MEMO_MAX_LEN) {
        m = &ts->headers[ts->next_header++ % HEADER_MEMO_SLOTS];
        json_decref(m->header);
        m->header = json_incref(header);
        m->len = len;
        memcpy(m->seg, seg, len);
    }
    return header;
}

/* RFC 9068 §4 wants "at+jwt"; Keycloak and many IdPs send "JWT". Any other
 * type (id tokens excluded, DPoP proofs, SETs, logout tokens) is refused. */
/* RFC 7515 §4.1.9: "application/" may be left out of a typ value, and media
 * types compare without case. */
static const char *media_subtype(const char *typ)
{
    return strncasecmp(typ, "application/", 12) == 0 ? typ + 12 : typ;
}

static int is_access_token_type(const char *typ, const apr_array_header_t *types)
{
    int i;

    typ = media_subtype(typ);
    if (types == NULL)
        return strcasecmp(typ, "at+jwt") == 0 || strcasecmp(typ, "JWT") == 0;
    for (i = 0; i < types->nelts; i++) {
        if (strcasecmp(typ, media_subtype(APR_ARRAY_IDX(types, i, const char *))) == 0)
            return 1;
    }
    return 0;
}

int mcp_jwt_type_accepted(const mcp_jwt_t *jwt, const apr_array_header_t *types)
{
    if (jwt->typ == NULL)
        return types == NULL;
    return is_access_token_type(jwt->typ, types);
}

static mcp_jwt_status_t check_header(mcp_jwt_t *jwt, const apr_array_header_t *types,
                                     const char **err)
{
    json_t *h = jwt->header, *v;
    const char *alg;

    /* read first, so that a rejection at any later step logs them */
    v = json_object_get(h, "kid");
    jwt->kid = json_is_string(v) ? json_string_value(v) : NULL;
    v = json_object_get(h, "alg");
    if (!json_is_string(v)) {
        *err = "alg missing or not a string";
        return MCP_JWT_INVALID;
    }
    alg = json_string_value(v);
    jwt->presented_alg = alg;
    jwt->alg = mcp_alg_lookup(alg);
    if (jwt->alg == NULL) {
        /* includes "none" in any case (RFC 8725 §3.2) and HS* */
        *err = "signature algorithm not allowed";
        return MCP_JWT_INVALID;
    }
    /* RFC 7515 §4.1.11: we implement no extension, so any crit is unknown. */
    if (json_object_get(h, "crit") != NULL) {
        *err = "crit header parameter not supported";
        return MCP_JWT_INVALID;
    }
    if (json_object_get(h, "b64") != NULL || json_object_get(h, "enc") != NULL) {
        *err = "unsupported JOSE serialisation";
        return MCP_JWT_INVALID;
    }
    v = json_object_get(h, "cty");
    if (v != NULL && (!json_is_string(v) || strcasecmp(json_string_value(v), "JWT") == 0)) {
        *err = "nested tokens are not accepted";
        return MCP_JWT_INVALID;
    }
    v = json_object_get(h, "typ");
    jwt->typ = json_is_string(v) ? json_string_value(v) : NULL;
    if ((v != NULL && !json_is_string(v)) || !mcp_jwt_type_accepted(jwt, types)) {
        *err = "token type is not an access token";
        return MCP_JWT_INVALID;
    }
    v = json_object_get(h, "kid");
    if (v != NULL && !json_is_string(v)) {
        *err = "kid is not a string";
        return MCP_JWT_INVALID;
    }
    /* jku, x5u, jwk and x5c are never looked at: keys come only from the
     * configured JWKS (RFC 8725 §3.10). */
    return MCP_JWT_VALID;
}

mcp_jwt_status_t mcp_jwt_parse(apr_pool_t *pool, const char *token, apr_size_t len,
                               apr_size_t max_len, const apr_array_header_t *types,
                               mcp_jwt_t **out, const char **err)
{
    const char *dot1, *dot2, *sig;
    apr_size_t hlen, plen, slen;
    mcp_jwt_t *jwt;

    *out = NULL;
    if (len > max_len) {
        *err = "token too large";
        return MCP_JWT_INVALID;
    }
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (apr_size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (apr_size_t)(dot2 + 1 - token)) != NULL) {
        /* exactly three segments: a JWE has five (RFC 7516 §7.1) */
        *err = "token is not a compact JWS";
        return MCP_JWT_INVALID;
    }
    hlen = (apr_size_t)(dot1 - token);
    plen = (apr_size_t)(dot2 - dot1 - 1);
    sig = dot2 + 1;
    slen = len - (apr_size_t)(sig - token);
    /* each segment is checked for strict base64url where it is decoded:
     * the header here, the signature first thing in mcp_jwt_verify, the
     * payload once the signature over it holds */

    jwt = apr_pcalloc(pool, sizeof(*jwt));
    jwt->pool = pool;
    jwt->token = token;
    jwt->len = len;
    jwt->input_len = (apr_size_t)(dot2 - token);
    /* decoded size of unpadded base64url */
    jwt->sig_len = slen / 4 * 3 + (slen % 4 ? slen % 4 - 1 : 0);
    jwt->header = decode_header(pool, token, hlen);
    if (jwt->header == NULL) {
        *err = "token header is not a valid JSON object";
        return MCP_JWT_INVALID;
    }
    *out = jwt; /* from here on, a refused token still names its alg and kid */
    if (check_header(jwt, types, err) != MCP_JWT_VALID)
        return MCP_JWT_INVALID;
    jwt->payload_seg = dot1 + 1;
    jwt->payload_seg_len = plen;
    return MCP_JWT_VALID;
}

/* Message digests fetched once: an implicit fetch per signature check costs
 * time and takes OpenSSL's global locks. */
static EVP_MD *digests[MCP_ALG_COUNT];
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;

static void fetch_digests(void)
{
    int i;

    for (i = 0; i < MCP_ALG_COUNT; i++) {
        if (mcp_alg_at(i)->digest != NULL) /* EdDSA has none */
            digests[i] = EVP_MD_fetch(NULL, mcp_alg_at(i)->digest, NULL);
    }
}

/* RFC 7518 §3.4: a JWS ECDSA signature is R || S; OpenSSL wants DER. */
static unsigned char *ecdsa_der(const unsigned char *sig, size_t len, int *der_len)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(len / 2), NULL), *s = BN_bin2bn(sig + len / 2, (int)(len / 2), NULL);
    unsigned char *der = NULL;

    if (es && r && s && ECDSA_SIG_set0(es, r, s)) {
        r = s = NULL; /* owned by es now */
        *der_len = i2d_ECDSA_SIG(es, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return *der_len > 0 ? der : NULL;
}

/* This thread's copy of the key's template for the alg; NULL if none. */
static EVP_PKEY_CTX *verifier_of(thread_state_t *ts, const mcp_key_t *key, int alg)
{
    verifier_slot_t *slot;
    EVP_PKEY_CTX *ctx;
    int i;

    for (i = 0; i < VERIFIER_SLOTS; i++) {
        slot = &ts->slots[i];
        if (slot->ctx && slot->serial == key->serial && slot->alg == alg)
            return slot->ctx;
    }
    if ((ctx = EVP_PKEY_CTX_dup(key->verifier[alg])) == NULL)
        return NULL;
    slot = &ts->slots[ts->next_slot++ % VERIFIER_SLOTS];
    EVP_PKEY_CTX_free(slot->ctx);
    slot->serial = key->serial;
    slot->alg = alg;
    slot->ctx = ctx;
    return ctx;
}

/* RSA and ECDSA: the signing input hashed here, then checked with this
 * thread's copy of the key's template for the alg (RFC 7518 §3.3-3.5). */
static int hashed_signature_verifies(const mcp_jwt_t *jwt, const mcp_key_t *key, const uint8_t *sig,
                                     size_t sig_len)
{
    unsigned char *der = NULL, hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    int der_len = 0, ok = 0, a = jwt->alg->index;
    EVP_PKEY_CTX *ctx;
    thread_state_t *ts = this_thread();

    pthread_once(&digests_once, fetch_digests);
    if (ts && key->verifier[a]
        && (jwt->alg->kty != MCP_KTY_EC || (der = ecdsa_der(sig, sig_len, &der_len)) != NULL)
        && mcp_digest(digests[a], jwt->token, jwt->input_len, NULL, 0, hash, &hash_len)
        && (ctx = verifier_of(ts, key, a)) != NULL)
        ok = der ? EVP_PKEY_verify(ctx, der, (size_t)der_len, hash, hash_len) == 1
                 : EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1;
    OPENSSL_free(der);
    if (!ok)
        ERR_clear_error(); /* a forged signature's reasons are no concern of the next OpenSSL call */
    return ok;
}

/* RFC 8037 §3.1: Ed25519 signs the JWS signing input itself, no pre-hash,
 * so OpenSSL takes it whole in one EVP_DigestVerify. */
static int eddsa_signature_verifies(const mcp_jwt_t *jwt, const mcp_key_t *key, const uint8_t *sig,
                                    size_t sig_len)
{
    EVP_MD_CTX *ctx;
    int ok;

    /* with any other key, a NULL digest would pick a default hash */
    if (key->kty != MCP_KTY_OKP)
        return 0;
    ctx = EVP_MD_CTX_new();
    ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1
         && EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt->token, jwt->input_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static int signature_verifies(const mcp_jwt_t *jwt, const mcp_key_t *key, const uint8_t *sig, size_t sig_len)
{
    return jwt->alg->kty == MCP_KTY_OKP ? eddsa_signature_verifies(jwt, key, sig, sig_len)
                                        : hashed_signature_verifies(jwt, key, sig, sig_len);
}

mcp_jwt_status_t mcp_jwt_verify(mcp_jwt_t *jwt, const mcp_keyset_t *keys, const char **err)
{
    int i, tried = 0, kid_seen = 0;
    apr_size_t sig_len = 0;
    /* decoded once for every key tried; the token need not end in a NUL */
    const uint8_t *sig = mcp_b64url_decode(jwt->pool, jwt->token + jwt->input_len + 1,
                                           jwt->len - jwt->input_len - 1, &sig_len);

    if (sig == NULL) {
        *err = "signature is not base64url";
        return MCP_JWT_INVALID;
    }

    /* R || S is split in half and leading zeros count for nothing, so a
     * padded or short R||S would verify: the length is fixed by the alg, as
     * an Ed25519 signature's 64 bytes are (RFC 8032 §5.1.6). */
    if (jwt->alg->sig_len && jwt->sig_len != jwt->alg->sig_len) {
        *err = jwt->alg->kty == MCP_KTY_OKP ? "EdDSA signature has the wrong length"
                                            : "ECDSA signature has the wrong length";
        return MCP_JWT_INVALID;
    }
    for (i = 0; i < keys->keys->nelts; i++) {
        const mcp_key_t *key = &APR_ARRAY_IDX(keys->keys, i, mcp_key_t);

        if (jwt->kid != NULL) {
            if (key->kid == NULL || strcmp(key->kid, jwt->kid) != 0)
                continue;
            kid_seen = 1;
        }
        else if (tried >= MCP_KIDLESS_MAX_TRIES) {
            break;
        }
        if (!mcp_key_fits(key, jwt->alg))
            continue;
        tried++;
        jwt->signature_checked = 1;
        if (signature_verifies(jwt, key, sig, sig_len)) {
            jwt->payload = decode_json_segment(jwt->pool, jwt->payload_seg, jwt->payload_seg_len);
            if (jwt->payload == NULL) {
                *err = "token payload is not a valid JSON object";
                return MCP_JWT_MALFORMED;
            }
            jwt->verified = 1;
            return MCP_JWT_VALID;
        }
    }
    if (jwt->kid != NULL && !kid_seen) {
        *err = "signing key not found";
        return MCP_JWT_KEY_UNKNOWN;
    }
    *err = tried ? "signature verification failed" : "no key fits the signature algorithm";
    return MCP_JWT_INVALID;
}

/* RFC 7519 §2 NumericDate: a JSON number within a sane range. */
static int numeric_date(json_t *v, double *out)
{
    double d;

    if (!json_is_number(v))
        return 0;
    d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > MCP_MAX_NUMERIC_DATE)
        return 0;
    *out = d;
    return 1;
}

/* An optional NumericDate claim that must not lie beyond now + leeway. */
static int time_claim_ok(json_t *claims, const char *name, double now, int leeway,
                         const char *bad_type, const char *too_early, const char **err)
{
    json_t *v = json_object_get(claims, name);
    double when;

    if (v == NULL)
        return 1;
    if (!numeric_date(v, &when)) {
        *err = bad_type; /* a malformed date is never "absent" */
        return 0;
    }
    if (now + leeway < when) {
        *err = too_early;
        return 0;
    }
    return 1;
}

static int audience_matches(json_t *aud, const apr_array_header_t *wanted)
{
    size_t i;
    int j;
    json_t *v;

    if (json_is_string(aud)) {
        for (j = 0; j < wanted->nelts; j++) {
            if (strcmp(json_string_value(aud), APR_ARRAY_IDX(wanted, j, const char *)) == 0)
                return 1;
        }
        return 0;
    }
    if (!json_is_array(aud) || json_array_size(aud) == 0)
        return 0;
    json_array_foreach(aud, i, v) {
        if (!json_is_string(v))
            return 0; /* a mixed array is malformed, not a partial match */
    }
    json_array_foreach(aud, i, v) {
        if (audience_matches(v, wanted))
            return 1;
    }
    return 0;
}

mcp_jwt_status_t mcp_jwt_check_claims(mcp_jwt_t *jwt, const mcp_jwt_policy_t *policy,
                                      double now, const char **err)
{
    json_t *c = jwt->payload, *v;
    double exp;

    if (!jwt->verified) {
        *err = "signature not verified";
        return MCP_JWT_INVALID;
    }
    v = json_object_get(c, "iss");
    if (!json_is_string(v)
        || (strcmp(json_string_value(v), policy->issuer) != 0
            && (policy->alt_issuer == NULL || strcmp(json_string_value(v), policy->alt_issuer) != 0))) {
        *err = "issuer mismatch";
        return MCP_JWT_INVALID;
    }
    /* RFC 8707 §2, MCP "Token Audience Binding": the token must be meant for us. */
    v = json_object_get(c, "aud");
    if (v == NULL || !audience_matches(v, policy->audiences)) {
        *err = "audience mismatch";
        return MCP_JWT_INVALID;
    }
    if (!numeric_date(json_object_get(c, "exp"), &exp)) {
        *err = "exp missing or not a valid NumericDate";
        return MCP_JWT_INVALID;
    }
    if (now > exp + policy->leeway) {
        *err = "token expired";
        return MCP_JWT_INVALID;
    }
    /* RFC 7519 §4.1.5: not before; §4.1.6: issued at, which cannot lie ahead */
    if (!time_claim_ok(c, "nbf", now, policy->leeway, "nbf is not a valid NumericDate",
                       "token not yet valid", err)
        || !time_claim_ok(c, "iat", now, policy->leeway, "iat is not a valid NumericDate",
                          "token issued in the future", err))
        return MCP_JWT_INVALID;
    /* RFC 9068 §2.2: sub is required; it becomes REMOTE_USER. */
    v = json_object_get(c, "sub");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        *err = "sub missing or not a string";
        return MCP_JWT_INVALID;
    }
    if (!mcp_claims_name_access_token(c)) {
        *err = "the token's claims name another kind of token (typ or token_use)";
        return MCP_JWT_INVALID;
    }
    return MCP_JWT_VALID;
}

/* What an access token may call itself in a typ claim: RFC 6749 §7.1's
 * token types, RFC 9068's media type, and "JWT". */
static const char *const access_token_typs[] = { "Bearer", "DPoP", "at+jwt", "application/at+jwt", "JWT", NULL };

int mcp_json_absent_or_among(const json_t *v, const char *const *names)
{
    if (v == NULL)
        return 1;
    for (; json_is_string(v) && *names; names++) {
        if (strcasecmp(json_string_value(v), *names) == 0)
            return 1;
    }
    return 0;
}

int mcp_claims_name_access_token(const json_t *claims)
{
    const json_t *use = json_object_get(claims, "token_use");

    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "access") == 0))
        return 0;
    return mcp_json_absent_or_among(json_object_get(claims, "typ"), access_token_typs);
}

mcp_jwt_t *mcp_jwt_verified(apr_pool_t *pool, json_t *payload, const char *alg, const char *kid,
                            const char *typ)
{
    mcp_jwt_t *jwt = apr_pcalloc(pool, sizeof(*jwt));

    jwt->typ = typ;

    apr_pool_cleanup_register(pool, payload, release_json, apr_pool_cleanup_null);
    jwt->payload = payload;
    jwt->alg = mcp_alg_lookup(alg);
    jwt->kid = kid;
    jwt->verified = 1;
    return jwt;
}

apr_size_t mcp_jwt_payload_size(const mcp_jwt_t *jwt)
{
    const char *dot;

    if (jwt->token == NULL || (dot = memchr(jwt->token, '.', jwt->input_len)) == NULL)
        return 0;
    return (jwt->input_len - (apr_size_t)(dot + 1 - jwt->token)) * 3 / 4;
}

const char *mcp_jwt_typ(const mcp_jwt_t *jwt)
{
    return jwt->typ;
}

json_t *mcp_jwt_header_param(const mcp_jwt_t *jwt, const char *name)
{
    return jwt->header ? json_object_get(jwt->header, name) : NULL;
}

int mcp_jwt_signature_checked(const mcp_jwt_t *jwt)
{
    return jwt->signature_checked;
}

const char *mcp_jwt_kid(const mcp_jwt_t *jwt)
{
    return jwt->kid;
}

const char *mcp_jwt_alg(const mcp_jwt_t *jwt)
{
    return jwt->alg ? jwt->alg->name : jwt->presented_alg ? jwt->presented_alg : "-";
}

json_t *mcp_jwt_claims(const mcp_jwt_t *jwt)
{
    return jwt->verified ? jwt->payload : NULL;
}

static json_t *claim_at_path(json_t *obj, const char *name, apr_pool_t *pool)
{
    char *path = apr_pstrdup(pool, name), *part, *state = NULL;
    json_t *v = obj;

    for (part = apr_strtok(path, ".", &state); part && v; part = apr_strtok(NULL, ".", &state))
        v = json_is_object(v) ? json_object_get(v, part) : NULL;
    return v;
}

/* Header values must not carry control characters (response splitting). */
static const char *header_safe(apr_pool_t *pool, const char *s)
{
    const char *p;

    for (p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return NULL;
    }
    return apr_pstrdup(pool, s);
}

json_t *mcp_jwt_claim(apr_pool_t *pool, const mcp_jwt_t *jwt, const char *name)
{
    json_t *claims = mcp_jwt_claims(jwt), *v;

    if (claims == NULL)
        return NULL;
    v = json_object_get(claims, name);
    if (v == NULL && strchr(name, '.'))
        v = claim_at_path(claims, name, pool);
    return v;
}

/* Strings compare exactly; booleans and integers by their JSON text. */
static int claim_value_is(json_t *v, const char *want, apr_pool_t *pool)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), want) == 0;
    if (json_is_boolean(v))
        return strcmp(want, json_is_true(v) ? "true" : "false") == 0;
    if (json_is_integer(v))
        return strcmp(want, apr_psprintf(pool, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v))) == 0;
    return 0;
}

int mcp_jwt_claim_holds(apr_pool_t *pool, const mcp_jwt_t *jwt, const char *name, const char *value)
{
    json_t *v = mcp_jwt_claim(pool, jwt, name), *e;
    size_t i;

    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (claim_value_is(e, value, pool))
                return 1;
        }
        return 0;
    }
    return v != NULL && claim_value_is(v, value, pool);
}

const char *mcp_jwt_claim_string(apr_pool_t *pool, const mcp_jwt_t *jwt, const char *name)
{
    json_t *v = mcp_jwt_claim(pool, jwt, name), *e;
    size_t i;

    if (json_is_string(v))
        return header_safe(pool, json_string_value(v));
    if (json_is_number(v) || json_is_boolean(v)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *copy = text ? apr_pstrdup(pool, text) : NULL;
        free(text);
        return copy;
    }
    if (json_is_array(v)) {
        apr_array_header_t *parts = apr_array_make(pool, (int)json_array_size(v), sizeof(char *));
        json_array_foreach(v, i, e) {
            const char *s = json_is_string(e) ? header_safe(pool, json_string_value(e)) : NULL;
            if (s == NULL || strchr(s, ','))
                return NULL;
            APR_ARRAY_PUSH(parts, const char *) = s;
        }
        return apr_array_pstrcat(pool, parts, ',');
    }
    return NULL;
}
