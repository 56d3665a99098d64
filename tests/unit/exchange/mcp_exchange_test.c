/* Unit tests of mcp_exchange: the token-exchange and on-behalf-of requests,
 * the IdP's answers read strictly, reuse periods, sealed records. */

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "mcp_exchange.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static apr_array_header_t *list(const char *a, const char *b)
{
    apr_array_header_t *out = apr_array_make(pool, 2, sizeof(const char *));

    if (a)
        APR_ARRAY_PUSH(out, const char *) = a;
    if (b)
        APR_ARRAY_PUSH(out, const char *) = b;
    return out;
}

/* Whether the form has pair as one of its fields (the test lower-cases
 * forms: escapes may come in either case). */
static int has(const char *form, const char *pair)
{
    const char *p = form;
    apr_size_t n = strlen(pair);

    for (; (p = strstr(p, pair)) != NULL; p++) {
        if ((p == form || p[-1] == '&') && (p[n] == '\0' || p[n] == '&'))
            return 1;
    }
    return 0;
}

static char *lower(const char *s)
{
    char *out = apr_pstrdup(pool, s), *p;

    for (p = out; *p; p++)
        *p = (char)apr_tolower(*p);
    return out;
}

static void test_requests(void)
{
    mcp_exchange_target_t rfc = { MCP_EXCHANGE_GRANT_TOKEN_EXCHANGE, list("tickets", NULL),
                                  list("https://api.example/", "https://b.example/x?y=1"), "read write", NULL };
    mcp_exchange_target_t obo = { MCP_EXCHANGE_GRANT_ON_BEHALF_OF, NULL, NULL, "api://tickets/.default", NULL };
    mcp_exchange_target_t auth0 = { MCP_EXCHANGE_GRANT_TOKEN_EXCHANGE, list("https://api", NULL), NULL, NULL,
                                    "urn:acme:mcp" };
    char *form = lower(mcp_exchange_request(pool, &rfc, "a.b+c", 5));

    CHECK(has(form, "grant_type=urn%3aietf%3aparams%3aoauth%3agrant-type%3atoken-exchange")
              && has(form, "subject_token=a.b%2bc")
              && has(form, "subject_token_type=urn%3aietf%3aparams%3aoauth%3atoken-type%3aaccess_token")
              && has(form, "requested_token_type=urn%3aietf%3aparams%3aoauth%3atoken-type%3aaccess_token"),
          "exchange: RFC 8693 §2.1 grant, the client's token as an access-token subject");
    CHECK(has(form, "audience=tickets") && has(form, "resource=https%3a%2f%2fapi.example%2f")
              && has(form, "resource=https%3a%2f%2fb.example%2fx%3fy%3d1")
              && (has(form, "scope=read+write") || has(form, "scope=read%20write")),
          "exchange: every audience and resource, and the scope, form-encoded");
    CHECK(strstr(form, "assertion") == NULL && strstr(form, "requested_token_use") == NULL,
          "exchange: nothing of on-behalf-of in an RFC 8693 request");
    form = lower(mcp_exchange_request(pool, &obo, "u.v.w", 5));
    CHECK(has(form, "grant_type=urn%3aietf%3aparams%3aoauth%3agrant-type%3ajwt-bearer") && has(form, "assertion=u.v.w")
              && has(form, "requested_token_use=on_behalf_of") && strstr(form, "scope=api%3a%2f%2ftickets%2f.default")
              && strstr(form, "subject_token") == NULL,
          "exchange: Entra on-behalf-of is a jwt-bearer grant with the user's token as assertion");
    form = lower(mcp_exchange_request(pool, &auth0, "t", 1));
    CHECK(has(form, "subject_token_type=urn%3aacme%3amcp") && strstr(form, "scope=") == NULL,
          "exchange: a subject token type of the IdP's own (Auth0), no scope when none is asked");
    CHECK(strcmp(mcp_exchange_target_describe(pool, &rfc), mcp_exchange_target_describe(pool, &rfc)) == 0
              && strcmp(mcp_exchange_target_describe(pool, &rfc), mcp_exchange_target_describe(pool, &auth0)) != 0
              && strstr(mcp_exchange_target_describe(pool, &rfc), "a.b") == NULL,
          "exchange: a target's description tells targets apart and holds no token");
}

