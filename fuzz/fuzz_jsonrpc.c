/* libFuzzer target: the input is a POSTed MCP body given to mcp_rpc_read,
 * and every name it yields is judged by a set of rules (glob matching).
 * Invariants: a body is accepted only if it parses one way (strict JSON
 * without duplicate names); an accepted targeting call always has its
 * targets; a verdict is always one of the three; MCP 2026-07-28 headers
 * that mirror an accepted request (the name as a base64 sentinel) always
 * agree with it, and a name that differs never does. The input is also
 * read as a Content-Type and as a header value to decode. */
#include <stdint.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_strings.h>
#include <jansson.h>

#include "fuzz_common.h"
#include "mcp_era.h"
#include "mcp_field.h"
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

/* "=?base64?…?=" of s, as an MCP client writes a value that is not plain ASCII. */
static const char *sentinel(apr_pool_t *p, const char *s)
{
    char *b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)strlen(s)));

    apr_base64_encode(b64, s, (int)strlen(s));
    return apr_pstrcat(p, "=?base64?", b64, "?=", NULL);
}

/* Headers that mirror a single accepted request agree with it; another name does not. */
static void check_headers(apr_pool_t *p, const apr_array_header_t *calls)
{
    const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t);
    mcp_rpc_headers_t h = { c->version ? c->version : MCP_FIRST_MODERN_VERSION, c->method, NULL };
    int code;

    if (c->method == NULL || (c->has_claim && c->version == NULL))
        return;
    h.name = c->named ? sentinel(p, c->target) : NULL;
    FUZZ_CHECK(mcp_era_header_problem(p, calls, 0, &h, &code) == NULL);
    if (c->named) {
        h.name = sentinel(p, apr_pstrcat(p, c->target, "x", NULL));
        FUZZ_CHECK(mcp_era_header_problem(p, calls, 0, &h, &code) != NULL && code == MCP_RPC_HEADER_MISMATCH);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_subpool();
    apr_array_header_t *calls;
    int batch, i, k;
    const char *why = mcp_rpc_read(p, (const char *)data, size, &calls, &batch);

    if (why == NULL) {
        json_t *strict = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);

        FUZZ_CHECK(strict != NULL);
        FUZZ_CHECK(calls != NULL && calls->nelts >= 1);
        FUZZ_CHECK(batch == json_is_array(strict));
        json_decref(strict);
        if (!batch)
            check_headers(p, calls);
        for (i = 0; i < calls->nelts; i++) {
            const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);
            const mcp_rule_t *m;
            const char *scopes;
            mcp_verdict_t v;

            if (c->kind < 0)
                continue;
            FUZZ_CHECK(c->method != NULL && (c->target != NULL) == (c->targets != NULL));
            for (k = 0; c->targets && k < c->targets->nelts; k++) {
                v = mcp_policy_decide(p, rules, 0, (mcp_kind_t)c->kind, APR_ARRAY_IDX(c->targets, k, const char *),
                                      NULL, &m, &scopes);
                FUZZ_CHECK(v == MCP_VERDICT_ALLOW || v == MCP_VERDICT_DENY || v == MCP_VERDICT_SCOPE);
                FUZZ_CHECK(v != MCP_VERDICT_SCOPE || (scopes && *scopes));
            }
        }
    }
    else {
        FUZZ_CHECK(calls == NULL);
    }
    {
        const char *text = apr_pstrmemdup(p, (const char *)data, size), *decoded;

        (void)mcp_json_content_type_problem(text);
        decoded = mcp_header_value_decode(p, text);
        FUZZ_CHECK(decoded == NULL || decoded == text || strlen(decoded) < size);
    }
    apr_pool_destroy(p);
    return 0;
}
