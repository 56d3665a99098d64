/* Unit tests of mcp_scope: scope-tokens and scope lists (RFC 6749 §3.3), and
 * the scope and scp claims that grant them. */

#include <string.h>

#include <apr_tables.h>
#include <jansson.h>

#include "mcp_scope.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

static apr_pool_t *pool;

static void test_scope(void)
{
    json_t *claims;

    CHECK(mcp_scope_list_covers(pool, "openid mcp:tools", "mcp:tools openid"), "scope list covers the same words in any order");
    CHECK(mcp_scope_list_covers(pool, "openid", NULL) && mcp_scope_list_covers(pool, "", ""), "nothing asked is covered");
    CHECK(!mcp_scope_list_covers(pool, "openid mcp:tools", "openid mcp:admin"), "a word not granted is not covered");
    CHECK(!mcp_scope_list_covers(pool, "mcp:tools", "mcp:tool"), "words, not prefixes");
    {
        int valid = 0;
        const char *n = mcp_scope_list_normal(pool, "  openid   mcp:tools ", &valid);

        CHECK(n && strcmp(n, "openid mcp:tools") == 0 && valid, "scope normal form: one space between words");
        CHECK(mcp_scope_list_normal(pool, " ", &valid) == NULL && valid
                  && mcp_scope_list_normal(pool, "", &valid) == NULL && mcp_scope_list_normal(pool, NULL, &valid) == NULL,
              "scope normal form: blanks, empty and absent are all no scope (the IdP's default)");
        mcp_scope_list_normal(pool, "openid\tprofile", &valid);
        CHECK(!valid, "scope normal form: a tab is not a separator but a bad scope-token");
    }

    CHECK(mcp_scope_is_token("mcp:tools"), "scope: a scope-token passes");
    CHECK(!mcp_scope_is_token("a b") && !mcp_scope_is_token("a\"b") && !mcp_scope_is_token("")
              && !mcp_scope_is_token("caf\xc3\xa9"),
          "scope: space, quote, empty and non-ASCII are not scope-tokens (RFC 6749 §3.3)");
    CHECK(mcp_scope_list_has("openid mcp:tools", "mcp:tools"), "scope list: a word is found");
    CHECK(!mcp_scope_list_has("openid mcp:tools", "mcp"), "scope list: a prefix of a word is not the word");
    CHECK(!mcp_scope_list_has("openid MCP", "mcp"), "scope list: words are case-sensitive");
    CHECK(!mcp_scope_list_has("openid", ""), "scope list: the empty word is never found");
    CHECK(strcmp(mcp_scope_list_add(pool, "a b", words(pool, "b", "c")), "a b c") == 0,
          "scope list: only missing words are appended");
    CHECK(strcmp(mcp_scope_list_add(pool, "", words(pool, "x", NULL)), "x") == 0,
          "scope list: appending to an empty list has no leading space");

    claims = json_loads("{\"scope\":\"openid mcp:tools\"}", 0, NULL);
    CHECK(mcp_claims_grant_scopes(claims, words(pool, "mcp:tools", "openid")), "scope claim: a string grants its words");
    CHECK(!mcp_claims_grant_scopes(claims, words(pool, "mcp:tools", "admin")), "scope claim: every scope must be granted");
    json_decref(claims);
    claims = json_loads("{\"scp\":[\"files.read\",\"mcp\"]}", 0, NULL);
    CHECK(mcp_claims_grant_scopes(claims, words(pool, "mcp", NULL)), "scp claim: an array element grants it");
    CHECK(!mcp_claims_grant_scopes(claims, words(pool, "files", NULL)), "scp claim: no prefix match in arrays");
    json_decref(claims);
    claims = json_loads("{\"scope\":[\"mcp\"]}", 0, NULL);
    CHECK(mcp_claims_grant_scopes(claims, words(pool, "mcp", NULL)), "scope claim: an array is read too");
    json_decref(claims);
}

void mcp_scope_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_scope();
    apr_pool_destroy(pool);
}