static mcp_exchange_status_t answer(long status, const char *body, mcp_exchanged_t *out, const char **err)
{
    return mcp_exchange_answer(pool, status, body, strlen(body), 1800000000L, out, err);
}

static void test_answers(void)
{
    mcp_exchanged_t out;
    const char *err = NULL;
    /* a JWT whose payload is {"exp":1800000900} */
    const char *jwt = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE4MDAwMDA5MDB9.c2ln";

    CHECK(answer(200, "{\"access_token\":\"new.tok\",\"token_type\":\"Bearer\",\"issued_token_type\":"
                      "\"urn:ietf:params:oauth:token-type:access_token\",\"expires_in\":300}", &out, &err)
                  == MCP_EXCHANGE_ISSUED
              && strcmp(out.token, "new.tok") == 0 && out.expires_at == 1800000300L,
          "exchange: an issued access token, expiring expires_in from now");
    CHECK(answer(200, "{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                      "\"scope\":\"api://tickets/read\"}", &out, &err) == MCP_EXCHANGE_ISSUED,
          "exchange: Entra's answer (no issued_token_type, token_type in any case)");
    CHECK(answer(200, apr_psprintf(pool, "{\"access_token\":\"%s\",\"token_type\":\"Bearer\"}", jwt), &out, &err)
                  == MCP_EXCHANGE_ISSUED && out.expires_at == 1800000900L,
          "exchange: without expires_in, the JWT's exp says how long it lasts");
    CHECK(answer(200, apr_psprintf(pool, "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":\"300\"}",
                                   jwt), &out, &err) == MCP_EXCHANGE_ISSUED && out.expires_at == 1800000900L,
          "exchange: an expires_in that is no number: the JWT's exp instead");
    CHECK(answer(200, "{\"access_token\":\"opaque\",\"token_type\":\"Bearer\"}", &out, &err) == MCP_EXCHANGE_ISSUED
              && out.expires_at == 0,
          "exchange: an opaque token without expires_in has no known end");
    CHECK(answer(200, "{\"access_token\":\"t\",\"token_type\":\"DPoP\",\"expires_in\":60}", &out, &err)
              == MCP_EXCHANGE_BROKEN,
          "exchange: a DPoP-bound token is nothing the gateway can forward");
    CHECK(answer(200, "{\"access_token\":\"t\",\"token_type\":\"N_A\"}", &out, &err) == MCP_EXCHANGE_BROKEN,
          "exchange: token_type N_A (RFC 8693 §2.2.1) is no access token");
    CHECK(answer(200, "{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"issued_token_type\":"
                      "\"urn:ietf:params:oauth:token-type:refresh_token\"}", &out, &err) == MCP_EXCHANGE_BROKEN,
          "exchange: a refresh token issued is refused");
    CHECK(answer(200, "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\"}", &out, &err)
                  == MCP_EXCHANGE_BROKEN
              && answer(200, "{\"access_token\":\"a b\",\"token_type\":\"Bearer\"}", &out, &err) == MCP_EXCHANGE_BROKEN
              && answer(200, "{\"access_token\":\"\",\"token_type\":\"Bearer\"}", &out, &err) == MCP_EXCHANGE_BROKEN
              && answer(200, "{\"access_token\":7,\"token_type\":\"Bearer\"}", &out, &err) == MCP_EXCHANGE_BROKEN,
          "exchange: a token that is not one header-safe string is refused (no header injection)");
    CHECK(answer(200, "{\"access_token\":\"t\",\"access_token\":\"u\",\"token_type\":\"Bearer\"}", &out, &err)
              == MCP_EXCHANGE_BROKEN,
          "exchange: duplicate members are refused");
    CHECK(answer(400, "{\"error\":\"invalid_target\",\"error_description\":\"no such audience\"}", &out, &err)
                  == MCP_EXCHANGE_REFUSED
              && strcmp(out.error, "invalid_target") == 0 && strcmp(out.description, "no such audience") == 0,
          "exchange: an RFC 6749 §5.2 error is a refusal with its reason");
    CHECK(answer(401, "{\"error\":\"invalid_client\"}", &out, &err) == MCP_EXCHANGE_REFUSED
              && answer(403, "{\"error\":\"unauthorized_client\"}", &out, &err) == MCP_EXCHANGE_REFUSED,
          "exchange: 401 and 403 with an OAuth error are refusals too");
    CHECK(answer(400, "{\"error\":\"bad\\\"code\"}", &out, &err) == MCP_EXCHANGE_BROKEN
              && answer(400, "<html>Bad Request</html>", &out, &err) == MCP_EXCHANGE_BROKEN
              && answer(500, "{\"error\":\"server_error\"}", &out, &err) == MCP_EXCHANGE_BROKEN
              && answer(503, "", &out, &err) == MCP_EXCHANGE_BROKEN && err != NULL,
          "exchange: no OAuth error document, or a server error: the IdP is not working");
}

