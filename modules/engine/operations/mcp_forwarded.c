/* Forwarding headers are client input until the proxy next to httpd has
 * appended its own element; everything before that element is ignored. */

#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "mcp_forwarded.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static const char *trimmed(apr_pool_t *pool, const char *start, const char *end)
{
    while (start < end && is_ows(*start))
        start++;
    while (end > start && is_ows(end[-1]))
        end--;
    return start < end ? apr_pstrmemdup(pool, start, (apr_size_t)(end - start)) : NULL;
}

const char *mcp_forwarded_last_value(apr_pool_t *pool, const char *value)
{
    const char *comma;

    if (value == NULL)
        return NULL;
    comma = strrchr(value, ',');
    return trimmed(pool, comma ? comma + 1 : value, value + strlen(value));
}

/* The start of the last element: after the last comma outside quotes. */
static const char *last_element(const char *value)
{
    const char *p, *start = value;
    int quoted = 0;

    for (p = value; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == ',')
            start = p + 1;
    }
    return quoted ? NULL : start;
}

/* The end of a value starting at p: a token, or a quoted string with its
 * quotes; NULL for an unterminated quoted string. */
static const char *value_end(const char *p)
{
    if (*p != '"') {
        while (*p && *p != ';' && !is_ows(*p))
            p++;
        return p;
    }
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

/* The value between start and end, unquoted. */
static const char *value_text(apr_pool_t *pool, const char *start, const char *end)
{
    char *v, *out;

    if (*start != '"')
        return apr_pstrmemdup(pool, start, (apr_size_t)(end - start));
    v = out = apr_palloc(pool, (apr_size_t)(end - start));
    for (start++; start < end - 1; start++) {
        if (*start == '\\' && start + 1 < end - 1)
            start++;
        *out++ = *start;
    }
    *out = '\0';
    return v;
}

int mcp_forwarded_parse_last(apr_pool_t *pool, const char *value, const char **host,
                             const char **proto)
{
    const char *p;

    *host = *proto = NULL;
    if (value == NULL || (p = last_element(value)) == NULL)
        return 0;
    while (*p) {
        const char *name, *eq, *end, *v;

        while (is_ows(*p) || *p == ';')
            p++;
        if (!*p)
            break;
        name = p;
        while (*p && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        if (*p != '=')
            return 0;
        eq = p++;
        if ((end = value_end(p)) == NULL)
            return 0;
        /* only the two parameters used are copied: a long header of other
         * pairs costs no memory */
        if ((apr_size_t)(eq - name) == 4 && strncasecmp(name, "host", 4) == 0) {
            v = value_text(pool, p, end);
            *host = *v ? v : NULL;
        }
        else if ((apr_size_t)(eq - name) == 5 && strncasecmp(name, "proto", 5) == 0) {
            v = value_text(pool, p, end);
            *proto = *v ? v : NULL;
        }
        p = end;
        while (is_ows(*p))
            p++;
        if (*p && *p != ';')
            return 0;
    }
    return 1;
}

int mcp_forwarded_is_host(const char *s)
{
    const char *p = s;

    if (*p == '[') {
        /* an IPv6 literal, then an optional port */
        for (p++; *p && *p != ']'; p++) {
            if (!apr_isxdigit(*p) && *p != ':' && *p != '.')
                return 0;
        }
        if (*p++ != ']' || p - s < 4)
            return 0;
    }
    else {
        for (; *p && *p != ':'; p++) {
            if (!apr_isalnum(*p) && *p != '-' && *p != '.')
                return 0;
        }
        if (p == s)
            return 0;
    }
    if (*p == ':') {
        const char *digits = ++p;

        while (apr_isdigit(*p))
            p++;
        if (p == digits || p - digits > 5)
            return 0;
    }
    return *p == '\0';
}
