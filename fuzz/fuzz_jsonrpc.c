/* libFuzzer target: the input is a POSTed MCP body given to mcp_rpc_read,
 * and every name it yields is judged by a set of rules (glob matching).
 * Invariants: a body is accepted only if it parses one way (strict JSON
 * without duplicate names); an accepted targeting call always has its
 * target; a verdict is always one of the three. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "mcp_jsonrpc.h"
#include "mcp_policy.h"

static apr_array_header_t *rules;

static void add_rule(mcp_kind_t kind, int argc, char *const argv[])
{
    mcp_rule_t *rule = apr_palloc(fuzz_root, sizeof(*rule));

    FUZZ_CHECK(mcp_rule_parse(fuzz_root, kind, argc, argv, rule) == NULL);
    APR_ARRAY_PUSH(rules, const mcp_rule_t *) = rule;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *r1[] = { "delete_*", "scope", "repo:admin" }, *r2[] = { "*a*b?c*", "deny" },
         *r3[] = { "file:///etc/*", "deny" }, *r4[] = { "*", "allow" };

    (void)argc;
    (void)argv;
    fuzz_apr_init();
    rules = apr_array_make(fuzz_root, 4, sizeof(const mcp_rule_t *));
    add_rule(MCP_KIND_TOOL, 3, r1);
    add_rule(MCP_KIND_TOOL, 2, r2);
    add_rule(MCP_KIND_RESOURCE, 2, r3);
    add_rule(MCP_KIND_PROMPT, 2, r4);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_subpool();
    apr_array_header_t *calls;
    int batch, i;
    const char *why = mcp_rpc_read(p, (const char *)data, size, &calls, &batch);

    if (why == NULL) {
        json_t *strict = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

        FUZZ_CHECK(strict != NULL);
        FUZZ_CHECK(calls != NULL && calls->nelts >= 1);
        FUZZ_CHECK(batch == json_is_array(strict));
        json_decref(strict);
        for (i = 0; i < calls->nelts; i++) {
            const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);
            const mcp_rule_t *m;
            const char *scopes;
            mcp_verdict_t v;

            if (c->kind < 0)
                continue;
            FUZZ_CHECK(c->target != NULL && c->method != NULL);
            v = mcp_policy_decide(p, rules, 0, (mcp_kind_t)c->kind, c->target, NULL, &m, &scopes);
            FUZZ_CHECK(v == MCP_VERDICT_ALLOW || v == MCP_VERDICT_DENY || v == MCP_VERDICT_SCOPE);
            FUZZ_CHECK(v != MCP_VERDICT_SCOPE || (scopes && *scopes));
        }
    }
    else {
        FUZZ_CHECK(calls == NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