static void test_reuse(void)
{
    CHECK(mcp_exchange_reuse_until(1000, 1300) == 1240, "exchange: a 5-minute token is reused for 4");
    CHECK(mcp_exchange_reuse_until(1000, 4600) == 4540, "exchange: an hour's token until a minute before its end");
    CHECK(mcp_exchange_reuse_until(1000, 1002) == 1002,
          "exchange: a token of two seconds is reused no longer than it lasts");
    CHECK(mcp_exchange_reuse_until(1000, 0) == 0 && mcp_exchange_reuse_until(1000, 999) == 0
              && mcp_exchange_reuse_until(1000, 1000) == 0,
          "exchange: no known end, or past: not reused");
}

static void test_records(void)
{
    mcp_exchanged_t in = { "backend.token", 1800000300L, NULL, NULL }, out;
    mcp_exchanged_t no = { NULL, 0, "invalid_grant", NULL };
    const char *record = mcp_exchange_record(pool, "client-token", 12, "target A", MCP_EXCHANGE_ISSUED, &in);

    CHECK(record && strstr(record, "backend") == NULL, "exchange: a record does not show the token");
    CHECK(mcp_exchange_record_read(pool, "client-token", 12, "target A", record, strlen(record), &out)
                  == MCP_EXCHANGE_ISSUED
              && strcmp(out.token, "backend.token") == 0 && out.expires_at == 1800000300L,
          "exchange: the record opens with the client's token");
    CHECK(mcp_exchange_record_read(pool, "client-tokem", 12, "target A", record, strlen(record), &out)
              == MCP_EXCHANGE_BROKEN,
          "exchange: another token cannot open it");
    CHECK(mcp_exchange_record_read(pool, "client-token", 12, "target B", record, strlen(record), &out)
              == MCP_EXCHANGE_BROKEN,
          "exchange: nor can a record be taken for another target");
    record = mcp_exchange_record(pool, "client-token", 12, "target A", MCP_EXCHANGE_REFUSED, &no);
    CHECK(record && mcp_exchange_record_read(pool, "client-token", 12, "target A", record, strlen(record), &out)
                        == MCP_EXCHANGE_REFUSED
              && strcmp(out.error, "invalid_grant") == 0 && out.description == NULL,
          "exchange: a refusal is kept too");
    in.token = memset(apr_pcalloc(pool, 16 * 1024 + 1), 'x', 16 * 1024);
    record = mcp_exchange_record(pool, "client-token", 12, "target A", MCP_EXCHANGE_ISSUED, &in);
    CHECK(record && strlen(record) <= MCP_EXCHANGE_RECORD_MAX_LEN
              && mcp_exchange_record_read(pool, "client-token", 12, "target A", record, strlen(record), &out)
                     == MCP_EXCHANGE_ISSUED
              && strlen(out.token) == 16 * 1024,
          "exchange: the record of the biggest token taken (16 KiB) opens again");
    CHECK(mcp_exchange_record_read(pool, "client-token", 12, "target A", "garbage", 7, &out) == MCP_EXCHANGE_BROKEN,
          "exchange: garbage is no record");
}

void mcp_exchange_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_requests();
    test_answers();
    test_reuse();
    test_records();
    apr_pool_destroy(pool);
}
