#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "mcp_b64url.h"
#include "mcp_jwks.h"

static const mcp_alg_t known_algs[MCP_ALG_COUNT] = {
    { "RS256", MCP_KTY_RSA, 0, 0, "SHA256", 0, 0 },   { "RS384", MCP_KTY_RSA, 0, 0, "SHA384", 0, 1 },
    { "RS512", MCP_KTY_RSA, 0, 0, "SHA512", 0, 2 },   { "PS256", MCP_KTY_RSA, 0, 0, "SHA256", 1, 3 },
    { "PS384", MCP_KTY_RSA, 0, 0, "SHA384", 1, 4 },   { "PS512", MCP_KTY_RSA, 0, 0, "SHA512", 1, 5 },
    { "ES256", MCP_KTY_EC, 256, 64, "SHA256", 0, 6 }, { "ES384", MCP_KTY_EC, 384, 96, "SHA384", 0, 7 },
    { "ES512", MCP_KTY_EC, 521, 132, "SHA512", 0, 8 },
    /* RFC 8037 §3.1 on Ed25519 keys only; RFC 9864 names the same "Ed25519" */
    { "EdDSA", MCP_KTY_OKP, 0, 64, NULL, 0, 9 },      { "Ed25519", MCP_KTY_OKP, 0, 64, NULL, 0, 10 },
};

/* RFC 7518 §3.3: RSA keys of 2048 bits or larger. */
#define MCP_RSA_MIN_BITS 2048

/* RFC 8032 §5.1.5: an Ed25519 public key is 32 octets. */
#define MCP_ED25519_KEY_LEN 32

const mcp_alg_t *mcp_alg_lookup(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(known_algs) / sizeof(known_algs[0]); i++) {
        if (strcmp(known_algs[i].name, name) == 0)
            return &known_algs[i];
    }
    return NULL;
}

const mcp_alg_t *mcp_alg_at(int index)
{
    return &known_algs[index];
}

int mcp_key_fits(const mcp_key_t *key, const mcp_alg_t *alg)
{
    if (key->alg != NULL && key->alg != alg)
        return 0;
    if (key->kty != alg->kty)
        return 0;
    /* an OKP key here is always Ed25519, the curve of both EdDSA names */
    return key->kty != MCP_KTY_EC || key->ec_bits == alg->ec_bits;
}

static void release_key(mcp_key_t *key)
{
    int a;

    for (a = 0; a < MCP_ALG_COUNT; a++)
        EVP_PKEY_CTX_free(key->verifier[a]);
    if (key->jwk != NULL) /* OKP keys have none */
        cjose_jwk_release(key->jwk);
    EVP_PKEY_free(key->pkey);
}

/* One verify context per alg the key fits, set up once (RFC 7518 §3.3-3.5).
 * A key whose contexts cannot be made is not used at all. */
static int prepare_verifiers(mcp_key_t *key)
{
    static apr_uint64_t serials;
    size_t a;

    key->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);

    for (a = 0; a < MCP_ALG_COUNT; a++) {
        const mcp_alg_t *alg = &known_algs[a];
        EVP_PKEY_CTX *ctx;
        EVP_MD *md;
        int ok;

        /* EdDSA hashes inside the scheme (RFC 8032 §5.1.7): nothing to set
         * up, each check is one EVP_DigestVerify on the key */
        if (!mcp_key_fits(key, alg) || alg->kty == MCP_KTY_OKP)
            continue;
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
        md = EVP_MD_fetch(NULL, alg->digest, NULL);
        ok = ctx && md && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1
             /* RFC 7518 §3.5: the salt is as long as the hash */
             && (!alg->pss || (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1
                               && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1));
        EVP_MD_free(md);
        if (!ok) {
            EVP_PKEY_CTX_free(ctx);
            return 0;
        }
        key->verifier[a] = ctx;
    }
    return 1;
}

static apr_status_t release_keys(void *data)
{
    apr_array_header_t *keys = data;
    int i;

    for (i = 0; i < keys->nelts; i++)
        release_key(&APR_ARRAY_IDX(keys, i, mcp_key_t));
    keys->nelts = 0;
    return APR_SUCCESS;
}

/* JWK members that hold base64url values (RFC 7518 §6). */
static const char *const b64url_members[] = { "n", "e", "x", "y", "d", "p", "q", "dp", "dq", "qi", "k" };

static int members_are_strict(json_t *jwk)
{
    size_t i;

    for (i = 0; i < sizeof(b64url_members) / sizeof(b64url_members[0]); i++) {
        json_t *v = json_object_get(jwk, b64url_members[i]);

        if (v && (!json_is_string(v) || !mcp_b64url_is_strict(json_string_value(v), json_string_length(v))))
            return 0;
    }
    return 1;
}

/* Bit length of a big-endian unsigned integer given in base64url. */
static int modulus_bits(const char *n_b64)
{
    uint8_t *buf = NULL;
    size_t len = 0, i = 0;
    int bits = 0;
    cjose_err err;

    if (!cjose_base64url_decode(n_b64, strlen(n_b64), &buf, &len, &err))
        return 0;
    while (i < len && buf[i] == 0)
        i++;
    if (i < len) {
        unsigned char top = buf[i];
        bits = (int)(len - i - 1) * 8;
        while (top) {
            bits++;
            top >>= 1;
        }
    }
    cjose_get_dealloc()(buf);
    return bits;
}

