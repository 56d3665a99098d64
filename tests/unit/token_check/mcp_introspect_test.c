/* Unit tests of mcp_introspect: the RFC 7662 request and answers, the
 * shared cache's record of them. */

#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_introspect.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

#define ISS "https://idp.example.com/realms/r"

static mcp_introspect_status_t parse(const char *answer, json_t **claims)
{
    const char *err = NULL;

    return mcp_introspect_parse(pool, answer, strlen(answer), ISS, claims, &err);
}

static void test_request(void)
{
    const char *body = mcp_introspect_request(pool, "a+b/c=&d", 8, NULL);
    const char *with = mcp_introspect_request(pool, "tok", 3, "&client_assertion=x.y.z");

    CHECK(strcmp(body, "token=a%2bb%2fc%3d%26d&token_type_hint=access_token") == 0
              || strcmp(body, "token=a%2Bb%2Fc%3D%26d&token_type_hint=access_token") == 0,
          "introspect: the token goes form-encoded, with the access_token hint");
    CHECK(strcmp(with, "token=tok&token_type_hint=access_token&client_assertion=x.y.z") == 0,
          "introspect: the client's parameters follow");
}

static void test_shapes(void)
{
    CHECK(mcp_token_is_jws_shaped("eyJh.eyJz.c2ln", 14), "introspect: three segments are a JWS");
    CHECK(!mcp_token_is_jws_shaped("2YotnFZFEjr1zCsicMWpAA", 22), "introspect: a reference token is not");
    CHECK(!mcp_token_is_jws_shaped("a.b.c.d.e", 9), "introspect: five segments (a JWE) are not");
    CHECK(!mcp_token_is_jws_shaped("a.b", 3), "introspect: two segments are not");
    CHECK(!mcp_token_is_jws_shaped("a=.b.c", 6), "introspect: a header that is not base64url is not");
}

static void test_answers(void)
{
    json_t *claims;

    CHECK(parse("{\"active\":true,\"sub\":\"alice\",\"aud\":\"urn:x\",\"exp\":1800000000}", &claims)
              == MCP_INTROSPECT_ACTIVE
              && strcmp(json_string_value(json_object_get(claims, "iss")), ISS) == 0,
          "introspect: an active answer, iss filled in with the issuer asked");
    json_decref(claims);
    CHECK(parse("{\"active\":true,\"iss\":\"https://other.example\"}", &claims) == MCP_INTROSPECT_ACTIVE
              && strcmp(json_string_value(json_object_get(claims, "iss")), "https://other.example") == 0,
          "introspect: an iss the answer gives is kept (the claims check judges it)");
    json_decref(claims);
    CHECK(parse("{\"active\":false}", &claims) == MCP_INTROSPECT_INACTIVE && claims == NULL,
          "introspect: active false");
    CHECK(parse("{\"active\":true,\"token_type\":\"bearer\",\"typ\":\"Bearer\"}", &claims) == MCP_INTROSPECT_ACTIVE,
          "introspect: token_type bearer (any case) and Keycloak's typ Bearer are access tokens");
    json_decref(claims);
    CHECK(parse("{\"active\":true,\"token_type\":\"refresh_token\"}", &claims) == MCP_INTROSPECT_INACTIVE,
          "introspect: an active refresh token is no access token");
    CHECK(parse("{\"active\":true,\"typ\":\"Refresh\"}", &claims) == MCP_INTROSPECT_INACTIVE,
          "introspect: Keycloak's typ Refresh is no access token");
    CHECK(parse("{\"active\":true,\"typ\":\"ID\"}", &claims) == MCP_INTROSPECT_INACTIVE,
          "introspect: Keycloak's typ ID is no access token");
    CHECK(parse("{\"active\":true,\"token_type\":7}", &claims) == MCP_INTROSPECT_INACTIVE,
          "introspect: a token_type that is no string is no access token");
    CHECK(parse("{\"active\":\"true\"}", &claims) == MCP_INTROSPECT_BROKEN, "introspect: a string active is no answer");
    CHECK(parse("{\"active\":1}", &claims) == MCP_INTROSPECT_BROKEN, "introspect: a numeric active is no answer");
    CHECK(parse("{\"sub\":\"a\"}", &claims) == MCP_INTROSPECT_BROKEN, "introspect: no active is no answer");
    CHECK(parse("{\"active\":true,\"active\":false}", &claims) == MCP_INTROSPECT_BROKEN,
          "introspect: duplicate members refused");
    CHECK(parse("<html>login</html>", &claims) == MCP_INTROSPECT_BROKEN, "introspect: HTML is no answer");
    CHECK(parse("[true]", &claims) == MCP_INTROSPECT_BROKEN, "introspect: an array is no answer");
    CHECK(parse("{\"active\":true,\"x\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}", &claims) == MCP_INTROSPECT_BROKEN,
          "introspect: nesting beyond reason refused");
}

static void test_records(void)
{
    json_t *claims = json_pack("{sb ss si}", "active", 1, "sub", "alice", "exp", 1800000000), *back;
    const char *on = mcp_introspect_record(pool, claims), *off = mcp_introspect_record(pool, NULL);

    CHECK(mcp_introspect_record_read(pool, on, strlen(on), &back) == MCP_INTROSPECT_ACTIVE
              && strcmp(json_string_value(json_object_get(back, "sub")), "alice") == 0,
          "introspect: an active record reads back with its claims");
    json_decref(back);
    CHECK(mcp_introspect_record_read(pool, off, strlen(off), &back) == MCP_INTROSPECT_INACTIVE && back == NULL,
          "introspect: an inactive record reads back");
    CHECK(mcp_introspect_record_read(pool, "{\"active\":true}", 15, &back) == MCP_INTROSPECT_BROKEN,
          "introspect: an active record without claims is not one");
    CHECK(mcp_introspect_record_read(pool, "junk", 4, &back) == MCP_INTROSPECT_BROKEN,
          "introspect: junk in the cache is no record");
    json_decref(claims);
}

void mcp_introspect_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_request();
    test_shapes();
    test_answers();
    test_records();
    apr_pool_destroy(pool);
}
