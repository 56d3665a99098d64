/* Unit tests of mcp_client: redirect URIs, registrations (RFC 7591) and what
 * goes on to the IdP, Client ID Metadata Documents, PKCE (RFC 7636). */

#include <string.h>

#include "mcp_client.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

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

void mcp_client_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_client();
    apr_pool_destroy(pool);
}
