/* Rules over MCP tools, prompts and resources: parsing, glob matching and
 * the verdict for a caller. */

#include <string.h>

#include <apr_strings.h>

#include "mcp_policy.h"
#include "mcp_scope.h"

const char *mcp_kind_name(mcp_kind_t kind)
{
    switch (kind) {
    case MCP_KIND_TOOL:
        return "tool";
    case MCP_KIND_PROMPT:
        return "prompt";
    case MCP_KIND_RESOURCE:
        return "resource";
    default:
        return "?";
    }
}

static int is_keyword(const char *w)
{
    return strcmp(w, "allow") == 0 || strcmp(w, "deny") == 0 || strcmp(w, "scope") == 0 || strcmp(w, "claim") == 0;
}

const char *mcp_rule_parse(apr_pool_t *pool, mcp_kind_t kind, int argc, char *const argv[], mcp_rule_t *rule)
{
    int i = 1;

    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    rule->counter = -1;
    rule->scopes = apr_array_make(pool, 2, sizeof(const char *));
    rule->claims = apr_array_make(pool, 1, sizeof(mcp_claim_req_t));
    if (argc < 2)
        return "takes a name pattern and at least one requirement (allow, deny, scope S..., claim NAME VALUE)";
    if (!*argv[0])
        return "the name pattern is empty";
    rule->pattern = apr_pstrdup(pool, argv[0]);
    rule->text = apr_pstrdup(pool, argv[0]);
    while (i < argc) {
        const char *w = argv[i++];

        rule->text = apr_pstrcat(pool, rule->text, " ", w, NULL);
        if (strcmp(w, "allow") == 0)
            rule->allow = 1;
        else if (strcmp(w, "deny") == 0)
            rule->deny = 1;
        else if (strcmp(w, "scope") == 0) {
            int n = 0;

            for (; i < argc && !is_keyword(argv[i]); i++, n++) {
                if (!mcp_scope_is_token(argv[i]))
                    return apr_psprintf(pool, "\"%s\" is not a scope (RFC 6749 §3.3)", argv[i]);
                APR_ARRAY_PUSH(rule->scopes, const char *) = apr_pstrdup(pool, argv[i]);
                rule->text = apr_pstrcat(pool, rule->text, " ", argv[i], NULL);
            }
            if (n == 0)
                return "scope needs at least one scope after it";
        }
        else if (strcmp(w, "claim") == 0) {
            mcp_claim_req_t *c;

            if (i + 2 > argc || is_keyword(argv[i]))
                return "claim needs a claim name and a value";
            c = apr_array_push(rule->claims);
            c->name = apr_pstrdup(pool, argv[i]);
            c->value = apr_pstrdup(pool, argv[i + 1]);
            rule->text = apr_pstrcat(pool, rule->text, " ", argv[i], " ", argv[i + 1], NULL);
            i += 2;
        }
        else {
            return apr_psprintf(pool, "unknown requirement \"%s\" (allow, deny, scope S..., claim NAME VALUE)", w);
        }
    }
    if (rule->allow + rule->deny > 1 || ((rule->allow || rule->deny) && (rule->scopes->nelts || rule->claims->nelts)))
        return "allow and deny stand alone: a rule is allow, deny, or scopes and claims that must all hold";
    return NULL;
}

/* Iterative, with one backtrack point per star: linear in practice,
 * never exponential whatever the pattern. */
int mcp_glob_matches(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name, *star = NULL, *resume = NULL;

    while (*n) {
        if (*p == '*') {
            star = p++;
            resume = n;
        }
        else if (*p == '?' || *p == *n) {
            p++;
            n++;
        }
        else if (star) {
            p = star + 1;
            n = ++resume;
        }
        else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int mcp_policy_has_kind(const apr_array_header_t *rules, mcp_kind_t kind)
{
    int i;

    for (i = 0; rules && i < rules->nelts; i++)
        if (APR_ARRAY_IDX(rules, i, const mcp_rule_t *)->kind == kind)
            return 1;
    return 0;
}

mcp_verdict_t mcp_policy_decide(apr_pool_t *pool, const apr_array_header_t *rules, int default_deny,
                                mcp_kind_t kind, const char *name, const mcp_jwt_t *jwt,
                                const mcp_rule_t **matched, const char **scopes)
{
    int i, k;

    *matched = NULL;
    *scopes = NULL;
    for (i = 0; rules && i < rules->nelts; i++) {
        const mcp_rule_t *rule = APR_ARRAY_IDX(rules, i, const mcp_rule_t *);

        if (rule->kind != kind || !mcp_glob_matches(rule->pattern, name))
            continue;
        *matched = rule;
        if (rule->allow)
            return MCP_VERDICT_ALLOW;
        if (rule->deny)
            return MCP_VERDICT_DENY;
        /* a claim the token lacks is not fixed by asking for more scope */
        for (k = 0; k < rule->claims->nelts; k++) {
            const mcp_claim_req_t *c = &APR_ARRAY_IDX(rule->claims, k, mcp_claim_req_t);

            if (jwt == NULL || !mcp_jwt_claim_holds(pool, jwt, c->name, c->value))
                return MCP_VERDICT_DENY;
        }
        if (rule->scopes->nelts && (jwt == NULL || !mcp_claims_grant_scopes(mcp_jwt_claims(jwt), rule->scopes))) {
            *scopes = mcp_scope_list_add(pool, "", rule->scopes);
            return MCP_VERDICT_SCOPE;
        }
        return MCP_VERDICT_ALLOW;
    }
    return default_deny ? MCP_VERDICT_DENY : MCP_VERDICT_ALLOW;
}
