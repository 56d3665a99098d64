/* libFuzzer target: the input is an Authorization header value given to
 * mcp_token_from_authorization (RFC 6750 §2.1). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "mcp_token.h"

static int is_b64token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tok = "x", *why = "x";
    unsigned long len = 1;
    int dpop = 0;

    (void)argc;
    (void)argv;
    FUZZ_CHECK(mcp_token_from_authorization(NULL, &tok, &len, &dpop, &why) == MCP_TOKEN_ABSENT);
    FUZZ_CHECK(tok == NULL && len == 0 && why == NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* httpd hands the module a NUL-terminated string; an embedded NUL ends it. */
    char *hdr = malloc(size + 1);
    const char *tok, *why, *p;
    unsigned long len, i;
    int dpop;
    const char *scheme;
    size_t hlen;
    mcp_token_result_t r;

    if (hdr == NULL)
        return 0;
    memcpy(hdr, data, size);
    hdr[size] = '\0';
    hlen = strlen(hdr);

    tok = why = (const char *)1;
    len = 12345;
    r = mcp_token_from_authorization(hdr, &tok, &len, &dpop, &why);
    switch (r) {
    case MCP_TOKEN_ABSENT:
        FUZZ_CHECK(tok == NULL && len == 0 && why == NULL);
        break;
    case MCP_TOKEN_MALFORMED:
        FUZZ_CHECK(tok == NULL && why != NULL && why[0] != '\0');
        break;
    case MCP_TOKEN_PRESENT:
#ifdef FUZZ_SKIP_KNOWN
        /* known module bug (fuzz/crashes/token-padding-only.txt): a token of
         * only "=" is taken as PRESENT */
        if (len > 0 && tok[0] == '=')
            break;
#endif
        FUZZ_CHECK(why == NULL);
        FUZZ_CHECK(tok != NULL && len > 0);
        /* inside the input */
        FUZZ_CHECK(tok >= hdr && tok + len <= hdr + hlen);
        /* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
        FUZZ_CHECK(is_b64token_char((unsigned char)tok[0]));
        for (i = 0; i < len && is_b64token_char((unsigned char)tok[i]); i++)
            ;
        for (; i < len && tok[i] == '='; i++)
            ;
        FUZZ_CHECK(i == len);
        /* the whole token was taken: what follows is only OWS */
        for (p = tok + len; is_ows((unsigned char)*p); p++)
            ;
        FUZZ_CHECK(*p == '\0');
        /* what precedes is OWS "Bearer" or "DPoP" (any case, as *dpop
         * says) followed by whitespace */
        for (p = hdr; is_ows((unsigned char)*p); p++)
            ;
        scheme = dpop ? "DPoP" : "Bearer";
        FUZZ_CHECK(strncasecmp(p, scheme, strlen(scheme)) == 0);
        FUZZ_CHECK(p + strlen(scheme) < tok && is_ows((unsigned char)p[strlen(scheme)]));
        for (p += strlen(scheme); p < tok; p++)
            FUZZ_CHECK(is_ows((unsigned char)*p));
        break;
    default:
        FUZZ_CHECK(!"unknown result");
    }
    free(hdr);
    return 0;
}
