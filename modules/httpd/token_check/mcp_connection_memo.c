#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>

#include "mcp_connection_memo.h"
#include "mcp_httpd.h"

mcp_connection_memo_t *mcp_connection_memo(conn_rec *c)
{
    mcp_connection_memo_t *memo = ap_get_module_config(c->conn_config, &mcp_auth_module);

    if (memo == NULL) {
        memo = apr_pcalloc(c->pool, sizeof(*memo));
        ap_set_module_config(c->conn_config, &mcp_auth_module, memo);
    }
    return memo;
}

int mcp_kept_bytes_equal(const mcp_kept_bytes_t *kept, const char *bytes, apr_size_t len)
{
    return kept->bytes != NULL && kept->len == len && memcmp(kept->bytes, bytes, len) == 0;
}

void mcp_kept_bytes_set(mcp_kept_bytes_t *kept, apr_pool_t *pool, const char *bytes, apr_size_t len)
{
    if (kept->room < len) {
        kept->room = 2 * len;
        kept->bytes = apr_palloc(pool, kept->room);
    }
    memcpy(kept->bytes, bytes, len);
    kept->len = len;
}
