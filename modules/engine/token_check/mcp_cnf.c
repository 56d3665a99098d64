#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mcp_cnf.h"
#include "mcp_dpop.h"

mcp_cnf_kind_t mcp_cnf_of(json_t *claims, const char **value)
{
    json_t *cnf = json_object_get(claims, "cnf"), *jkt, *x5t;

    *value = NULL;
    if (cnf == NULL)
        return MCP_CNF_NONE;
    if (!json_is_object(cnf))
        return MCP_CNF_UNKNOWN;
    jkt = json_object_get(cnf, "jkt");
    x5t = json_object_get(cnf, "x5t#S256");
    /* a confirmation method we do not check (jwk, kid, jwe, ...) would let
     * a stolen token through: RFC 7800 §3.1 leaves it to the recipient */
    if (json_object_size(cnf) != 1 || (jkt == NULL && x5t == NULL))
        return MCP_CNF_UNKNOWN;
    if (jkt != NULL && json_is_string(jkt) && json_string_length(jkt) > 0) {
        *value = json_string_value(jkt);
        return MCP_CNF_DPOP;
    }
    if (x5t != NULL && json_is_string(x5t) && json_string_length(x5t) > 0) {
        *value = json_string_value(x5t);
        return MCP_CNF_MTLS;
    }
    return MCP_CNF_UNKNOWN;
}

const char *mcp_cert_thumbprint(apr_pool_t *pool, const char *pem)
{
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int der_len = cert ? i2d_X509(cert, &der) : -1;
    const char *thumbprint = der_len > 0 ? mcp_sha256_b64url(pool, der, (apr_size_t)der_len) : NULL;

    OPENSSL_free(der);
    X509_free(cert);
    BIO_free(bio);
    return thumbprint;
}
