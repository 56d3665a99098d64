/* Growing byte buffers for bodies and streams read in pieces. */

#include <string.h>

#include "mcp_buffer.h"

void mcp_buffer_reserve(apr_pool_t *pool, mcp_buffer_t *b, apr_size_t n)
{
    char *grown;

    if (n + 1 <= b->cap)
        return;
    grown = apr_palloc(pool, n + 1);
    if (b->len)
        memcpy(grown, b->data, b->len);
    grown[b->len] = '\0';
    b->data = grown;
    b->cap = n + 1;
}

void mcp_buffer_append(apr_pool_t *pool, mcp_buffer_t *b, const char *bytes, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 8192;

        while (cap < b->len + n + 1)
            cap *= 2;
        mcp_buffer_reserve(pool, b, cap - 1);
    }
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}
