/* Unit tests of mcp_seal: sealed values: AES-256-GCM bound to a purpose, key
 * ids, values of version 1. */

#include <string.h>

#include <apr_strings.h>
#include <cjose/cjose.h>
#include <openssl/evp.h>

#include "mcp_b64url.h"
#include "mcp_seal.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

/* A value as version 1 sealed it (no key id): AES-256-GCM, purpose as
 * associated data, [1][nonce][ciphertext][tag], base64url. */
static const char *seal_v1(const unsigned char *key, const char *purpose, const char *text)
{
    unsigned char raw[256];
    int n = 0, len = (int)strlen(text);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    char *b64 = NULL;
    size_t b64_len = 0;
    cjose_err err;
    const char *out = NULL;

    raw[0] = 1;
    memset(raw + 1, 0x5a, 12);
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw + 1)
        && EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)purpose, (int)strlen(purpose))
        && EVP_EncryptUpdate(ctx, raw + 13, &n, (const unsigned char *)text, len)
        && EVP_EncryptFinal_ex(ctx, raw + 13 + n, &n)
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, raw + 13 + len)
        && cjose_base64url_encode(raw, (size_t)(13 + len + 16), &b64, &b64_len, &err)) {
        out = apr_pstrmemdup(pool, b64, b64_len);
        cjose_get_dealloc()(b64);
    }
    EVP_CIPHER_CTX_free(ctx);
    return out;
}

static void test_seal(void)
{
    unsigned char key[MCP_SEAL_KEY_LEN], other[MCP_SEAL_KEY_LEN];
    const char *s, *s2, *plain;
    char *bad;
    apr_size_t n = 0;
    static const char text[] = "{\"cid\":\"x\",\"nul\":\"a\0b\"}";

    memset(key, 7, sizeof(key));
    memset(other, 8, sizeof(other));
    s = mcp_seal(pool, key, "state", text, sizeof(text) - 1);
    CHECK(s != NULL && mcp_b64url_is_strict(s, strlen(s)), "seal: base64url on the wire");
    plain = mcp_unseal(pool, key, "state", s, &n);
    CHECK(plain && n == sizeof(text) - 1 && memcmp(plain, text, n) == 0, "seal: round trip, NUL bytes and all");
    s2 = mcp_seal(pool, key, "state", text, sizeof(text) - 1);
    CHECK(strcmp(s, s2) != 0, "seal: the same text seals differently each time (random nonce)");
    CHECK(mcp_unseal(pool, key, "code", s, &n) == NULL, "seal: refused for another purpose");
    CHECK(mcp_unseal(pool, other, "state", s, &n) == NULL, "seal: refused with another key");
    bad = apr_pstrdup(pool, s);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    CHECK(mcp_unseal(pool, key, "state", bad, &n) == NULL, "seal: one changed character is refused");
    CHECK(mcp_unseal(pool, key, "state", apr_pstrndup(pool, s, strlen(s) - 4), &n) == NULL,
          "seal: a truncated value is refused");
    CHECK(mcp_unseal(pool, key, "state", "", &n) == NULL && mcp_unseal(pool, key, "state", "AAAA", &n) == NULL
              && mcp_unseal(pool, key, "state", "a=b", &n) == NULL && mcp_unseal(pool, key, "state", NULL, &n) == NULL,
          "seal: empty, short and non-base64url values are refused");
    s = mcp_seal(pool, key, "code", "", 0);
    CHECK(s && (plain = mcp_unseal(pool, key, "code", s, &n)) != NULL && n == 0 && *plain == '\0',
          "seal: an empty text round-trips");
    {
        char mine[MCP_SEAL_KEY_ID_HEX], theirs[MCP_SEAL_KEY_ID_HEX], named[MCP_SEAL_KEY_ID_HEX];
        const char *v1 = seal_v1(key, "state", "{\"old\":1}");

        mcp_seal_key_id(key, mine);
        mcp_seal_key_id(other, theirs);
        s = mcp_seal(pool, other, "state", text, sizeof(text) - 1);
        CHECK(strlen(mine) == 8 && strcmp(mine, theirs) != 0, "seal: two keys, two key ids of 8 hex digits");
        CHECK(mcp_sealed_key_id(s, named) && strcmp(named, theirs) == 0 && mcp_unseal(pool, key, "state", s, &n) == NULL,
              "seal: a value from a host with another key names that key's id, and does not open here");
        bad = apr_pstrdup(pool, s);
        bad[2] = bad[2] == 'A' ? 'B' : 'A';
        CHECK(mcp_unseal(pool, other, "state", bad, &n) == NULL, "seal: a value whose key id was altered does not open");
        CHECK(v1 && (plain = mcp_unseal(pool, key, "state", v1, &n)) != NULL && strcmp(plain, "{\"old\":1}") == 0
                  && !mcp_sealed_key_id(v1, named),
              "seal: a value sealed before key ids (version 1) still opens, and names no key");
    }
}

void mcp_seal_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_seal();
    apr_pool_destroy(pool);
}
