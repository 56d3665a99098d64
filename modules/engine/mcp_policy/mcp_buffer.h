/* A byte buffer in a pool that grows by doubling, always NUL-terminated. */
#ifndef MCP_BUFFER_H
#define MCP_BUFFER_H

#include <apr_pools.h>

typedef struct mcp_buffer {
    char *data;         /* NULL until the first append */
    apr_size_t len, cap;
} mcp_buffer_t;

/* Makes room for n bytes in all, when that is known beforehand. */
void mcp_buffer_reserve(apr_pool_t *pool, mcp_buffer_t *b, apr_size_t n);

/* Appends n bytes; earlier copies stay in pool until it is cleared. */
void mcp_buffer_append(apr_pool_t *pool, mcp_buffer_t *b, const char *bytes, apr_size_t n);

#endif
