#include <string.h>
#include <strings.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "mcp_token.h"

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int is_b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

mcp_token_result_t mcp_token_from_authorization(const char *header,
                                                const char **token,
                                                unsigned long *token_len,
                                                const char **why)
{
    static const char scheme[] = "Bearer";
    const char *p, *start;

    *token = NULL;
    *token_len = 0;
    *why = NULL;
    if (header == NULL)
        return MCP_TOKEN_ABSENT;

    p = header;
    while (is_ows((unsigned char)*p))
        p++;
    /* The scheme name is case-insensitive (RFC 9110 §11.1); any other scheme
     * carries no bearer credentials at all. */
    if (strncasecmp(p, scheme, sizeof(scheme) - 1) != 0)
        return MCP_TOKEN_ABSENT;
    p += sizeof(scheme) - 1;
    if (*p != '\0' && *p != ' ' && !is_ows((unsigned char)*p))
        return MCP_TOKEN_ABSENT; /* e.g. "BearerX": a different scheme */

    while (is_ows((unsigned char)*p))
        p++;
    if (*p == '\0') {
        *why = "Bearer scheme without a token";
        return MCP_TOKEN_MALFORMED;
    }

    start = p;
    while (is_b64token_char((unsigned char)*p))
        p++;
    if (p == start) {
        *why = "token contains characters outside the b64token syntax";
        return MCP_TOKEN_MALFORMED;
    }
    while (*p == '=')
        p++;
    *token_len = (unsigned long)(p - start);
    while (is_ows((unsigned char)*p))
        p++;
    if (*p != '\0') {
        /* httpd joins repeated Authorization headers with ", ", so a second
         * credential lands here too. */
        *why = "unexpected data after the bearer token";
        return MCP_TOKEN_MALFORMED;
    }
    *token = start;
    return MCP_TOKEN_PRESENT;
}

int mcp_token_is_b64token(const char *token)
{
    const char *p = token;

    while (is_b64token_char((unsigned char)*p))
        p++;
    if (p == token)
        return 0;
    while (*p == '=')
        p++;
    return *p == '\0';
}

int mcp_token_from_form(apr_pool_t *pool, const char *form, apr_size_t len,
                        const char **token, const char **rest)
{
    static const char name[] = "access_token";
    apr_array_header_t *kept = apr_array_make(pool, 8, sizeof(const char *));
    const char *p = form, *end = form + len;
    int found = 0;

    *token = NULL;
    *rest = NULL;
    while (p < end) {
        const char *amp = memchr(p, '&', (apr_size_t)(end - p));
        const char *stop = amp ? amp : end;
        apr_size_t plen = (apr_size_t)(stop - p);

        /* the parameter name is matched literally: an encoded "access_token"
         * is a different name to every form parser we know of */
        if (plen >= sizeof(name) - 1 && memcmp(p, name, sizeof(name) - 1) == 0
            && (plen == sizeof(name) - 1 || p[sizeof(name) - 1] == '=')) {
            if (found++ == 0) {
                const char *value = plen > sizeof(name) - 1 ? p + sizeof(name) : stop;
                *token = apr_punescape_url(pool, apr_pstrmemdup(pool, value, (apr_size_t)(stop - value)),
                                           NULL, NULL, 1);
                if (*token == NULL)
                    *token = ""; /* malformed %-escape: no usable token */
            }
        }
        else if (plen > 0) {
            APR_ARRAY_PUSH(kept, const char *) = apr_pstrmemdup(pool, p, plen);
        }
        p = amp ? amp + 1 : end;
    }
    if (found)
        *rest = apr_array_pstrcat(pool, kept, '&');
    return found;
}
