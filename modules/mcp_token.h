/* Bearer token presentation (RFC 6750 §2). */
#ifndef MCP_TOKEN_H
#define MCP_TOKEN_H

typedef enum {
    MCP_TOKEN_ABSENT,    /* no credentials, or another auth scheme: 401 without error */
    MCP_TOKEN_PRESENT,   /* one syntactically valid b64token */
    MCP_TOKEN_MALFORMED  /* Bearer without token, junk, or two tokens: 400 invalid_request */
} mcp_token_result_t;

/* Reads an Authorization header value (NULL when absent). On PRESENT, *token
 * points into header at the token start and *token_len is its length. On
 * MALFORMED, *why is a short fixed reason for the log. */
mcp_token_result_t mcp_token_from_authorization(const char *header,
                                                const char **token,
                                                unsigned long *token_len,
                                                const char **why);

#endif
