/* What a keep-alive connection remembers of its requests before: a client
 * sends the same Authorization header, with the same token, request after
 * request, and comparing bytes costs a fraction of reading them again. */
#ifndef MCP_CONNECTION_MEMO_H
#define MCP_CONNECTION_MEMO_H

#include <httpd.h>

#include "mcp_tokencache.h"

/* A copy of some bytes in the connection's pool. Its room is reused in
 * place and only grows for a longer copy (to twice its length), so a
 * connection whose copies keep changing holds at most four times the
 * longest. */
typedef struct mcp_kept_bytes {
    apr_size_t len;
    apr_size_t room;
    char *bytes;
} mcp_kept_bytes_t;

typedef struct mcp_connection_memo {
    /* the Authorization header last read as a token presentation, and
     * where in it its token is */
    mcp_kept_bytes_t header;
    apr_size_t token_at;
    apr_size_t token_len;
    int dpop;
    /* the token last hashed for the token cache, with its scope and key */
    mcp_kept_bytes_t token;
    const void *scope;
    unsigned char key[MCP_TOKENCACHE_KEY_LEN];
} mcp_connection_memo_t;

/* c's memo; made on the first call. */
mcp_connection_memo_t *mcp_connection_memo(conn_rec *c);

/* Whether the copy holds exactly these len bytes. */
int mcp_kept_bytes_equal(const mcp_kept_bytes_t *kept, const char *bytes, apr_size_t len);

/* Keeps a copy of the len bytes (in pool, c's). */
void mcp_kept_bytes_set(mcp_kept_bytes_t *kept, apr_pool_t *pool, const char *bytes, apr_size_t len);

#endif
