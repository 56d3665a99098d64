/* Unit tests of mcp_token: the access token in an Authorization header
 * (RFC 6750 §2.1, the DPoP scheme of RFC 9449 §7.1) and in a form body
 * (§2.2), however a server would spell the parameter. */

#include <string.h>

#include <apr_strings.h>

#include "mcp_token.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static mcp_token_result_t extract(const char *header, const char **tok)
{
    unsigned long len;
    const char *why, *t;
    int dpop;
    mcp_token_result_t r = mcp_token_from_authorization(header, &t, &len, &dpop, &why);

    *tok = t ? apr_pstrmemdup(pool, t, len) : NULL;
    return r;
}

static void test_token_extraction(void)
{
    const char *tok;

    CHECK(extract(NULL, &tok) == MCP_TOKEN_ABSENT, "no header is absent");
    CHECK(extract("Basic dXNlcjpwYXNz", &tok) == MCP_TOKEN_ABSENT, "Basic is absent");
    CHECK(extract("DPoP abc", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc") == 0, "DPoP carries a token");
    CHECK(extract("DPoPX abc", &tok) == MCP_TOKEN_ABSENT, "DPoPX is another scheme");
    CHECK(extract("DPoP", &tok) == MCP_TOKEN_MALFORMED, "DPoP without token is malformed");
    CHECK(extract("Basic dXNlcjpwYXNz, DPoP abc", &tok) == MCP_TOKEN_MALFORMED,
          "a DPoP token next to another credential is malformed");
    CHECK(extract("DPoP abc, Bearer def", &tok) == MCP_TOKEN_MALFORMED, "DPoP and Bearer together are malformed");
    CHECK(extract("BearerX abc", &tok) == MCP_TOKEN_ABSENT, "BearerX is another scheme");
    CHECK(extract("Bearer abc.def.ghi", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc.def.ghi") == 0,
          "Bearer token extracted");
    CHECK(extract("bEaReR   abc  ", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc") == 0,
          "scheme is case-insensitive, whitespace trimmed");
    CHECK(extract("Bearer abc==", &tok) == MCP_TOKEN_PRESENT && strcmp(tok, "abc==") == 0,
          "b64token may end in padding");
    CHECK(extract("Bearer", &tok) == MCP_TOKEN_MALFORMED, "Bearer without token is malformed");
    CHECK(extract("Bearer    ", &tok) == MCP_TOKEN_MALFORMED, "Bearer with blanks is malformed");
    CHECK(extract("Bearer abc def", &tok) == MCP_TOKEN_MALFORMED, "two tokens are malformed");
    CHECK(extract("Bearer abc, Bearer def", &tok) == MCP_TOKEN_MALFORMED,
          "merged Authorization headers are malformed");
    CHECK(extract("Bearer a=b", &tok) == MCP_TOKEN_MALFORMED, "padding inside the token is malformed");
    CHECK(extract("Bearer \"abc\"", &tok) == MCP_TOKEN_MALFORMED, "quoted token is malformed");
    CHECK(extract("Bearer ==", &tok) == MCP_TOKEN_MALFORMED, "padding alone is no token");
}

/* access_token from a form: n found, the token and the rest (with length). */
static int form(const char *text, apr_size_t len, const char **token, const char **rest, apr_size_t *rest_len)
{
    return mcp_token_from_form(pool, text, len, token, rest, rest_len);
}

static void test_form_tokens(void)
{
    const char *tok, *rest;
    apr_size_t rlen;
    static const char with_nul[] = "a=1\0b&access_token=T1&c=2";

    CHECK(form("a=1&b=2", 7, &tok, &rest, &rlen) == 0 && rest == NULL, "form: no token, nothing to cut");
    CHECK(form("a=1&access_token=abc&b=2", 24, &tok, &rest, &rlen) == 1 && strcmp(tok, "abc") == 0
              && rlen == 7 && memcmp(rest, "a=1&b=2", 7) == 0,
          "form: the token is cut from the middle");
    CHECK(form("access%5Ftoken=abc&b=2", 22, &tok, &rest, &rlen) == 1 && strcmp(tok, "abc") == 0
              && strcmp(rest, "b=2") == 0,
          "form: a %-encoded name is the same parameter");
    CHECK(form("%61ccess_token=abc", 18, &tok, &rest, &rlen) == 1 && rlen == 0,
          "form: %61ccess_token is access_token");
    CHECK(form("a=1;access_token=abc;b=2", 24, &tok, &rest, &rlen) == 1 && strcmp(rest, "a=1;b=2") == 0,
          "form: ';' separates parameters too, and survives in the rest");
    CHECK(form("Access_Token=abc", 16, &tok, &rest, &rlen) == 1, "form: names are compared without case");
    CHECK(form("access.token=abc&access+token=x", 31, &tok, &rest, &rlen) == 2,
          "form: PHP's '.' and ' ' for '_' count (twice here)");
    CHECK(form("access_token[]=abc", 18, &tok, &rest, &rlen) == 1, "form: PHP's array form counts");
    CHECK(form("+access_token=a&%20access_token=b&access[token=c&access%5Btoken=d", 64, &tok, &rest, &rlen) == 4,
          "form: PHP's leading spaces and '[' for '_' count");
    CHECK(form("%u0061ccess_token=abc", 21, &tok, &rest, &rlen) == 1, "form: ASP.NET's %u0061 counts");
    CHECK(form("Access-Token=abc", 16, &tok, &rest, &rlen) == 1, "form: any separator between the words counts");
    CHECK(form("access_token%00x=abc", 20, &tok, &rest, &rlen) == 1, "form: a name cut at %00 counts");
    CHECK(form("access_tokens=abc&xaccess_token=1", 33, &tok, &rest, &rlen) == 0,
          "form: longer names are other parameters");
    CHECK(form("access_token=a%2Bb+c", 20, &tok, &rest, &rlen) == 1 && strcmp(tok, "a+b c") == 0,
          "form: the value is decoded");
    CHECK(form("access_token=a%zz", 17, &tok, &rest, &rlen) == 1 && strcmp(tok, "") == 0,
          "form: a broken escape leaves no usable token");
    CHECK(form("access_token=ab%00cd", 20, &tok, &rest, &rlen) == 1 && strcmp(tok, "") == 0,
          "form: %00 in the value leaves no usable token");
    CHECK(form(with_nul, sizeof(with_nul) - 1, &tok, &rest, &rlen) == 1 && strcmp(tok, "T1") == 0 && rlen == 9
              && memcmp(rest, "a=1\0b&c=2", 9) == 0,
          "form: bytes after a NUL are kept, length and all");
    CHECK(form("a=1&&access_token=x&b", 21, &tok, &rest, &rlen) == 1 && strcmp(rest, "a=1&&b") == 0,
          "form: empty parameters are kept as they were");
    CHECK(form("a=1&access_token=x&", 19, &tok, &rest, &rlen) == 1 && strcmp(rest, "a=1") == 0,
          "form: no dangling separator");
    CHECK(extract("Basic dXNlcjpwYXNz, Bearer abc", &tok) == MCP_TOKEN_MALFORMED,
          "a Bearer token joined to another scheme is malformed");
    CHECK(extract("Basic dXNlcjpwYXNz", &tok) == MCP_TOKEN_ABSENT, "another scheme alone is no token");
    CHECK(extract("Digest a=\"b,c\", realm=x", &tok) == MCP_TOKEN_ABSENT, "another scheme with commas is no token");
}

void mcp_token_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_token_extraction();
    test_form_tokens();
    apr_pool_destroy(pool);
}
