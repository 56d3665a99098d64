/* Unit tests of mcp_era: the two eras of MCP, the version a request claims,
 * the MCP-* headers a modern one must carry, their base64 sentinels. */

#include <string.h>

#include <apr_tables.h>

#include "mcp_era.h"
#include "mcp_jsonrpc.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_era(void)
{
    apr_array_header_t *calls;
    int batch, code;
    mcp_rpc_headers_t h = { NULL, NULL, NULL };
    const char *modern_call = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"caf\u00e9_lookup\","
                              "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}";
    const char *legacy_call = "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}";
#define READ(s) mcp_rpc_read(pool, s, strlen(s), &calls, &batch)
#define PROBLEM() mcp_era_header_problem(pool, calls, batch, &h, &code)

    CHECK(mcp_version_is_modern("2026-07-28") && mcp_version_is_modern("2027-01-01") && !mcp_version_is_modern("2025-11-25")
          && !mcp_version_is_modern(NULL), "eras: 2026-07-28 and later are modern");
    CHECK(strcmp(mcp_header_value_decode(pool, "=?base64?Y2Fmw6lfbG9va3Vw?="), "caf\xc3\xa9_lookup") == 0
          && strcmp(mcp_header_value_decode(pool, "echo"), "echo") == 0
          && strcmp(mcp_header_value_decode(pool, "=?BASE64?eA==?="), "=?BASE64?eA==?=") == 0,
          "sentinel: decoded; plain values and other markers as they are");
    CHECK(mcp_header_value_decode(pool, "=?base64?eA?=") == NULL && mcp_header_value_decode(pool, "=?base64?eB==?=") == NULL
          && mcp_header_value_decode(pool, "=?base64?e A==?=") == NULL && mcp_header_value_decode(pool, "=?base64?AA==?=") == NULL,
          "sentinel: no padding, unused bits, stray characters or NUL: invalid");

    READ(modern_call);
    CHECK(mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h), "eras: a body claim makes a request modern");
    CHECK(PROBLEM() && code == MCP_RPC_HEADER_MISMATCH, "modern: no MCP-Protocol-Version header: -32020");
    h.version = "2026-07-28";
    CHECK(PROBLEM() != NULL, "modern: no Mcp-Method: refused");
    h.method = "tools/call";
    CHECK(PROBLEM() != NULL, "modern: no Mcp-Name for tools/call: refused");
    h.name = "=?base64?Y2Fmw6lfbG9va3Vw?=";
    CHECK(PROBLEM() == NULL, "modern: every header, Mcp-Name as a sentinel: accepted");
    h.name = "caf\xc3\xa9_lookup";
    CHECK(PROBLEM() == NULL, "modern: Mcp-Name spelled out: accepted (the same text)");
    h.name = "=?base64?ZWNobw==?=";
    CHECK(PROBLEM() != NULL, "modern: a sentinel naming another tool: refused");
    h.name = "=?base64?Y2Fmw6lfbG9va3Vw?=";
    h.version = "2026-09-01";
    CHECK(PROBLEM() != NULL, "modern: header and body claim name different versions: refused");
    h.version = NULL;
    h.method = NULL;
    h.name = NULL;
    READ(legacy_call);
    CHECK(!mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h) && PROBLEM() == NULL,
          "legacy: no headers needed");
    h.version = "2026-07-28";
    CHECK(mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h) && PROBLEM() != NULL,
          "no claim, a modern header: modern, and its headers are required");
    h.version = "2025-11-25";
    h.name = "=?base64?ZWNobw==?=";
    CHECK(PROBLEM() == NULL, "legacy: an Mcp-Name sentinel that matches: accepted");
    h.name = "admin";
    CHECK(PROBLEM() != NULL && code == MCP_RPC_HEADER_MISMATCH, "legacy: an Mcp-Name that disagrees: -32020");
    h.name = NULL;
    h.version = NULL;
    READ("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
         "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}]");
    CHECK(batch && PROBLEM() != NULL && code == -32600, "a batch with a modern message: -32600");
    READ("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}");
    CHECK(strcmp(mcp_era_version(calls, &h), "2025-06-18") == 0, "the version of an initialize: what it asks for");
    h.version = "2025-11-25";
    CHECK(strcmp(mcp_era_version(calls, &h), "2025-11-25") == 0, "the version: the header before initialize's");
    READ(modern_call);
    CHECK(strcmp(mcp_era_version(calls, &h), "2026-07-28") == 0, "the version: the body's claim first");
#undef PROBLEM
#undef READ
}

void mcp_era_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_era();
    apr_pool_destroy(pool);
}
