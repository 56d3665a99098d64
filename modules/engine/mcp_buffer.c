/* Growing byte buffers for bodies and streams read in pieces. */

#include <string.h>

#include "mcp_buffer.h"

void mcp_buffer_append(apr_pool_t *pool, mcp_buffer_t *b, const char *bytes, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 8192;
        char *grown;

        while (cap < b->len + n + 1)
            cap *= 2;
        grown = apr_palloc(pool, cap);
        if (b->len)
            memcpy(grown, b->data, b->len);
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
}
