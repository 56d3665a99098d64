/* Unit tests of mcp_logjson: any bytes a client sends become one JSON
 * string of printable ASCII that reads back as the text it was. */

#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_logjson.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static int printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Whether out is one JSON string of printable ASCII that reads back as
 * want (want_len bytes). */
static int reads_back(const char *out, const char *want, size_t want_len)
{
    json_t *v = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int ok = v && json_is_string(v) && json_string_length(v) == want_len
             && memcmp(json_string_value(v), want, want_len) == 0 && printable_ascii(out);

    json_decref(v);
    return ok;
}

static int encodes_as(const char *in, size_t len, const char *want)
{
    return strcmp(mcp_logjson_string(pool, in, len), want) == 0;
}

static int encodes(const char *in, const char *want)
{
    return strcmp(mcp_logjson_cstring(pool, in), want) == 0;
}

static void test_plain(void)
{
    CHECK(strcmp(mcp_logjson_string(pool, NULL, 0), "null") == 0 && strcmp(mcp_logjson_cstring(pool, NULL), "null") == 0,
          "log JSON: no value is null");
    CHECK(encodes("", "\"\"") && encodes("echo", "\"echo\""),
          "log JSON: the empty string and a plain name in quotes");
    CHECK(encodes("a\"b\\c", "\"a\\\"b\\\\c\""),
          "log JSON: quote and backslash escaped");
    CHECK(encodes_as("a\0b", 3, "\"a\\u0000b\""), "log JSON: a NUL byte within the length is kept, escaped");
    CHECK(encodes("tab\there\nline\r\x01\x1f\x7f", "\"tab\\there\\nline\\r\\u0001\\u001F\\u007F\""),
          "log JSON: controls and DEL escaped");
}

static void test_controls(void)
{
    char all[33];
    int c;

    for (c = 0; c < 0x20; c++)
        all[c] = (char)c;
    all[32] = 0x7f;
    CHECK(reads_back(mcp_logjson_string(pool, all, sizeof(all)), all, sizeof(all)),
          "log JSON: every control character 0x00-0x1f and DEL reads back, in printable ASCII");
}

static void test_beyond_ascii(void)
{
    CHECK(encodes("caf\xc3\xa9", "\"caf\\u00E9\""),
          "log JSON: Latin letters beyond ASCII as \\u escapes");
    CHECK(encodes("\xf0\x9f\x98\x80", "\"\\uD83D\\uDE00\""),
          "log JSON: an emoji as a surrogate pair");
    CHECK(encodes("a\xe2\x80\xa8" "b\xc2\x85", "\"a\\u2028b\\u0085\""),
          "log JSON: Unicode line separators escaped, never raw");
    CHECK(reads_back(mcp_logjson_cstring(pool, "\xe6\x97\xa5\xe6\x9c\xac \xd0\x96 \xf4\x8f\xbf\xbf"),
                     "\xe6\x97\xa5\xe6\x9c\xac \xd0\x96 \xf4\x8f\xbf\xbf", 14),
          "log JSON: CJK, Cyrillic and U+10FFFF read back");
}

