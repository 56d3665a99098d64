/* Bearer token presentation (RFC 6750 §2). */
#ifndef MCP_TOKEN_H
#define MCP_TOKEN_H

#include <apr_pools.h>

/* Where a token may be presented, as flags. */
enum {
    MCP_BEARER_HEADER = 1 << 0, /* §2.1 Authorization: Bearer */
    MCP_BEARER_BODY = 1 << 1,   /* §2.2 form-encoded body parameter */
    MCP_BEARER_QUERY = 1 << 2   /* §2.3 URI query parameter */
};

typedef enum {
    MCP_TOKEN_ABSENT,    /* no credentials, or another auth scheme: 401 without error */
    MCP_TOKEN_PRESENT,   /* one syntactically valid b64token */
    MCP_TOKEN_MALFORMED  /* Bearer without token, junk, or two tokens: 400 invalid_request */
} mcp_token_result_t;

/* Reads an Authorization header value (NULL when absent) of the Bearer
 * (RFC 6750 §2.1) or DPoP (RFC 9449 §7.1) scheme; *dpop says which. On
 * PRESENT, *token points into header at the token start and *token_len is
 * its length. On MALFORMED, *why is a short fixed reason for the log. */
mcp_token_result_t mcp_token_from_authorization(const char *header,
                                                const char **token,
                                                unsigned long *token_len,
                                                int *dpop,
                                                const char **why);

/* RFC 6750 §2.2 / §2.3: access_token in an application/x-www-form-urlencoded
 * string (a query or a form body) of len bytes. Parameter names are compared
 * as form parsers decode them (%-escapes, '+', case, PHP's '.'/' ' and [..]),
 * and ';' separates parameters as '&' does. Returns how many access_token
 * parameters there are; when one or more, *token is the first, decoded
 * ("" when its escapes or bytes make it unusable), and *rest / *rest_len is
 * the string without any of them, byte for byte otherwise, to forward in
 * its place. */
int mcp_token_from_form(apr_pool_t *pool, const char *form, apr_size_t len,
                        const char **token, const char **rest, apr_size_t *rest_len);

/* Whether a decoded token has the b64token syntax of RFC 6750 §2.1. */
int mcp_token_is_b64token(const char *token);

#endif
