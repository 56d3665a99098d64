/* Rules over MCP tools, prompts and resources: parsing, glob matching and
 * the verdict for a caller. */

#include <string.h>

#include <apr_lib.h>
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

static int is_unreserved(int c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

int mcp_resource_uri_is_canonical(const char *uri)
{
    const char *p = uri, *q, *authority;
    apr_size_t scheme_len;
    int file;

    if (!apr_islower(*p))
        return 0;
    while (apr_islower(*p) || apr_isdigit(*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p != ':')
        return 0;
    scheme_len = (apr_size_t)(p - uri);
    file = scheme_len == 4 && strncmp(uri, "file", 4) == 0;
    p++;
    /* ASCII only, no space, control or backslash; escapes in upper case and
     * only where a character could not stand for itself (RFC 3986 §6.2.2) */
    for (q = p; *q; q++) {
        unsigned char c = (unsigned char)*q;

        if (c <= 0x20 || c >= 0x7f || c == '\\')
            return 0;
        if (c == '%') {
            int hi, lo;

            if (!apr_isxdigit(q[1]) || !apr_isxdigit(q[2]) || apr_islower(q[1]) || apr_islower(q[2]))
                return 0;
            hi = apr_isdigit(q[1]) ? q[1] - '0' : q[1] - 'A' + 10;
            lo = apr_isdigit(q[2]) ? q[2] - '0' : q[2] - 'A' + 10;
            if (is_unreserved(hi * 16 + lo))
                return 0;
        }
    }
    if (p[0] == '/' && p[1] == '/') {
        /* the authority in lower case, without userinfo; a file URL's empty */
        authority = p += 2;
        while (*p && *p != '/' && *p != '?' && *p != '#') {
            if (apr_isupper(*p) || *p == '@')
                return 0;
            p++;
        }
        if (file && p != authority)
            return 0;
    }
    else if (file) {
        return 0; /* file:/etc/passwd: the short spelling of file:///etc/passwd */
    }
    /* no dot segments (RFC 3986 §5.2.4 would remove them) */
    while (*p && *p != '?' && *p != '#') {
        const char *seg = p + (*p == '/'), *end = seg;

        while (*end && *end != '/' && *end != '?' && *end != '#')
            end++;
        if ((end - seg == 1 && seg[0] == '.') || (end - seg == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
        p = end;
    }
    return 1;
}

mcp_verdict_t mcp_policy_decide(apr_pool_t *pool, const apr_array_header_t *rules, int default_deny,
                                mcp_kind_t kind, const char *name, const mcp_jwt_t *jwt,
                                const mcp_rule_t **matched, const char **scopes)
{
    int i, k;

    *matched = NULL;
    *scopes = NULL;
    /* a URI the rules would judge as one string and the server read as
     * another is refused where rules speak of resources */
    if (kind == MCP_KIND_RESOURCE && (default_deny || mcp_policy_has_kind(rules, MCP_KIND_RESOURCE))
        && !mcp_resource_uri_is_canonical(name))
        return MCP_VERDICT_DENY;
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