static void test_invalid_utf8(void)
{
    static const struct {
        const char *in, *want, *name;
    } cases[] = {
        { "a\x80" "b", "\"a\\uFFFDb\"", "a stray continuation byte" },
        { "x\xc3", "\"x\\uFFFD\"", "a sequence cut at the end" },
        { "\xe1\x80" "A", "\"\\uFFFDA\"", "a cut sequence is one U+FFFD, the next character kept" },
        { "\xc0\xaf", "\"\\uFFFD\\uFFFD\"", "an overlong '/' (C0 AF)" },
        { "\xe0\x80\xaf", "\"\\uFFFD\\uFFFD\\uFFFD\"", "an overlong three-byte form" },
        { "\xed\xa0\x80", "\"\\uFFFD\\uFFFD\\uFFFD\"", "an encoded surrogate" },
        { "\xf4\x90\x80\x80", "\"\\uFFFD\\uFFFD\\uFFFD\\uFFFD\"", "beyond U+10FFFF" },
        { "\xf5\xff\xfe", "\"\\uFFFD\\uFFFD\\uFFFD\"", "bytes that never start a character" },
        { "\xf0\x9f\x98" "x\xf0\x9f\x98\x80", "\"\\uFFFDx\\uD83D\\uDE00\"", "a cut emoji beside a whole one" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out = mcp_logjson_cstring(pool, cases[i].in);

        CHECK(strcmp(out, cases[i].want) == 0, apr_pstrcat(pool, "log JSON, not UTF-8: ", cases[i].name, NULL));
        if (strcmp(out, cases[i].want) != 0)
            printf("#   got %s\n", out);
    }
}

/* Every byte, alone and between letters: one JSON string of printable
 * ASCII; a byte that is ASCII reads back as itself. */
static void test_every_byte(void)
{
    int b, ok = 1;

    for (b = 0; b < 256; b++) {
        char in[3] = { 'a', (char)b, 'z' };
        const char *alone = mcp_logjson_string(pool, in + 1, 1), *between = mcp_logjson_string(pool, in, 3);

        if (b < 0x80)
            ok &= reads_back(alone, in + 1, 1) && reads_back(between, in, 3);
        else
            ok &= reads_back(alone, "\xef\xbf\xbd", 3) && reads_back(between, "a\xef\xbf\xbdz", 5);
    }
    CHECK(ok, "log JSON: each of the 256 byte values, alone and between letters");
}

/* Bytes of no plan: the output always parses as one string of printable
 * ASCII, and valid UTF-8 among them reads back unchanged. */
static void test_random_bytes(void)
{
    unsigned int x = 2463534242u;
    int n, ok = 1, valid_ok = 1;

    for (n = 0; n < 5000; n++) {
        unsigned char in[48];
        size_t len, i;
        const char *out;
        json_t *v;

        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        len = x % sizeof(in);
        for (i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            /* mostly high bytes: the sequences that go wrong */
            in[i] = (unsigned char)(x & 1 ? 0x80 | (x >> 8) : x >> 8);
        }
        out = mcp_logjson_string(pool, (const char *)in, len);
        v = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        ok &= v != NULL && json_is_string(v) && printable_ascii(out);
        /* valid input (jansson says so) must come back byte for byte */
        {
            json_t *direct = json_stringn((const char *)in, len);

            if (direct)
                valid_ok &= reads_back(out, (const char *)in, len);
            json_decref(direct);
        }
        json_decref(v);
    }
    CHECK(ok, "log JSON: 5000 random byte strings each give one JSON string of printable ASCII");
    CHECK(valid_ok, "log JSON: those of them that are UTF-8 read back unchanged");
}

static void test_long(void)
{
    char in[MCP_LOGJSON_MAX + 200], want[MCP_LOGJSON_MAX + 4];
    size_t i;

    memset(in, 'a', sizeof(in));
    CHECK(reads_back(mcp_logjson_string(pool, in, MCP_LOGJSON_MAX), in, MCP_LOGJSON_MAX),
          "log JSON: a value of exactly the cap is whole");
    memcpy(want, in, MCP_LOGJSON_MAX);
    memcpy(want + MCP_LOGJSON_MAX, "\xe2\x80\xa6", 3);
    CHECK(reads_back(mcp_logjson_string(pool, in, MCP_LOGJSON_MAX + 1), want, MCP_LOGJSON_MAX + 3),
          "log JSON: one byte more is cut to the cap and ends with an ellipsis");
    /* 'x' then two-byte letters: the cap falls inside one, which goes whole */
    in[0] = 'x';
    for (i = 1; i + 1 < sizeof(in); i += 2) {
        in[i] = '\xc3';
        in[i + 1] = '\xa9';
    }
    memcpy(want, in, MCP_LOGJSON_MAX - 1);
    memcpy(want + MCP_LOGJSON_MAX - 1, "\xe2\x80\xa6", 3);
    CHECK(reads_back(mcp_logjson_string(pool, in, sizeof(in) - 1), want, MCP_LOGJSON_MAX + 2),
          "log JSON: a long value is cut before a character the cap would split");
    {
        static char huge[1 << 20];

        memset(huge, '\x01', sizeof(huge));
        CHECK(strlen(mcp_logjson_string(pool, huge, sizeof(huge))) <= MCP_LOGJSON_MAX * 6 + 8,
              "log JSON: a megabyte of controls gives at most six bytes a byte of the cap");
    }
}

void mcp_logjson_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_plain();
    test_controls();
    test_beyond_ascii();
    test_invalid_utf8();
    test_every_byte();
    test_random_bytes();
    test_long();
    apr_pool_destroy(pool);
}
