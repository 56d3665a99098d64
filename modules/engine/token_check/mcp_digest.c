#include <stdlib.h>

#include "mcp_digest.h"
#include "mcp_thread_state.h"

static void release_context(void *data)
{
    EVP_MD_CTX **ctx = data;

    EVP_MD_CTX_free(*ctx);
    free(ctx);
}

static mcp_thread_state_t contexts = MCP_THREAD_STATE(sizeof(EVP_MD_CTX *), release_context);
static __thread void *context;

int mcp_digest(const EVP_MD *md, const void *data, size_t len, const void *more, size_t more_len,
               unsigned char *out, unsigned int *out_len)
{
    EVP_MD_CTX **ctx = mcp_thread_state(&contexts, &context);

    if (md == NULL || ctx == NULL || (*ctx == NULL && (*ctx = EVP_MD_CTX_new()) == NULL))
        return 0;
    /* the same digest as last time reuses the context's own state */
    return EVP_DigestInit_ex(*ctx, md, NULL) == 1 && EVP_DigestUpdate(*ctx, data, len) == 1
           && (more == NULL || EVP_DigestUpdate(*ctx, more, more_len) == 1)
           && EVP_DigestFinal_ex(*ctx, out, out_len) == 1;
}
