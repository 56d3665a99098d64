/* mod_log_config writes what a log item returns as it is (each item
 * escapes its own output, the built-in ones as \xhh, which is no JSON):
 * an item that goes into a JSON line must be a whole JSON value. jansson
 * writes it; it only takes valid UTF-8, hence the repair first. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_logjson.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
static const char ellipsis[] = "\xe2\x80\xa6";    /* U+2026 */

/* The length of the UTF-8 character s starts with (RFC 3629 §4, Unicode
 * Table 3-7), or 0 with *bad the length of its maximal ill-formed part. */
static apr_size_t utf8_char(const unsigned char *s, apr_size_t n, apr_size_t *bad)
{
    unsigned char lo = 0x80, hi = 0xbf;
    apr_size_t need, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        need = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* overlong */
        else if (s[0] == 0xed)
            hi = 0x9f; /* surrogates */
    }
    else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        if (s[0] == 0xf0)
            lo = 0x90; /* overlong */
        else if (s[0] == 0xf4)
            hi = 0x8f; /* beyond U+10FFFF */
    }
    else {
        *bad = 1;
        return 0;
    }
    for (i = 1; i < need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need;
}

/* s as valid UTF-8 of at most MCP_LOGJSON_MAX bytes (plus the ellipsis of
 * a cut value); *out_len its length. */
static char *repaired(apr_pool_t *pool, const char *s, apr_size_t len, apr_size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)s;
    char *out = apr_palloc(pool, MCP_LOGJSON_MAX + sizeof(ellipsis));
    apr_size_t i = 0, o = 0, k, bad = 0;

    while (i < len) {
        k = utf8_char(u + i, len - i, &bad);
        if (o + (k ? k : sizeof(replacement) - 1) > MCP_LOGJSON_MAX) {
            memcpy(out + o, ellipsis, sizeof(ellipsis) - 1);
            o += sizeof(ellipsis) - 1;
            break;
        }
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
        else {
            memcpy(out + o, replacement, sizeof(replacement) - 1);
            o += sizeof(replacement) - 1;
            i += bad;
        }
    }
    *out_len = o;
    return out;
}

/* jansson leaves DEL as it is (JSON allows it); a log line is kept to
 * printable ASCII. DEL is found only inside a string there. */
static const char *without_del(apr_pool_t *pool, const char *text)
{
    apr_size_t n = 0, i, o = 0;
    char *out;

    for (i = 0; text[i]; i++)
        n += text[i] == 0x7f;
    if (n == 0)
        return apr_pstrdup(pool, text);
    out = apr_palloc(pool, i + n * 5 + 1);
    for (i = 0; text[i]; i++) {
        if (text[i] == 0x7f) {
            memcpy(out + o, "\\u007F", 6);
            o += 6;
        }
        else {
            out[o++] = text[i];
        }
    }
    out[o] = '\0';
    return out;
}

const char *mcp_logjson_string(apr_pool_t *pool, const char *s, apr_size_t len)
{
    apr_size_t n;
    const char *text, *result = "null";
    json_t *value;
    char *dumped;

    if (s == NULL)
        return result;
    text = repaired(pool, s, len, &n);
    value = json_stringn(text, n);
    dumped = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_ENSURE_ASCII | JSON_COMPACT) : NULL;
    if (dumped)
        result = without_del(pool, dumped);
    free(dumped);
    json_decref(value);
    return result;
}

const char *mcp_logjson_cstring(apr_pool_t *pool, const char *s)
{
    return mcp_logjson_string(pool, s, s ? strlen(s) : 0);
}
