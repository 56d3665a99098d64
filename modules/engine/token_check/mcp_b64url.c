/* Strict base64url checks (RFC 7515 §2). Decoding is left to cjose and
 * OpenSSL; this unit only decides what may reach them. */

#include "mcp_b64url.h"

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int mcp_b64url_is_strict(const char *s, apr_size_t len)
{
    apr_size_t i;
    int last;

    if (len == 0 || len % 4 == 1)
        return 0;
    for (i = 0; i < len; i++) {
        if (b64url_value((unsigned char)s[i]) < 0)
            return 0;
    }
    last = b64url_value((unsigned char)s[len - 1]);
    if (len % 4 == 2)
        return (last & 0x0f) == 0;
    if (len % 4 == 3)
        return (last & 0x03) == 0;
    return 1;
}
