/* Unit tests of mcp_jsonrpc: JSON-RPC requests of MCP as a server would read
 * them, and the errors written back. */

#include <string.h>

#include <apr_tables.h>

#include "mcp_jsonrpc.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_jsonrpc(void)
{
    apr_array_header_t *calls;
    int batch;
    const mcp_rpc_call_t *c;
#define READ(s) mcp_rpc_read(pool, s, strlen(s), &calls, &batch)

    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"dele\\u0074e_repo\"}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_TOOL && strcmp(c->target, "delete_repo") == 0
          && strcmp(c->id, "7") == 0 && !batch, "tools/call: the name as the server reads it (\\u escapes decoded), the id");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"resources/read\",\"params\":{\"uri\":\"file:///etc/passwd\"}}") == NULL
          && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).kind == MCP_KIND_RESOURCE
          && strcmp(APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).id, "\"a\"") == 0, "resources/read: the uri");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"name\":\"b\"}}") != NULL,
          "two names (duplicate keys): refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"method\":\"tools/list\"}") != NULL,
          "two methods: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\\u0000b\"}}") != NULL,
          "a NUL in the name: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":7}}") != NULL,
          "a name that is not a string: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}") != NULL, "tools/call without params: refused");
    CHECK(READ("{\"a\":\"\xff\"}") != NULL, "invalid UTF-8: refused");
    CHECK(READ("[]") != NULL && READ("[1]") != NULL && READ("\"x\"") != NULL, "empty batch, non-object members, scalars: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\"}} x") != NULL,
          "trailing bytes: refused");
    CHECK(READ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
               "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
               "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}]") == NULL && batch && calls->nelts == 3
          && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).lists == MCP_KIND_TOOL
          && APR_ARRAY_IDX(calls, 1, mcp_rpc_call_t).id == NULL
          && APR_ARRAY_IDX(calls, 2, mcp_rpc_call_t).method == NULL, "a batch: a list, a notification, a response");
    CHECK(strcmp(mcp_rpc_error(pool, "\"x\"", -32602, "Unknown tool: a"),
                 "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"error\":{\"code\":-32602,\"message\":\"Unknown tool: a\"}}") == 0,
          "a JSON-RPC error to the request's id");
    CHECK(strcmp(mcp_rpc_error_with(pool, "2", -32602, "Resource not found: x:y", "uri", "x:y"),
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{\"code\":-32602,\"message\":\"Resource not found: x:y\","
                 "\"data\":{\"uri\":\"x:y\"}}}") == 0, "a JSON-RPC error naming the resource");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"Method\":\"tools/call\",\"params\":{\"name\":\"a\"}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"ID\":1,\"method\":\"tools/list\"}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"a\",\"NAME\":\"b\"}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"a:b\",\"URI\":\"c:d\"}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"para\u017fs\":{}}") == NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"param\u017f\":{}}") != NULL,
          "member names of the protocol in another case (or with U+017F for s): refused, as Go would read them");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
               "{\"toolsListChanged\":true,\"resourceSubscriptions\":[\"file:///a\",\"file:///etc/shadow\"]}}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_RESOURCE && c->targets->nelts == 2
          && strcmp(APR_ARRAY_IDX(c->targets, 1, const char *), "file:///etc/shadow") == 0 && !c->named,
          "subscriptions/listen: every subscribed resource is a target");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
               "{\"toolsListChanged\":true}}}") == NULL && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).targets == NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                  "{\"resourceSubscriptions\":[7]}}}") != NULL
          && READ("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"subscriptions/listen\",\"params\":{\"notifications\":"
                  "{\"resourceSubscriptions\":\"file:///etc/shadow\"}}}") != NULL,
          "subscriptions/listen: no resources, nothing to judge; entries that are not strings: refused");
    CHECK(READ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":"
               "{\"type\":\"ref/prompt\",\"name\":\"secret_plan\"},\"argument\":{\"name\":\"a\",\"value\":\"\"}}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_PROMPT && strcmp(c->target, "secret_plan") == 0
          && READ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":"
                  "{\"type\":\"ref/resource\",\"uri\":\"file:///etc/{f}\"}}}") == NULL
          && (c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t))->kind == MCP_KIND_RESOURCE
          && strcmp(c->target, "file:///etc/{f}") == 0
          && READ("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"completion/complete\",\"params\":{\"ref\":"
                  "{\"type\":\"ref/prompt\",\"Name\":\"x\"}}}") != NULL,
          "completion/complete: the prompt or resource template it completes is a target");
#undef READ
}

void mcp_jsonrpc_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_jsonrpc();
    apr_pool_destroy(pool);
}
