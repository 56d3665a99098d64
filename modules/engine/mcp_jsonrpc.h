/* JSON-RPC 2.0 messages of MCP as the policy reads them: which method a
 * request calls, on which tool, prompt or resource, under which id. */
#ifndef MCP_JSONRPC_H
#define MCP_JSONRPC_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "mcp_policy.h"

typedef struct mcp_rpc_call {
    const char *method;     /* NULL for a response the client sends (to a server request) */
    const char *id;         /* the id as JSON text ("7", "\"a\""), NULL for a notification */
    int kind;               /* an mcp_kind_t the method targets, or -1 */
    const char *target;     /* params.name or params.uri for such a method */
    int lists;              /* an mcp_kind_t whose list this method asks for, or -1 */
} mcp_rpc_call_t;

/* Reads a POSTed MCP body: one JSON-RPC message or a batch (2025-03-26).
 * Refused (NULL calls, the reason returned) unless it parses one way only:
 * valid UTF-8 JSON, no duplicate member names at any depth, an object or a
 * non-empty array of objects, string methods, and for a targeting method a
 * params object with a string name (tools, prompts) or uri (resources).
 * *batch says whether it was an array. */
const char *mcp_rpc_read(apr_pool_t *pool, const char *body, apr_size_t len, apr_array_header_t **calls,
                         int *batch);

/* The JSON-RPC error answer to id (JSON text; "null" when NULL). */
const char *mcp_rpc_error(apr_pool_t *pool, const char *id, int code, const char *message);

#endif
