/* Layout of a sealed value before base64url: a version byte, the key id
 * (version 2: 4 bytes), a 96-bit random nonce (NIST SP 800-38D §8.2.2:
 * random nonces are safe well beyond the number of values one key will
 * seal here), the ciphertext and the 128-bit tag. The purpose and the
 * header are the associated data. Version 1 (no key id) still opens. */

#include <string.h>

#include <apr_strings.h>
#include <cjose/base64.h>
#include <cjose/util.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mcp_b64url.h"
#include "mcp_seal.h"

#define VERSION_1 1
#define VERSION 2
#define KEY_ID_LEN 4
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEADER_LEN(v) (1 + ((v) == VERSION ? KEY_ID_LEN : 0))
#define OVERHEAD(v) (HEADER_LEN(v) + NONCE_LEN + TAG_LEN)

static void key_id(const unsigned char *key, unsigned char id[KEY_ID_LEN])
{
    static const char label[] = "mod_mcp_auth relay key id";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    memset(id, 0, KEY_ID_LEN);
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, label, sizeof(label) - 1)
        && EVP_DigestUpdate(ctx, key, MCP_SEAL_KEY_LEN) && EVP_DigestFinal_ex(ctx, md, &n) && n >= KEY_ID_LEN)
        memcpy(id, md, KEY_ID_LEN);
    EVP_MD_CTX_free(ctx);
}

static void id_hex(const unsigned char id[KEY_ID_LEN], char out[MCP_SEAL_KEY_ID_HEX])
{
    int i;

    for (i = 0; i < KEY_ID_LEN; i++)
        apr_snprintf(out + 2 * i, 3, "%02x", id[i]);
}

void mcp_seal_key_id(const unsigned char key[MCP_SEAL_KEY_LEN], char out[MCP_SEAL_KEY_ID_HEX])
{
    unsigned char id[KEY_ID_LEN];

    key_id(key, id);
    id_hex(id, out);
}

int mcp_seal_random(unsigned char *out, apr_size_t n)
{
    return RAND_bytes(out, (int)n) == 1;
}

/* Runs AES-256-GCM one way or the other over in (len bytes) into out,
 * with purpose and the value's header (hlen bytes) as associated data. */
static int gcm(int encrypt, const unsigned char *key, const unsigned char *header, int hlen,
               const unsigned char *nonce, const char *purpose, const unsigned char *in, int len,
               unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    ok = ctx != NULL
         && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt)
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL)
         && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt)
         && EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)purpose, (int)strlen(purpose))
         && (hlen == 1 || EVP_CipherUpdate(ctx, NULL, &n, header, hlen))
         && (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, len))
         && (encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag))
         && EVP_CipherFinal_ex(ctx, out + (len ? n : 0), &n)
         && (!encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag));
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

const char *mcp_seal(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                     const char *plain, apr_size_t len)
{
    unsigned char *raw = apr_palloc(pool, len + OVERHEAD(VERSION));
    unsigned char *nonce = raw + HEADER_LEN(VERSION);
    char *b64 = NULL;
    size_t b64_len = 0;
    const char *out;
    cjose_err err;

    raw[0] = VERSION;
    key_id(key, raw + 1);
    if (!mcp_seal_random(nonce, NONCE_LEN)
        || !gcm(1, key, raw, HEADER_LEN(VERSION), nonce, purpose, (const unsigned char *)plain, (int)len,
                nonce + NONCE_LEN, nonce + NONCE_LEN + len)
        || !cjose_base64url_encode(raw, len + OVERHEAD(VERSION), &b64, &b64_len, &err))
        return NULL;
    out = apr_pstrmemdup(pool, b64, b64_len);
    cjose_get_dealloc()(b64);
    return out;
}

const char *mcp_unseal(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                       const char *sealed, apr_size_t *len)
{
    return mcp_unseal_bounded(pool, key, purpose, sealed, MCP_SEAL_MAX_LEN, len);
}

const char *mcp_unseal_bounded(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                               const char *sealed, apr_size_t max_len, apr_size_t *len)
{
    apr_size_t slen = sealed ? strlen(sealed) : 0;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    unsigned char *plain;
    cjose_err err;
    int ok, version;

    /* cjose's decoder accepts too much (and aborts on some input) */
    if (slen == 0 || slen > max_len || !mcp_b64url_is_strict(sealed, slen)
        || !cjose_base64url_decode(sealed, slen, &raw, &raw_len, &err))
        return NULL;
    version = raw_len > 0 ? raw[0] : 0;
    ok = (version == VERSION || version == VERSION_1) && raw_len >= (size_t)OVERHEAD(version);
    plain = apr_palloc(pool, raw_len + 1);
    if (ok && version == VERSION) {
        unsigned char mine[KEY_ID_LEN];

        /* another key's value: no decryption to try */
        key_id(key, mine);
        ok = memcmp(raw + 1, mine, KEY_ID_LEN) == 0;
    }
    if (ok) {
        apr_size_t n = raw_len - OVERHEAD(version);
        unsigned char *nonce = raw + HEADER_LEN(version);

        ok = gcm(0, key, raw, HEADER_LEN(version), nonce, purpose, nonce + NONCE_LEN, (int)n, plain,
                 nonce + NONCE_LEN + n);
        plain[n] = '\0';
        if (len)
            *len = n;
    }
    cjose_get_dealloc()(raw);
    return ok ? (const char *)plain : NULL;
}

int mcp_sealed_key_id(const char *sealed, char out[MCP_SEAL_KEY_ID_HEX])
{
    apr_size_t slen = sealed ? strlen(sealed) : 0;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    cjose_err err;
    int ok;

    if (slen == 0 || slen > MCP_SEAL_MAX_LEN || !mcp_b64url_is_strict(sealed, slen)
        || !cjose_base64url_decode(sealed, slen, &raw, &raw_len, &err))
        return 0;
    ok = raw_len >= (size_t)OVERHEAD(VERSION) && raw[0] == VERSION;
    if (ok)
        id_hex(raw + 1, out);
    cjose_get_dealloc()(raw);
    return ok;
}
