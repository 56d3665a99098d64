/* Field values are kept to VCHAR and SP: obs-text is allowed by RFC 9110
 * but read differently by different backends, some of which split lines
 * on Unicode separators. */

#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "mcp_field.h"

const char *mcp_field_value(apr_pool_t *pool, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    apr_size_t n = 0, len = strlen(s), i;
    char *out;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return NULL;
        if (c > 0x7e || c == '%')
            n += 2;
    }
    if (n == 0)
        return s;
    out = apr_palloc(pool, len + n + 1);
    for (i = 0, n = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c > 0x7e || c == '%') {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 0x0f];
        }
        else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return out;
}

static char folded(char c)
{
    return c == '_' || c == '.' ? '-' : (char)apr_tolower(c);
}

int mcp_field_names_alike(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (folded(*a) != folded(*b))
            return 0;
    return *a == *b;
}

int mcp_media_type_is(const char *value, const char *want)
{
    apr_size_t n = strlen(want);

    if (value == NULL)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    return strncasecmp(value, want, n) == 0 && strchr("; \t", value[n]) != NULL;
}

/* RFC 9110 §5.6.2 tchar */
static int is_tchar(char c)
{
    return c && (apr_isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Steps over a parameter value, token or quoted-string (RFC 9110 §5.6.4);
 * *utf8 says whether it spells utf-8 (a quoted one with escapes never
 * does). NULL when it is neither form. */
static const char *skip_value(const char *p, int *utf8)
{
    const char *start = p;
    int escaped = 0;

    if (*p != '"') {
        while (is_tchar(*p))
            p++;
        /* "utf8" is what Node and Python read as UTF-8 too */
        *utf8 = (p - start == 5 && strncasecmp(start, "utf-8", 5) == 0)
                || (p - start == 4 && strncasecmp(start, "utf8", 4) == 0);
        return p == start ? NULL : p;
    }
    for (p++; *p != '"'; p++) {
        if (*p == '\0' || *p == '\r' || *p == '\n')
            return NULL;
        if (*p == '\\') {
            escaped = 1;
            if (*++p == '\0')
                return NULL;
        }
    }
    *utf8 = !escaped && p - start == 6 && strncasecmp(start + 1, "utf-8", 5) == 0;
    return p + 1;
}

const char *mcp_json_content_type_problem(const char *value)
{
    static const char want[] = "application/json";
    const char *p;
    int charsets = 0;

    if (!mcp_media_type_is(value, want))
        return "the media type is not application/json";
    p = skip_ows(value) + sizeof(want) - 1;
    while (*(p = skip_ows(p))) {
        const char *name;
        int utf8;

        if (*p++ != ';')
            return "the Content-Type parameters do not parse";
        name = p = skip_ows(p);
        if (*p == '\0' || *p == ';')
            continue; /* an empty parameter is allowed */
        while (is_tchar(*p))
            p++;
        if (p == name || *p != '=' || (p = skip_value(p + 1, &utf8)) == NULL)
            return "the Content-Type parameters do not parse";
        if (p - name > 8 && strncasecmp(name, "charset=", 8) == 0) {
            if (++charsets > 1)
                return "the Content-Type names a charset twice";
            if (!utf8)
                return "the Content-Type names a charset other than UTF-8";
        }
    }
    return NULL;
}
