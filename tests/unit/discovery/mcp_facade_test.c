/* Unit tests of mcp_facade: the authorization-server metadata the gateway
 * publishes (the IdP's, or the relay's own), and the Entra scopes it lets
 * through. */

#include <string.h>

#include <apr_tables.h>
#include <jansson.h>

#include "mcp_facade.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

static apr_pool_t *pool;

static void test_facade(void)
{
    static const char idp[] = "{\"issuer\":\"https://idp.example/realms/x\",\"authorization_endpoint\":\"https://idp.example/auth\","
                              "\"token_endpoint\":\"https://idp.example/token\",\"jwks_uri\":\"https://idp.example/certs\","
                              "\"code_challenge_methods_supported\":[\"plain\",\"S256\"],\"scopes_supported\":[\"openid\"],"
                              "\"pushed_authorization_request_endpoint\":\"https://idp.example/par\","
                              "\"dpop_signing_alg_values_supported\":[\"ES256\"],"
                              "\"token_endpoint_auth_signing_alg_values_supported\":[\"RS256\"],"
                              "\"request_parameter_supported\":true,\"claims_parameter_supported\":true}";
    mcp_facade_t f;
    const char *err = NULL, *out;
    json_t *doc;

    memset(&f, 0, sizeof(f));
    out = mcp_facade_metadata(pool, idp, &f, &err);
    doc = json_loads(out, 0, NULL);
    CHECK(doc && strcmp(json_string_value(json_object_get(doc, "authorization_endpoint")), "https://idp.example/auth") == 0
              && json_object_get(doc, "dpop_signing_alg_values_supported") != NULL,
          "facade without an issuer: the IdP's document as it is, DPoP algs included (the client asks the IdP)");
    json_decref(doc);
    f.issuer = "https://mcp.example/mcp";
    f.authorization_endpoint = "https://mcp.example/.well-known/mcp-auth/authorize/mcp";
    f.token_endpoint = "https://mcp.example/.well-known/mcp-auth/token/mcp";
    f.registration_endpoint = "https://mcp.example/.well-known/mcp-auth/register/mcp";
    f.client_metadata_documents = 1;
    doc = json_loads(mcp_facade_metadata(pool, idp, &f, &err), 0, NULL);
    CHECK(doc && strcmp(json_string_value(json_object_get(doc, "issuer")), "https://mcp.example/mcp") == 0
              && strcmp(json_string_value(json_object_get(doc, "token_endpoint")), f.token_endpoint) == 0
              && json_is_true(json_object_get(doc, "authorization_response_iss_parameter_supported"))
              && json_is_true(json_object_get(doc, "client_id_metadata_document_supported")),
          "relay metadata: the gateway's issuer and endpoints, iss promised, CIMD");
    CHECK(doc && json_array_size(json_object_get(doc, "code_challenge_methods_supported")) == 1
              && json_object_get(doc, "pushed_authorization_request_endpoint") == NULL
              && strcmp(json_string_value(json_object_get(doc, "jwks_uri")), "https://idp.example/certs") == 0,
          "relay metadata: S256 only, no IdP endpoints the relay does not serve, the IdP's keys kept");
    CHECK(doc && json_object_get(doc, "dpop_signing_alg_values_supported") == NULL,
          "relay metadata: no DPoP algs (the relay redeems codes itself and issues bearer tokens)");
    CHECK(doc && json_object_get(doc, "token_endpoint_auth_signing_alg_values_supported") == NULL
              && json_object_get(doc, "request_parameter_supported") == NULL
              && json_object_get(doc, "claims_parameter_supported") == NULL
              && json_is_false(json_object_get(doc, "request_uri_parameter_supported")),
          "relay metadata: public clients only (no JWT client authentication algs), no request objects or claims");
    json_decref(doc);
    CHECK(mcp_facade_metadata(pool, "[1]", &f, &err) == NULL, "facade: an IdP document that is no object is refused");
}

static void test_entra_scopes(void)
{
    apr_array_header_t *apis = words(pool, "66666666-7777-8888-9999-000000000000", "api://mcp-server/");

    CHECK(mcp_entra_foreign_scope(pool, "openid offline_access api://mcp-server/mcp.tools "
                                  "66666666-7777-8888-9999-000000000000/.default", apis) == NULL,
          "Entra scopes: OpenID scopes and this API's scopes, in both forms of its name, pass");
    CHECK(strcmp(mcp_entra_foreign_scope(pool, "api://mcp-server/.default https://graph.microsoft.com/.default", apis) ?: "",
                 "https://graph.microsoft.com/.default") == 0,
          "Entra scopes: another API's .default is named as foreign");
    CHECK(mcp_entra_foreign_scope(pool, "User.Read", apis) != NULL, "Entra scopes: a bare scope is Microsoft Graph's");
    CHECK(mcp_entra_foreign_scope(pool, "api://mcp-server-evil/x", apis) != NULL
              && mcp_entra_foreign_scope(pool, "api://mcp/x", apis) != NULL,
          "Entra scopes: an API whose name starts or ends like this one's is another API");
    CHECK(mcp_entra_foreign_scope(pool, "/x", apis) != NULL, "Entra scopes: an empty API name is no API of ours");
}

void mcp_facade_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_facade();
    test_entra_scopes();
    apr_pool_destroy(pool);
}
