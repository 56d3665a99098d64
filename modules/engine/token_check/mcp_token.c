#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_escape.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "mcp_token.h"

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static const char b64token_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

/* The length of the b64token characters at p: strspn builds its table once
 * per call, where a test per character would cost several times more over
 * a token of a kilobyte. */
static apr_size_t b64token_span(const char *p)
{
    return strspn(p, b64token_chars);
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The length of the scheme at p when it is one that carries an access token
 * ("Bearer", RFC 6750 §2.1; "DPoP", RFC 9449 §7.1) followed by a blank or
 * the end ("BearerX" is another scheme), else 0. */
static apr_size_t token_scheme_at(const char *p, int *dpop)
{
    static const char bearer[] = "Bearer", dpop_scheme[] = "DPoP";

    if (strncasecmp(p, bearer, sizeof(bearer) - 1) == 0
        && (p[sizeof(bearer) - 1] == '\0' || is_ows((unsigned char)p[sizeof(bearer) - 1]))) {
        *dpop = 0;
        return sizeof(bearer) - 1;
    }
    if (strncasecmp(p, dpop_scheme, sizeof(dpop_scheme) - 1) == 0
        && (p[sizeof(dpop_scheme) - 1] == '\0' || is_ows((unsigned char)p[sizeof(dpop_scheme) - 1]))) {
        *dpop = 1;
        return sizeof(dpop_scheme) - 1;
    }
    return 0;
}

mcp_token_result_t mcp_token_from_authorization(const char *header,
                                                const char **token,
                                                unsigned long *token_len,
                                                int *dpop,
                                                const char **why)
{
    const char *p, *start;
    apr_size_t scheme_len;
    int other;

    *token = NULL;
    *token_len = 0;
    *dpop = 0;
    *why = NULL;
    if (header == NULL)
        return MCP_TOKEN_ABSENT;

    p = header;
    while (is_ows((unsigned char)*p))
        p++;
    /* The scheme name is case-insensitive (RFC 9110 §11.1). Another scheme
     * carries no access token, unless httpd joined a second Authorization
     * header to it: "Basic ..., Bearer ..." must not reach the backend with
     * a token nobody checked. */
    scheme_len = token_scheme_at(p, dpop);
    if (scheme_len == 0) {
        const char *comma;

        for (comma = strchr(p, ','); comma; comma = strchr(comma + 1, ',')) {
            const char *q = comma + 1;

            while (is_ows((unsigned char)*q))
                q++;
            if (token_scheme_at(q, &other)) {
                *why = "a bearer token next to another credential";
                return MCP_TOKEN_MALFORMED;
            }
        }
        return MCP_TOKEN_ABSENT;
    }
    p += scheme_len;

    while (is_ows((unsigned char)*p))
        p++;
    if (*p == '\0') {
        *why = *dpop ? "DPoP scheme without a token" : "Bearer scheme without a token";
        return MCP_TOKEN_MALFORMED;
    }

    start = p;
    p += b64token_span(p);
    if (p == start) {
        *why = "token contains characters outside the b64token syntax";
        return MCP_TOKEN_MALFORMED;
    }
    while (*p == '=')
        p++;
    *token_len = (unsigned long)(p - start);
    /* a comma starts the next credential of joined headers (below) */
    if (*p != '\0' && *p != ',' && !is_ows((unsigned char)*p)) {
        *why = "token contains characters outside the b64token syntax";
        return MCP_TOKEN_MALFORMED;
    }
    while (is_ows((unsigned char)*p))
        p++;
    if (*p != '\0') {
        /* httpd joins repeated Authorization headers with ", ", so a second
         * credential lands here too. */
        *why = "unexpected data after the token";
        return MCP_TOKEN_MALFORMED;
    }
    *token = start;
    return MCP_TOKEN_PRESENT;
}

int mcp_token_is_b64token(const char *token)
{
    const char *p = token + b64token_span(token);

    if (p == token)
        return 0;
    while (*p == '=')
        p++;
    return *p == '\0';
}

/* Whether a form parameter name is access_token as some form parser on the
 * way to the backend could read it. Parsers differ: %-escapes and '+'
 * (all), %uXXXX (classic ASP.NET), a cut at NUL (C strings), case (ASP.NET),
 * '.', ' ' and '[' read as '_', leading spaces dropped and [..] suffixes
 * (PHP). Rather than follow each, the decoded name is compared with its
 * letters and digits only: access_token, Access-Token, access[token] and
 * " access.token[]" are all the parameter. Erring towards "yes" only removes
 * a parameter no backend should read anyway. */
static int names_access_token(apr_pool_t *pool, const char *name, apr_size_t len)
{
    static const char want[] = "accesstoken";
    char *decoded = apr_palloc(pool, len + 1), *p;
    apr_size_t n = 0;

    apr_unescape_url(decoded, name, (apr_ssize_t)len, NULL, NULL, 1, NULL);
    for (p = decoded; *p; p++) {
        if (p[0] == '%' && (p[1] == 'u' || p[1] == 'U') && apr_isxdigit(p[2]) && apr_isxdigit(p[3])
            && apr_isxdigit(p[4]) && apr_isxdigit(p[5])) {
            /* %uXXXX: only the ASCII ones can spell the name */
            unsigned v = (unsigned)strtoul(apr_pstrndup(pool, p + 2, 4), NULL, 16);
            if (v == 0)
                break;
            if (v < 0x80 && apr_isalnum((int)v) && n < sizeof(want))
                decoded[n++] = (char)apr_tolower((int)v);
            p += 5;
        }
        else if (apr_isalnum(*p)) {
            if (n >= sizeof(want))
                return 0;
            decoded[n++] = (char)apr_tolower(*p);
        }
    }
    return n == sizeof(want) - 1 && memcmp(decoded, want, n) == 0;
}

/* The decoded value of a token parameter; "" when a bad escape, %00 or a
 * raw NUL makes it something other than what a parser would read. */
static const char *token_value(apr_pool_t *pool, const char *value, apr_size_t len)
{
    char *decoded = apr_palloc(pool, len + 1);
    apr_status_t rv;

    if (len == 0 || memchr(value, '\0', len))
        return "";
    rv = apr_unescape_url(decoded, value, (apr_ssize_t)len, NULL, NULL, 1, NULL);
    return rv == APR_SUCCESS || rv == APR_NOTFOUND ? decoded : "";
}

static int is_separator(char c)
{
    return c == '&' || c == ';';
}

int mcp_token_from_form(apr_pool_t *pool, const char *form, apr_size_t len,
                        const char **token, const char **rest, apr_size_t *rest_len)
{
    char *kept = apr_palloc(pool, len + 1);
    const char *p = form, *end = form + len;
    apr_size_t kept_len = 0;
    int found = 0;

    *token = NULL;
    *rest = NULL;
    *rest_len = 0;
    while (p < end) {
        const char *stop = p, *eq;
        apr_size_t plen;

        /* '&' is the form separator; ';' is one too for some query parsers */
        while (stop < end && !is_separator(*stop))
            stop++;
        plen = (apr_size_t)(stop - p);
        eq = memchr(p, '=', plen);
        if (plen > 0 && names_access_token(pool, p, eq ? (apr_size_t)(eq - p) : plen)) {
            if (found++ == 0)
                *token = token_value(pool, eq ? eq + 1 : stop, eq ? (apr_size_t)(stop - eq - 1) : 0);
        }
        else {
            /* kept with the separator that ended it, so the rest is the form
             * as it was, less the token parameters */
            memcpy(kept + kept_len, p, plen + (stop < end));
            kept_len += plen + (stop < end);
        }
        p = stop < end ? stop + 1 : end;
    }
    if (!found)
        return 0;
    while (kept_len > 0 && is_separator(kept[kept_len - 1]))
        kept_len--;
    kept[kept_len] = '\0';
    *rest = kept;
    *rest_len = kept_len;
    return found;
}
