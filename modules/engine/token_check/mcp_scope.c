/* Scope words are case-sensitive and may share prefixes ("mcp" and
 * "mcp:tools"), so lists are compared word by word, never as substrings or
 * with httpd's case-insensitive token helpers. */

#include <string.h>

#include <apr_strings.h>

#include "mcp_scope.h"

int mcp_scope_is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

int mcp_scope_list_has(const char *list, const char *word)
{
    apr_size_t n = strlen(word);
    const char *p = list;

    if (n == 0)
        return 0;
    while ((p = strstr(p, word)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
        p += n;
    }
    return 0;
}

int mcp_scope_list_covers(apr_pool_t *pool, const char *granted, const char *asked)
{
    char *copy = apr_pstrdup(pool, asked ? asked : ""), *word, *state = NULL;

    for (word = apr_strtok(copy, " ", &state); word; word = apr_strtok(NULL, " ", &state))
        if (!mcp_scope_list_has(granted ? granted : "", word))
            return 0;
    return 1;
}

const char *mcp_scope_list_normal(apr_pool_t *pool, const char *list, int *valid)
{
    char *copy = apr_pstrdup(pool, list ? list : ""), *word, *state = NULL;
    const char *out = NULL;

    *valid = 1;
    /* RFC 6749 §3.3: words are separated by SP; any other blank is no
     * scope-token character */
    for (word = apr_strtok(copy, " ", &state); word; word = apr_strtok(NULL, " ", &state)) {
        if (!mcp_scope_is_token(word))
            *valid = 0;
        out = out ? apr_pstrcat(pool, out, " ", word, NULL) : word;
    }
    return out;
}

const char *mcp_scope_list_add(apr_pool_t *pool, const char *list, const apr_array_header_t *scopes)
{
    int i;

    for (i = 0; i < scopes->nelts; i++) {
        const char *s = APR_ARRAY_IDX(scopes, i, const char *);
        if (!mcp_scope_list_has(list, s))
            list = *list ? apr_pstrcat(pool, list, " ", s, NULL) : s;
    }
    return list;
}

static int claims_grant_scope(json_t *claims, const char *scope)
{
    static const char *const names[] = { "scope", "scp" };
    size_t i, k;

    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        json_t *v = json_object_get(claims, names[k]), *e;

        if (json_is_string(v) && mcp_scope_list_has(json_string_value(v), scope))
            return 1;
        if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if (json_is_string(e) && strcmp(json_string_value(e), scope) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

int mcp_claims_grant_scopes(json_t *claims, const apr_array_header_t *scopes)
{
    int i;

    for (i = 0; i < scopes->nelts; i++) {
        if (!claims_grant_scope(claims, APR_ARRAY_IDX(scopes, i, const char *)))
            return 0;
    }
    return 1;
}
