/* Field values are kept to VCHAR and SP: obs-text is allowed by RFC 9110
 * but read differently by different backends, some of which split lines
 * on Unicode separators. */

#include <string.h>
#include <strings.h>

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

int mcp_media_type_is(const char *value, const char *want)
{
    apr_size_t n = strlen(want);

    if (value == NULL)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    return strncasecmp(value, want, n) == 0 && strchr("; \t", value[n]) != NULL;
}
