/* Unit tests of mcp_digest: digests with the context a thread keeps. */

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "mcp_digest.h"
#include "unit.h"
#include "unit_files.h"

/* What a fresh context gives for data then more. */
static int reference(const EVP_MD *md, const char *data, const char *more, unsigned char *out, unsigned int *len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, data, strlen(data))
             && (more == NULL || EVP_DigestUpdate(ctx, more, strlen(more))) && EVP_DigestFinal_ex(ctx, out, len);

    EVP_MD_CTX_free(ctx);
    return ok;
}

/* SHA-256, -384 and -512 in turn, with and without a second part: each as a
 * fresh context gives it, whatever the thread's context hashed before. */
static void *digests_in_turn(void *arg)
{
    static const char *const names[] = { "SHA256", "SHA384", "SHA512" };
    static const char *const data[] = { "", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9", "abc" };
    int *right = arg, round, i;

    for (round = 0; round < 50; round++) {
        for (i = 0; i < 9; i++) {
            const EVP_MD *md = EVP_get_digestbyname(names[(i + round) % 3]);
            const char *d = data[i % 3], *more = i % 2 ? "scope" : NULL;
            unsigned char got[EVP_MAX_MD_SIZE], want[EVP_MAX_MD_SIZE];
            unsigned int got_len = 0, want_len = 0;

            if (!mcp_digest(md, d, strlen(d), more, more ? strlen(more) : 0, got, &got_len)
                || !reference(md, d, more, want, &want_len) || got_len != want_len
                || memcmp(got, want, got_len) != 0)
                *right = 0;
        }
    }
    return NULL;
}

void mcp_digest_tests(apr_pool_t *pool)
{
    pthread_t threads[4];
    int right[4] = { 1, 1, 1, 1 }, mine = 1, i;
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    digests_in_turn(&mine);
    CHECK(mine, "digest: SHA-256/384/512 in turn, with and without a second part, as a fresh context gives them");
    for (i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, digests_in_turn, &right[i]);
    for (i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    CHECK(right[0] && right[1] && right[2] && right[3], "digest: the same in four threads at once, each with its own context");
    CHECK(!mcp_digest(NULL, "x", 1, NULL, 0, out, &len), "digest: no digest, no result");
}
