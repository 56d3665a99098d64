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

int mcp_forwarded_parse_last(apr_pool_t *pool, const char *value, const char **host,
                             const char **proto)
{
    const char *p;

    *host = *proto = NULL;
    if (value == NULL || (p = last_element(value)) == NULL)
        return 0;
    while (*p) {
        const char *name, *eq;
        char *v;
        apr_size_t n = 0;

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
        v = apr_palloc(pool, strlen(p) + 1);
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                v[n++] = *p;
            }
            if (*p != '"')
                return 0;
            p++;
        }
        else {
            while (*p && *p != ';' && !is_ows(*p))
                v[n++] = *p++;
        }
        v[n] = '\0';
        if ((apr_size_t)(eq - name) == 4 && strncasecmp(name, "host", 4) == 0)
            *host = n ? v : NULL;
        else if ((apr_size_t)(eq - name) == 5 && strncasecmp(name, "proto", 5) == 0)
            *proto = n ? v : NULL;
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
