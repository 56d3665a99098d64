/* Unit tests of mcp_policy: rules over tool and prompt names and resource
 * URIs: globs, parsing, decisions, and URIs in every spelling a server
 * normalises. */

#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_jwt.h"
#include "mcp_policy.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static const mcp_rule_t *rule_of(mcp_kind_t kind, const char *words)
{
    char *copy = apr_pstrdup(pool, words), *state = NULL, *w;
    char *argv[16];
    int argc = 0;
    mcp_rule_t *rule = apr_palloc(pool, sizeof(*rule));

    for (w = apr_strtok(copy, " ", &state); w && argc < 16; w = apr_strtok(NULL, " ", &state))
        argv[argc++] = w;
    return mcp_rule_parse(pool, kind, argc, argv, rule) ? NULL : rule;
}

static void test_policy(void)
{
    apr_array_header_t *rules = apr_array_make(pool, 4, sizeof(const mcp_rule_t *));
    const mcp_rule_t *m;
    const char *scopes;
    mcp_jwt_t *user = mcp_jwt_verified(pool, json_pack("{s:s, s:s, s:[s,s]}", "sub", "u", "scope", "mcp:tools",
                                                       "groups", "engineering", "ops"), "RS256", "k", NULL);
    mcp_rule_t r;
    char *bad1[] = { "x" }, *bad2[] = { "x", "scope" }, *bad3[] = { "x", "allow", "scope", "a" },
         *bad4[] = { "x", "claim", "groups" }, *bad5[] = { "x", "permit" }, *bad6[] = { "x", "scope", "a\"b" };

    CHECK(mcp_glob_matches("delete_*", "delete_repo") && !mcp_glob_matches("delete_*", "undelete_repo"),
          "glob: * at the end");
    CHECK(mcp_glob_matches("*", "") && mcp_glob_matches("a?c", "abc") && !mcp_glob_matches("a?c", "ac"), "glob: * and ?");
    CHECK(mcp_glob_matches("file:///etc/*", "file:///etc/ssl/x") && !mcp_glob_matches("file:///etc/*", "file:///etcx"),
          "glob: * crosses slashes (URIs), the prefix is literal");
    CHECK(mcp_glob_matches("*a*b*c", "xxaxxbxxbxxc") && !mcp_glob_matches("*a*b*c", "xxaxxbxx"), "glob: backtracking");
    CHECK(mcp_glob_matches("a[1]", "a[1]") && !mcp_glob_matches("a[1]", "a1"), "glob: brackets are literal");
    CHECK(!mcp_glob_matches("**********************************b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
          "glob: many stars stay linear (no blow-up)");

    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 1, bad1, &r) != NULL, "rule: a pattern alone is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 2, bad2, &r) != NULL, "rule: scope without scopes is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 4, bad3, &r) != NULL, "rule: allow mixed with scope is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 3, bad4, &r) != NULL, "rule: claim without a value is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 2, bad5, &r) != NULL, "rule: an unknown requirement is refused");
    CHECK(mcp_rule_parse(pool, MCP_KIND_TOOL, 3, bad6, &r) != NULL, "rule: a scope with a quote is refused");

    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "delete_* scope repo:admin mcp:tools");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "search_* claim groups engineering");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "secret_* claim groups finance scope mcp:tools");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_TOOL, "* scope mcp:tools");
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule_of(MCP_KIND_RESOURCE, "file:///etc/* deny");
    CHECK(APR_ARRAY_IDX(rules, 0, const mcp_rule_t *) && APR_ARRAY_IDX(rules, 4, const mcp_rule_t *), "rules parse");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "delete_repo", user, &m, &scopes) == MCP_VERDICT_SCOPE
          && scopes && strcmp(scopes, "repo:admin mcp:tools") == 0,
          "a missing scope: step-up, naming every scope the rule needs");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "search_code", user, &m, &scopes) == MCP_VERDICT_ALLOW
          && m == APR_ARRAY_IDX(rules, 1, const mcp_rule_t *), "a claim held (array member): allowed by that rule");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "secret_x", user, &m, &scopes) == MCP_VERDICT_DENY,
          "a claim not held: denied (no step-up for claims)");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "echo", user, &m, &scopes) == MCP_VERDICT_ALLOW,
          "the catch-all: allowed with its scope");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_TOOL, "echo", NULL, &m, &scopes) == MCP_VERDICT_SCOPE,
          "anonymous: scopes missing");
    CHECK(mcp_policy_decide(pool, rules, 1, MCP_KIND_PROMPT, "greet", user, &m, &scopes) == MCP_VERDICT_DENY && m == NULL,
          "no rule of the kind: the default (deny)");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_PROMPT, "greet", user, &m, &scopes) == MCP_VERDICT_ALLOW,
          "no rule of the kind: the default (allow)");
    CHECK(mcp_policy_decide(pool, rules, 0, MCP_KIND_RESOURCE, "file:///etc/passwd", user, &m, &scopes) == MCP_VERDICT_DENY,
          "a resource rule denies");
    CHECK(mcp_policy_has_kind(rules, MCP_KIND_RESOURCE) && !mcp_policy_has_kind(rules, MCP_KIND_PROMPT), "kinds with rules");

    {
        /* spellings a server normalises to file:///etc/passwd (or into a denied URI) */
        static const char *const denied[] = {
            "file:///etc/passwd", "FILE:///etc/passwd", "file://localhost/etc/passwd", "file://LOCALHOST/etc/passwd",
            "file://%6cocalhost/etc/passwd", "file:///tmp/../etc/passwd", "file:///./etc/passwd", "file:/etc/passwd",
            "file:etc/passwd", "file:///../etc/passwd", " file:///etc/passwd", "file:///et\tc/passwd",
            "file:\\\\\\etc\\passwd", "file:///%65tc/passwd", "file:///tmp/%2e%2e/etc/passwd", "file:///tmp/.%2E/etc/x",
            /* hosts a WHATWG parser maps by UTS #46 to localhost: full-width
             * letters, a soft hyphen, a zero-width space, escaped or not */
            "file://\xef\xbd\x8c\xef\xbd\x8f\xef\xbd\x83\xef\xbd\x81\xef\xbd\x8c\xef\xbd\x88\xef\xbd\x8f\xef\xbd\x93\xef\xbd\x94/etc/passwd",
            "file://local\xc2\xadhost/etc/passwd", "file://local\xe2\x80\x8bhost/etc/passwd",
            "file://%EF%BD%8Cocalhost/etc/passwd", "file://local%C2%ADhost/etc/passwd",
        };
        static const struct { const char *in, *out; } forms[] = {
            { "https://API.example.com:443/v1/x", "https://api.example.com/v1/x" },
            { "https://api.example.com:/v1/x", "https://api.example.com/v1/x" },
            { "https://api.example.com:0443/v1/x", "https://api.example.com/v1/x" },
            { "https://u:p@api.example.com/v1/x", "https://api.example.com/v1/x" },
            { "https://0x7f.0.0.1/x", "https://127.0.0.1/x" },
            { "https://2130706433/x", "https://127.0.0.1/x" },
            { "https://127.1/x", "https://127.0.0.1/x" },
            { "https://0177.0.0.1/x", "https://127.0.0.1/x" },
            { "https://127.0.0.1", "https://127.0.0.1/" },
            { "http://a.example:80/x", "http://a.example/x" },
            { "wss://a.example:443/x", "wss://a.example/x" },
            { "greeting://root:", "greeting://root" },
            { "users://U123/profile", "users://U123/profile" },
            { "file:///docs/caf\xc3\xa9.txt", "file:///docs/caf\xc3\xa9.txt" },
            { "file:///docs/caf%C3%A9.txt", "file:///docs/caf\xc3\xa9.txt" },
            { "docs://caf%c3%a9/menu", "docs://caf\xc3\xa9/menu" },
            { "http://[0::1]/admin", "http://[::1]/admin" },
            { "HTTP://[0:0:0:0:0:0:0:1]:80/admin", "http://[::1]/admin" },
            { "http://[::0:1]/admin", "http://[::1]/admin" },
            { "https://[2001:DB8:0:0:1:0:0:1]/x", "https://[2001:db8::1:0:0:1]/x" },
            { "http://[1:2:3:4:5:6:0:0]/", "http://[1:2:3:4:5:6::]/" },
            { "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/" },
            { "mcp:thing", "mcp:thing" },
        };
        const mcp_rule_t *deny_etc = rule_of(MCP_KIND_RESOURCE, "file:///etc/* deny");
        apr_array_header_t *only = apr_array_make(pool, 1, sizeof(const mcp_rule_t *));
        size_t i;
        int all = 1;

        APR_ARRAY_PUSH(only, const mcp_rule_t *) = deny_etc;
        for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
            int d = mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, denied[i], user, &m, &scopes) == MCP_VERDICT_DENY;

            if (!d)
                printf("# allowed: %s (normalised: %s)\n", denied[i], mcp_resource_uri_normalized(pool, denied[i]));
            all &= d;
        }
        CHECK(all, "file:///etc/* deny holds against every spelling a server normalises to it");
        for (all = 1, i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
            const char *got = mcp_resource_uri_normalized(pool, forms[i].in);

            if (strcmp(got, forms[i].out) != 0)
                printf("# %s -> %s, want %s\n", forms[i].in, got, forms[i].out);
            all &= strcmp(got, forms[i].out) == 0;
        }
        CHECK(all, "normalised forms: default and empty ports, userinfo, IPv4 forms, an empty path; other schemes keep their host's case");
        CHECK(mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "users://U123/profile", user, &m, &scopes) == MCP_VERDICT_ALLOW
              && mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "file:///docs/My Notes.txt", user, &m, &scopes)
                     == MCP_VERDICT_ALLOW,
              "URIs no rule denies in any spelling stay allowed (upper case hosts of other schemes, spaces, UTF-8)");
        CHECK(mcp_resource_uri_normalized(pool, "https://caf\xc3\xa9.example/x") == NULL
              && mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "https://caf\xc3\xa9.example/x", user, &m, &scopes)
                     == MCP_VERDICT_DENY && m == NULL
              && mcp_policy_decide(pool, NULL, 0, MCP_KIND_RESOURCE, "https://caf\xc3\xa9.example/x", user, &m, &scopes)
                     == MCP_VERDICT_ALLOW,
              "a special URL's host beyond ASCII: no normal form, denied where rules speak of resources, not elsewhere");
        CHECK(mcp_resource_uri_normalized(pool, "http://[::g]/x") == NULL
              && mcp_resource_uri_normalized(pool, "http://[::1%25lo]/x") == NULL,
              "an IPv6 host that does not parse: no normal form (denied where resource rules exist)");
        APR_ARRAY_IDX(only, 0, const mcp_rule_t *) = rule_of(MCP_KIND_RESOURCE, "docs://caf\xc3\xa9/* deny");
        CHECK(mcp_policy_decide(pool, only, 0, MCP_KIND_RESOURCE, "docs://caf%C3%A9/menu", user, &m, &scopes)
                  == MCP_VERDICT_DENY, "a rule naming a URI beyond ASCII holds against its escaped spelling");
    }
}

void mcp_policy_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_policy();
    apr_pool_destroy(pool);
}