static int ec_bits_for_curve(const char *crv)
{
    if (crv == NULL)
        return 0;
    if (strcmp(crv, "P-256") == 0)
        return 256;
    if (strcmp(crv, "P-384") == 0)
        return 384;
    if (strcmp(crv, "P-521") == 0)
        return 521;
    return 0;
}

/* Decodes a (strictly checked) base64url member into pool memory. */
static unsigned char *member_bytes(apr_pool_t *pool, json_t *jwk, const char *name, size_t *len)
{
    const char *v = json_string_value(json_object_get(jwk, name));
    uint8_t *raw = NULL;
    unsigned char *copy;
    cjose_err err;

    if (v == NULL || !cjose_base64url_decode(v, strlen(v), &raw, len, &err))
        return NULL;
    copy = apr_pmemdup(pool, raw, *len);
    cjose_get_dealloc()(raw);
    return copy;
}

/* The JWK as an OpenSSL public key (RFC 7518 §6.2, §6.3), built once so that
 * each signature check is a single EVP_DigestVerify. */
static EVP_PKEY *pkey_from_jwk(apr_pool_t *pool, json_t *jwk, const mcp_key_t *key)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    size_t a_len = 0, b_len = 0;
    unsigned char *a, *b;

    if (bld == NULL)
        return NULL;
    if (key->kty == MCP_KTY_RSA) {
        a = member_bytes(pool, jwk, "n", &a_len);
        b = member_bytes(pool, jwk, "e", &b_len);
        if (a && b && (n = BN_bin2bn(a, (int)a_len, NULL)) && (e = BN_bin2bn(b, (int)b_len, NULL))
            && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
            && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            params = OSSL_PARAM_BLD_to_param(bld);
        ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
    }
    else {
        size_t coord = (size_t)(key->ec_bits + 7) / 8;
        const char *group = key->ec_bits == 256 ? "P-256" : key->ec_bits == 384 ? "P-384" : "P-521";
        unsigned char *point = apr_palloc(pool, 1 + 2 * coord);

        a = member_bytes(pool, jwk, "x", &a_len);
        b = member_bytes(pool, jwk, "y", &b_len);
        if (a && b && a_len == coord && b_len == coord) {
            point[0] = 0x04; /* uncompressed: 04 || x || y */
            memcpy(point + 1, a, coord);
            memcpy(point + 1 + coord, b, coord);
            if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0)
                && OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord))
                params = OSSL_PARAM_BLD_to_param(bld);
        }
        ctx = params ? EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL) : NULL;
    }
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* RFC 8037 §2: an OKP public key is the raw encoding in "x". Only Ed25519
 * verifies here: X25519 and X448 are key agreement keys (RFC 8037 §3.2) and
 * Ed448 is not offered. cjose 0.6.2 cannot read OKP keys, so OpenSSL alone
 * builds this one and key->jwk stays NULL. */
static const char *ed25519_from_jwk(apr_pool_t *pool, json_t *jwk, mcp_key_t *key)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const unsigned char *x;
    size_t x_len = 0;

    if (crv == NULL || strcmp(crv, "Ed25519") != 0)
        return "OKP curve is not Ed25519";
    /* RFC 8037 §2 "d" is the private key. One published in a key set signs
     * for anyone who reads the set, so what it verifies proves nothing. */
    if (json_object_get(jwk, "d") != NULL)
        return "OKP key publishes its private part (d)";
    x = member_bytes(pool, jwk, "x", &x_len);
    if (x == NULL || x_len != MCP_ED25519_KEY_LEN)
        return "Ed25519 x is missing or not 32 bytes";
    key->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
    return key->pkey ? NULL : "rejected by OpenSSL";
}

