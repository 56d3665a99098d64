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
    const char *target;     /* params.name or params.uri for such a method (the first of targets) */
    apr_array_header_t *targets; /* of const char *: every name or URI the method targets */
    int named;              /* the method's target is mirrored in Mcp-Name (MCP 2026-07-28) */
    int lists;              /* an mcp_kind_t whose list (or resource contents) the answer carries, or -1 */
    const char *version;    /* params._meta's protocol version claim (2026-07-28), else NULL */
    int has_claim;          /* params._meta holds that key, whatever its value */
    const char *init_version; /* initialize's params.protocolVersion (2025 handshake) */
} mcp_rpc_call_t;

/* Reads a POSTed MCP body: one JSON-RPC message or a batch (2025-03-26).
 * Refused (NULL calls, the reason returned) unless it parses one way only:
 * valid UTF-8 JSON, no duplicate member names at any depth, no member name
 * of the protocol spelled in another case (Go's encoding/json matches names
 * case-insensitively), an object or a non-empty array of objects, string
 * methods, and for a targeting method a params object with a string name
 * (tools, prompts) or uri (resources), for subscriptions/listen an array
 * of string resourceSubscriptions if any, for completion/complete a string
 * ref.name (ref/prompt) or ref.uri (ref/resource).
 * *batch says whether it was an array. */
const char *mcp_rpc_read(apr_pool_t *pool, const char *body, apr_size_t len, apr_array_header_t **calls,
                         int *batch);

/* The JSON-RPC error answer to id (JSON text; "null" when NULL). */
const char *mcp_rpc_error(apr_pool_t *pool, const char *id, int code, const char *message);

/* The same with error.data {key: value}: {"uri": ...} is how MCP
 * 2026-07-28 names the resource a -32602 did not find. */
const char *mcp_rpc_error_with(apr_pool_t *pool, const char *id, int code, const char *message, const char *key,
                               const char *value);

#endif
