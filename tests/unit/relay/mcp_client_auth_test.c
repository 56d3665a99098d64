/* Unit tests of mcp_client_auth: client_secret_basic and private_key_jwt
 * client assertions (RFC 6749 §2.3.1, RFC 7523). */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_base64.h>
#include <apr_strings.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>

#include "mcp_client_auth.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static const char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    const char *pem;

    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(pool, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

static unsigned char *unb64url(const char *s, size_t len, size_t *out_len)
{
    uint8_t *raw = NULL;
    unsigned char *copy;
    cjose_err err;

    if (!cjose_base64url_decode(s, len, &raw, out_len, &err))
        return NULL;
    copy = apr_pmemdup(pool, raw, *out_len);
    cjose_get_dealloc()(raw);
    return copy;
}

/* Verifies an assertion with OpenSSL directly (not the module's verifier)
 * and returns its claims. */
static json_t *verified_claims(const char *jwt, EVP_PKEY *key, const char **alg)
{
    const char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
    size_t sig_len, head_len, body_len;
    unsigned char *sig = unb64url(dot2 + 1, strlen(dot2 + 1), &sig_len), *head, *body, *der = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256();
    json_t *claims = NULL, *header;
    int ok, der_len = 0;

    if (EVP_PKEY_is_a(key, "EC") && sig_len == 64) {
        ECDSA_SIG *es = ECDSA_SIG_new();

        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        der_len = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
    }
    ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1
         && EVP_DigestVerify(ctx, der ? der : sig, der ? (size_t)der_len : sig_len, (const unsigned char *)jwt,
                             (size_t)(dot2 - jwt)) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    head = unb64url(jwt, (size_t)(dot1 - jwt), &head_len);
    body = unb64url(dot1 + 1, (size_t)(dot2 - dot1 - 1), &body_len);
    header = json_loadb((const char *)head, head_len, 0, NULL);
    *alg = apr_pstrdup(pool, json_string_value(json_object_get(header, "alg")));
    json_decref(header);
    if (ok)
        claims = json_loadb((const char *)body, body_len, 0, NULL);
    return claims;
}

static void test_basic(void)
{
    const char *h = mcp_client_secret_basic(pool, "my client", "p:ss/w%rd");
    char *decoded = apr_palloc(pool, 64);
    int n = apr_base64_decode(decoded, h + 6);

    decoded[n] = '\0';
    CHECK(strncmp(h, "Basic ", 6) == 0
              && (strcmp(decoded, "my+client:p%3ass%2fw%25rd") == 0 || strcmp(decoded, "my+client:p%3Ass%2Fw%25rd") == 0),
          "client auth: client_secret_basic form-encodes id and secret (RFC 6749 §2.3.1)");
}

static void test_assertions(void)
{
    static const struct {
        const char *type, *param, *alg;
        int usable;
    } keys[] = {
        { "RSA", "2048", "RS256", 1 }, { "EC", "P-256", "ES256", 1 }, { "ED25519", NULL, "EdDSA", 1 },
        { "RSA", "1024", NULL, 0 },    { "EC", "P-384", NULL, 0 },
    };
    size_t i;
    const char *err = NULL;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        EVP_PKEY *gen = keys[i].param == NULL ? EVP_PKEY_Q_keygen(NULL, NULL, keys[i].type)
                        : strcmp(keys[i].type, "RSA") == 0
                            ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(keys[i].param))
                            : EVP_PKEY_Q_keygen(NULL, NULL, "EC", keys[i].param);
        const char *pem = pem_of(gen), *alg = NULL, *jwt;
        EVP_PKEY *key = mcp_client_key_read(pool, pem, strlen(pem), &err);
        json_t *claims;
        char name[96];

        apr_snprintf(name, sizeof(name), "client auth: a %s %s key is %s", keys[i].type,
                     keys[i].param ? keys[i].param : "", keys[i].usable ? "read" : "refused");
        CHECK((key != NULL) == keys[i].usable, name);
        if (key) {
            jwt = mcp_client_assertion(pool, key, "k1", "gw", "https://idp.example/realms/r", 1800000000L);
            claims = jwt ? verified_claims(jwt, gen, &alg) : NULL;
            apr_snprintf(name, sizeof(name), "client auth: a %s assertion verifies and says who, for whom, how long",
                         keys[i].alg);
            CHECK(claims && strcmp(alg, keys[i].alg) == 0
                      && strcmp(json_string_value(json_object_get(claims, "iss")), "gw") == 0
                      && strcmp(json_string_value(json_object_get(claims, "sub")), "gw") == 0
                      && strcmp(json_string_value(json_object_get(claims, "aud")), "https://idp.example/realms/r") == 0
                      && json_integer_value(json_object_get(claims, "exp")) == 1800000060
                      && json_string_length(json_object_get(claims, "jti")) == 32,
                  name);
            json_decref(claims);
        }
        EVP_PKEY_free(gen);
    }
    CHECK(mcp_client_key_read(pool, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58, &err) == NULL,
          "client auth: a broken PEM is refused");
}

/* What a POST to the IdP carries for each kind of client. */
static void test_credentials(void)
{
    EVP_PKEY *gen = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    mcp_idp_client_t secret = { "gw", "s3cret", NULL, NULL, 0 }, keyed = { "gw", NULL, gen, "k1", 0 };
    const char *authorization = "unset", *params, *alg = NULL, *at;
    json_t *claims;

    params = mcp_client_credentials(pool, &secret, "https://idp.example/r", "https://idp.example/r/token", 1800000000L,
                                    &authorization);
    CHECK(params && *params == '\0' && authorization && strncmp(authorization, "Basic ", 6) == 0,
          "client auth: a secret goes in an Authorization header, nothing in the form");
    params = mcp_client_credentials(pool, &keyed, "https://idp.example/r", "https://idp.example/r/token", 1800000000L,
                                    &authorization);
    at = params ? strstr(params, "&client_assertion=") : NULL;
    CHECK(params && authorization == NULL
              && strncasecmp(params, "&client_assertion_type=urn%3aietf%3aparams%3aoauth%3aclient-assertion-type%3ajwt-bearer",
                         strlen("&client_assertion_type=urn%3aietf%3aparams%3aoauth%3aclient-assertion-type%3ajwt-bearer")) == 0
              && at != NULL,
          "client auth: a key signs an assertion sent in the form (RFC 7523 §2.2), no header");
    claims = at ? verified_claims(at + strlen("&client_assertion="), gen, &alg) : NULL;
    CHECK(claims && strcmp(json_string_value(json_object_get(claims, "aud")), "https://idp.example/r") == 0,
          "client auth: the assertion names the issuer by default");
    json_decref(claims);
    keyed.aud_endpoint = 1;
    params = mcp_client_credentials(pool, &keyed, "https://idp.example/r", "https://idp.example/r/token", 1800000000L,
                                    &authorization);
    at = params ? strstr(params, "&client_assertion=") : NULL;
    claims = at ? verified_claims(at + strlen("&client_assertion="), gen, &alg) : NULL;
    CHECK(claims && strcmp(json_string_value(json_object_get(claims, "aud")), "https://idp.example/r/token") == 0,
          "client auth: aud=endpoint names the endpoint instead");
    json_decref(claims);
    EVP_PKEY_free(gen);
}

void mcp_client_auth_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_basic();
    test_assertions();
    test_credentials();
    apr_pool_destroy(pool);
}
