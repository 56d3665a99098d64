/* Layout of a sealed value before base64url: a version byte, a 96-bit
 * random nonce (NIST SP 800-38D §8.2.2: random nonces are safe well beyond
 * the number of values one key will seal here), the ciphertext and the
 * 128-bit tag. The purpose is the associated data. */

#include <string.h>

#include <apr_strings.h>
#include <cjose/base64.h>
#include <cjose/util.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mcp_b64url.h"
#include "mcp_seal.h"

#define VERSION 1
#define NONCE_LEN 12
#define TAG_LEN 16
#define OVERHEAD (1 + NONCE_LEN + TAG_LEN)

int mcp_seal_random(unsigned char *out, apr_size_t n)
{
    return RAND_bytes(out, (int)n) == 1;
}

/* Runs AES-256-GCM one way or the other over in (len bytes) into out. */
static int gcm(int encrypt, const unsigned char *key, const unsigned char *nonce, const char *purpose,
               const unsigned char *in, int len, unsigned char *out, unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    ok = ctx != NULL
         && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt)
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL)
         && EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt)
         && EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)purpose, (int)strlen(purpose))
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
    unsigned char *raw = apr_palloc(pool, len + OVERHEAD);
    char *b64 = NULL;
    size_t b64_len = 0;
    const char *out;
    cjose_err err;

    raw[0] = VERSION;
    if (!mcp_seal_random(raw + 1, NONCE_LEN)
        || !gcm(1, key, raw + 1, purpose, (const unsigned char *)plain, (int)len, raw + 1 + NONCE_LEN,
                raw + 1 + NONCE_LEN + len)
        || !cjose_base64url_encode(raw, len + OVERHEAD, &b64, &b64_len, &err))
        return NULL;
    out = apr_pstrmemdup(pool, b64, b64_len);
    cjose_get_dealloc()(b64);
    return out;
}

const char *mcp_unseal(apr_pool_t *pool, const unsigned char key[MCP_SEAL_KEY_LEN], const char *purpose,
                       const char *sealed, apr_size_t *len)
{
    apr_size_t slen = sealed ? strlen(sealed) : 0;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    unsigned char *plain;
    cjose_err err;
    int ok;

    /* cjose's decoder accepts too much (and aborts on some input) */
    if (slen == 0 || slen > MCP_SEAL_MAX_LEN || !mcp_b64url_is_strict(sealed, slen)
        || !cjose_base64url_decode(sealed, slen, &raw, &raw_len, &err))
        return NULL;
    ok = raw_len >= OVERHEAD && raw[0] == VERSION;
    plain = apr_palloc(pool, raw_len + 1);
    if (ok) {
        apr_size_t n = raw_len - OVERHEAD;

        ok = gcm(0, key, raw + 1, purpose, raw + 1 + NONCE_LEN, (int)n, plain, raw + 1 + NONCE_LEN + n);
        plain[n] = '\0';
        if (len)
            *len = n;
    }
    cjose_get_dealloc()(raw);
    return ok ? (const char *)plain : NULL;
}