/* Fills key from one JWK object, or returns why it cannot verify signatures. */
static const char *key_from_jwk(apr_pool_t *pool, json_t *jwk, mcp_key_t *key)
{
    const char *kty, *use, *alg_name;
    json_t *kid, *ops;
    char *text;
    cjose_err err;

    if (!json_is_object(jwk))
        return "not a JSON object";
    kty = json_string_value(json_object_get(jwk, "kty"));
    if (kty == NULL)
        return "no kty";
    if (strcmp(kty, "RSA") == 0)
        key->kty = MCP_KTY_RSA;
    else if (strcmp(kty, "EC") == 0)
        key->kty = MCP_KTY_EC;
    else if (strcmp(kty, "OKP") == 0)
        key->kty = MCP_KTY_OKP;
    else
        return apr_psprintf(pool, "kty %s is not used for signatures here", kty);

    if (!members_are_strict(jwk))
        return "a key member is not strict base64url";

    kid = json_object_get(jwk, "kid");
    if (kid != NULL && !json_is_string(kid))
        return "kid is not a string";
    key->kid = kid ? apr_pstrdup(pool, json_string_value(kid)) : NULL;

    /* RFC 7517 §4.2, §4.3: a key meant for encryption must not verify. */
    use = json_string_value(json_object_get(jwk, "use"));
    if (json_object_get(jwk, "use") != NULL && (use == NULL || strcmp(use, "sig") != 0))
        return "use is not sig";
    ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        size_t i;
        json_t *op;
        int verify = 0;

        if (!json_is_array(ops))
            return "key_ops is not an array";
        json_array_foreach(ops, i, op) {
            if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
                verify = 1;
        }
        if (!verify)
            return "key_ops does not allow verify";
    }

    key->alg = NULL;
    if (json_object_get(jwk, "alg") != NULL) {
        alg_name = json_string_value(json_object_get(jwk, "alg"));
        key->alg = alg_name ? mcp_alg_lookup(alg_name) : NULL;
        if (key->alg == NULL || key->alg->kty != key->kty)
            return "alg is not an accepted signature algorithm for this key type";
    }

    if (key->kty == MCP_KTY_OKP)
        return ed25519_from_jwk(pool, jwk, key);
    if (key->kty == MCP_KTY_RSA) {
        const char *n = json_string_value(json_object_get(jwk, "n"));
        int bits = n ? modulus_bits(n) : 0;
        if (bits < MCP_RSA_MIN_BITS)
            return apr_psprintf(pool, "RSA modulus of %d bits is below %d", bits, MCP_RSA_MIN_BITS);
    }
    else {
        key->ec_bits = ec_bits_for_curve(json_string_value(json_object_get(jwk, "crv")));
        if (key->ec_bits == 0)
            return "unsupported EC curve";
        if (key->alg != NULL && key->alg->ec_bits != key->ec_bits)
            return "alg does not match the curve";
    }

    text = json_dumps(jwk, JSON_COMPACT);
    if (text == NULL)
        return "cannot serialise";
    key->jwk = cjose_jwk_import(text, strlen(text), &err);
    free(text);
    if (key->jwk == NULL)
        /* cjose's own words mislead here (an EC point off its curve reads
         * "out of memory"), and a DPoP proof's key reaches the client */
        return key->kty == MCP_KTY_RSA ? "not a usable RSA key" : "not a usable EC key (is the point on the curve?)";
    if (cjose_jwk_get_kty(key->jwk, &err) != (key->kty == MCP_KTY_RSA ? CJOSE_JWK_KTY_RSA : CJOSE_JWK_KTY_EC)) {
        cjose_jwk_release(key->jwk);
        return "key type changed on import";
    }
    key->pkey = pkey_from_jwk(pool, jwk, key);
    if (key->pkey == NULL || !prepare_verifiers(key)) {
        release_key(key);
        return "rejected by OpenSSL";
    }
    return NULL;
}

mcp_keyset_t *mcp_jwks_parse(apr_pool_t *pool, const char *json, apr_size_t len,
                             const char **err)
{
    mcp_keyset_t *set;
    json_error_t jerr;
    json_t *doc, *keys, *jwk;
    size_t i;

    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        *err = apr_psprintf(pool, "not valid JSON (%s)", jerr.text);
        return NULL;
    }
    keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        json_decref(doc);
        *err = "no \"keys\" array";
        return NULL;
    }

    set = apr_pcalloc(pool, sizeof(*set));
    set->pool = pool;
    set->keys = apr_array_make(pool, (int)json_array_size(keys) + 1, sizeof(mcp_key_t));
    set->skipped = apr_array_make(pool, 1, sizeof(const char *));
    apr_pool_cleanup_register(pool, set->keys, release_keys, apr_pool_cleanup_null);

    json_array_foreach(keys, i, jwk) {
        mcp_key_t key;
        const char *why;

        memset(&key, 0, sizeof(key));
        why = key_from_jwk(pool, jwk, &key);
        if (why != NULL) {
            const char *kid = json_string_value(json_object_get(jwk, "kid"));
            APR_ARRAY_PUSH(set->skipped, const char *) =
                apr_psprintf(pool, "key %lu (kid %s): %s", (unsigned long)i,
                             kid ? kid : "-", why);
            continue;
        }
        APR_ARRAY_PUSH(set->keys, mcp_key_t) = key;
    }
    json_decref(doc);

    if (set->keys->nelts == 0) {
        *err = set->skipped->nelts
                   ? apr_psprintf(pool, "no usable signing key (%s)",
                                  APR_ARRAY_IDX(set->skipped, 0, const char *))
                   : "no keys";
        return NULL;
    }
    return set;
}

mcp_keyset_t *mcp_jwk_keyset(apr_pool_t *pool, json_t *jwk, const char **err)
{
    mcp_keyset_t *set = apr_pcalloc(pool, sizeof(*set));
    mcp_key_t key;

    memset(&key, 0, sizeof(key));
    *err = key_from_jwk(pool, jwk, &key);
    if (*err != NULL)
        return NULL;
    set->pool = pool;
    set->keys = apr_array_make(pool, 1, sizeof(mcp_key_t));
    set->skipped = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(set->keys, mcp_key_t) = key;
    apr_pool_cleanup_register(pool, set->keys, release_keys, apr_pool_cleanup_null);
    return set;
}
