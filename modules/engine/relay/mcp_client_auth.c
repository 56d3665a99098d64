#include <stdlib.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_escape.h>
#include <apr_strings.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "mcp_client_auth.h"

const char *mcp_client_secret_basic(apr_pool_t *pool, const char *client_id, const char *secret)
{
    const char *pair = apr_pstrcat(pool, apr_pescape_urlencoded(pool, client_id), ":",
                                   apr_pescape_urlencoded(pool, secret), NULL);
    char *b64 = apr_palloc(pool, apr_base64_encode_len((int)strlen(pair)));

    apr_base64_encode(b64, pair, (int)strlen(pair));
    return apr_pstrcat(pool, "Basic ", b64, NULL);
}

static apr_status_t free_key(void *key)
{
    EVP_PKEY_free(key);
    return APR_SUCCESS;
}

/* No passphrase, ever: without a callback OpenSSL asks the terminal for
 * one, which holds `apachectl -t` or a start from a shell at a prompt (and
 * takes the key when someone types) while a restart without a terminal
 * refuses it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

EVP_PKEY *mcp_client_key_read(apr_pool_t *pool, const char *pem, apr_size_t len, const char **err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    char group[32] = "";

    BIO_free(bio);
    if (key == NULL) {
        *err = "not a PEM private key (without a passphrase)";
        return NULL;
    }
    apr_pool_cleanup_register(pool, key, free_key, apr_pool_cleanup_null);
    if (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048)
        return key;
    if (EVP_PKEY_is_a(key, "EC")
        && EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL)
        && (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
        return key;
    if (EVP_PKEY_is_a(key, "ED25519"))
        return key;
    *err = "the key is neither RSA of 2048 bits or more, nor EC P-256, nor Ed25519";
    return NULL;
}

const char *mcp_client_key_alg(EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "RSA") ? "RS256" : EVP_PKEY_is_a(key, "EC") ? "ES256" : "EdDSA";
}

static const char *b64url(apr_pool_t *pool, const void *bytes, size_t len)
{
    char *text = NULL;
    size_t text_len = 0;
    const char *copy = NULL;
    cjose_err err;

    if (cjose_base64url_encode(bytes, len, &text, &text_len, &err))
        copy = apr_pstrmemdup(pool, text, text_len);
    cjose_get_dealloc()(text);
    return copy;
}

static const char *json_b64url(apr_pool_t *pool, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    const char *out = text ? b64url(pool, text, strlen(text)) : NULL;

    free(text);
    json_decref(doc);
    return out;
}

/* RFC 7518 §3.4: an ECDSA signature in a JWS is R || S, each 32 bytes for
 * P-256; OpenSSL writes DER. */
static int der_to_raw(const unsigned char *der, size_t der_len, unsigned char raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r, *s;
    int ok;

    if (sig == NULL)
        return 0;
    ECDSA_SIG_get0(sig, &r, &s);
    ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok;
}

static const char *signature(apr_pool_t *pool, EVP_PKEY *key, const char *input)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Ed25519 signs the message itself (RFC 8032): no digest */
    const EVP_MD *md = EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();
    unsigned char *sig = NULL, raw[64];
    size_t sig_len = 0;
    const char *out = NULL;

    if (ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1
        && EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, strlen(input)) == 1
        && (sig = OPENSSL_malloc(sig_len)) != NULL
        && EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input)) == 1) {
        if (!EVP_PKEY_is_a(key, "EC"))
            out = b64url(pool, sig, sig_len);
        else if (der_to_raw(sig, sig_len, raw))
            out = b64url(pool, raw, sizeof(raw));
    }
    OPENSSL_free(sig);
    EVP_MD_CTX_free(ctx);
    return out;
}

const char *mcp_client_assertion(apr_pool_t *pool, EVP_PKEY *key, const char *kid, const char *client_id,
                                 const char *audience, long now)
{
    unsigned char nonce[16];
    json_t *header = json_pack("{ss ss}", "alg", mcp_client_key_alg(key), "typ", "JWT");
    const char *head, *body, *input, *sig;

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        json_decref(header);
        return NULL;
    }
    if (kid)
        json_object_set_new(header, "kid", json_string(kid));
    head = json_b64url(pool, header);
    /* RFC 7523 §3: iss and sub the client, aud the authorization server,
     * short-lived and single use */
    body = json_b64url(pool, json_pack("{ss ss ss ss sI sI}", "iss", client_id, "sub", client_id, "aud", audience,
                                       "jti", apr_pescape_hex(pool, nonce, sizeof(nonce), 0), "iat",
                                       (json_int_t)now, "exp", (json_int_t)now + 60));
    if (head == NULL || body == NULL)
        return NULL;
    input = apr_pstrcat(pool, head, ".", body, NULL);
    sig = signature(pool, key, input);
    return sig ? apr_pstrcat(pool, input, ".", sig, NULL) : NULL;
}

const char *mcp_client_credentials(apr_pool_t *pool, const mcp_idp_client_t *client, const char *issuer,
                                   const char *endpoint, long now, const char **authorization)
{
    const char *assertion;

    *authorization = NULL;
    if (client->key == NULL) {
        if (client->secret)
            *authorization = mcp_client_secret_basic(pool, client->client_id, client->secret);
        return "";
    }
    /* RFC 7523 §3: the assertion's audience is the authorization server, by
     * its issuer identifier; some IdPs (Okta) want the URL it is sent to */
    assertion = mcp_client_assertion(pool, client->key, client->kid, client->client_id,
                                     client->aud_endpoint ? endpoint : issuer, now);
    if (assertion == NULL)
        return NULL;
    return apr_pstrcat(pool, "&client_assertion_type=", apr_pescape_urlencoded(pool, MCP_CLIENT_ASSERTION_TYPE),
                       "&client_assertion=", apr_pescape_urlencoded(pool, assertion), NULL);
}
