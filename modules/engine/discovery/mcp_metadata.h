/* OAuth 2.0 Protected Resource Metadata documents (RFC 9728 §2, §3.2). */
#ifndef MCP_METADATA_H
#define MCP_METADATA_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct mcp_prm {
    const char *resource;
    const apr_array_header_t *authorization_servers;  /* of const char * */
    const apr_array_header_t *scopes_supported;       /* of const char *, may be empty */
    const apr_array_header_t *bearer_methods;         /* of const char * */
    int dpop;                     /* 0: no DPoP, 1: DPoP-bound tokens taken, 2: required */
    const apr_table_t *extra;     /* field -> JSON text; adds to or overrides the above */
} mcp_prm_t;

/* The document as compact JSON, or NULL if an extra field's JSON is invalid
 * (configuration checks that first with mcp_json_is_valid). */
char *mcp_prm_json(apr_pool_t *pool, const mcp_prm_t *prm);

/* Whether text is one valid JSON value (used to check MCPAuthResourceMetadata). */
int mcp_json_is_valid(const char *text);

#endif
