/* Unit tests of mcp_cnf: what a token's cnf claim binds it to (RFC 7800,
 * RFC 9449 §6, RFC 8705 §3) and certificate thumbprints (x5t#S256). */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <cjose/cjose.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mcp_cnf.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static mcp_cnf_kind_t kind_of(const char *claims_json, const char **value)
{
    json_t *claims = json_loads(claims_json, 0, NULL);
    mcp_cnf_kind_t kind = mcp_cnf_of(claims, value);

    if (*value)
        *value = apr_pstrdup(pool, *value);
    json_decref(claims);
    return kind;
}

static void test_kinds(void)
{
    const char *v;

    CHECK(kind_of("{\"sub\":\"a\"}", &v) == MCP_CNF_NONE && v == NULL, "cnf: no cnf is a bearer token");
    CHECK(kind_of("{\"cnf\":{\"jkt\":\"abc\"}}", &v) == MCP_CNF_DPOP && strcmp(v, "abc") == 0,
          "cnf: jkt binds to a DPoP key");
    CHECK(kind_of("{\"cnf\":{\"x5t#S256\":\"xyz\"}}", &v) == MCP_CNF_MTLS && strcmp(v, "xyz") == 0,
          "cnf: x5t#S256 binds to a certificate");
    CHECK(kind_of("{\"cnf\":{\"jwk\":{\"kty\":\"EC\"}}}", &v) == MCP_CNF_UNKNOWN,
          "cnf: a confirmation method not checked here is unknown");
    CHECK(kind_of("{\"cnf\":{\"jkt\":\"a\",\"x5t#S256\":\"b\"}}", &v) == MCP_CNF_UNKNOWN,
          "cnf: two confirmations at once are unknown");
    CHECK(kind_of("{\"cnf\":{\"jkt\":\"a\",\"kid\":\"b\"}}", &v) == MCP_CNF_UNKNOWN,
          "cnf: jkt beside another method is unknown");
    CHECK(kind_of("{\"cnf\":\"abc\"}", &v) == MCP_CNF_UNKNOWN, "cnf: a cnf that is no object is unknown");
    CHECK(kind_of("{\"cnf\":{}}", &v) == MCP_CNF_UNKNOWN, "cnf: an empty cnf is unknown");
    CHECK(kind_of("{\"cnf\":{\"jkt\":7}}", &v) == MCP_CNF_UNKNOWN, "cnf: a numeric jkt is unknown");
    CHECK(kind_of("{\"cnf\":{\"jkt\":\"\"}}", &v) == MCP_CNF_UNKNOWN, "cnf: an empty jkt is unknown");
}

/* A self-signed certificate as PEM, and its thumbprint worked out apart. */
static const char *certificate(const char **thumbprint)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char *pem_data, *b64;
    long pem_len;
    size_t b64_len;
    const char *pem;
    cjose_err err;

    ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC, (const unsigned char *)"client",
                               -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_sign(cert, key, EVP_sha256());
    PEM_write_bio_X509(bio, cert);
    pem_len = BIO_get_mem_data(bio, &pem_data);
    pem = apr_pstrmemdup(pool, pem_data, (apr_size_t)pem_len);
    X509_digest(cert, EVP_sha256(), md, &md_len);
    cjose_base64url_encode(md, md_len, &b64, &b64_len, &err);
    *thumbprint = apr_pstrmemdup(pool, b64, b64_len);
    cjose_get_dealloc()(b64);
    BIO_free(bio);
    X509_free(cert);
    EVP_PKEY_free(key);
    return pem;
}

static void test_thumbprints(void)
{
    const char *want, *pem = certificate(&want), *got = mcp_cert_thumbprint(pool, pem);

    CHECK(got && strcmp(got, want) == 0, "cnf: x5t#S256 is the base64url SHA-256 of the certificate's DER");
    CHECK(strlen(got) == 43, "cnf: a thumbprint is 43 base64url characters");
    CHECK(mcp_cert_thumbprint(pool, "not a certificate") == NULL, "cnf: no thumbprint of junk");
    CHECK(mcp_cert_thumbprint(pool, "") == NULL, "cnf: no thumbprint of nothing");
    CHECK(mcp_cert_thumbprint(pool, NULL) == NULL, "cnf: no thumbprint without a certificate");
}

void mcp_cnf_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_kinds();
    test_thumbprints();
    apr_pool_destroy(pool);
}
