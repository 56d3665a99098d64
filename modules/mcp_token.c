#include <string.h>
#include <strings.h>

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
