/* Unit tests of mcp_discovery: the IdP's metadata URLs (RFC 8414, OpenID
 * Connect Discovery 1.0) and what is read from its document. */

#include <string.h>

#include "mcp_discovery.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

static apr_pool_t *pool;

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

void mcp_discovery_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_discovery();
    apr_pool_destroy(pool);
}
