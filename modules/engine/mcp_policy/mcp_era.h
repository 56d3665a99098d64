/* The two eras of MCP over Streamable HTTP, told apart by the request:
 * 2025-03-26 to 2025-11-25 (sessions, the initialize handshake) and
 * 2026-07-28 on (stateless; every request names its protocol version in
 * params._meta and mirrors method and target in HTTP headers). */
#ifndef MCP_ERA_H
#define MCP_ERA_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "mcp_jsonrpc.h"

#define MCP_FIRST_MODERN_VERSION "2026-07-28"

/* JSON-RPC codes of MCP 2026-07-28 ("Server Validation"). */
#define MCP_RPC_HEADER_MISMATCH (-32020)

/* Whether a protocol version is of the 2026-07-28 era or later (versions
 * are dates, compared as the SDKs compare them). */
int mcp_version_is_modern(const char *version);

/* A header value as the client meant it: "=?base64?B64?=" decoded (MCP
 * 2026-07-28 "Value Encoding"; the markers exact, B64 canonical base64 of
 * UTF-8 without NUL), any other value as it is. NULL when the sentinel
 * does not decode. */
const char *mcp_header_value_decode(apr_pool_t *pool, const char *value);

/* The MCP headers of a request, as httpd read them (NULL: absent). */
typedef struct mcp_rpc_headers {
    const char *version;    /* MCP-Protocol-Version */
    const char *method;     /* Mcp-Method */
    const char *name;       /* Mcp-Name */
} mcp_rpc_headers_t;

/* Whether a message is of the 2026-07-28 era: by its own claim when it
 * makes one, else by the MCP-Protocol-Version header (as the SDK servers
 * classify, body first). */
int mcp_era_is_modern(const mcp_rpc_call_t *call, const mcp_rpc_headers_t *h);

/* Why the headers and the body disagree, or NULL. A modern request must
 * carry MCP-Protocol-Version (equal to its claim), Mcp-Method and, for a
 * method whose target Mcp-Name mirrors, Mcp-Name; any request's Mcp-Method
 * and decoded Mcp-Name must equal its body's. A batch (2025-03-26 only)
 * may hold no modern message and name no method in headers. *code is the
 * JSON-RPC code to answer with. */
const char *mcp_era_header_problem(apr_pool_t *pool, const apr_array_header_t *calls, int batch,
                                   const mcp_rpc_headers_t *h, int *code);

/* The protocol version a request speaks, for logs: its claim, else the
 * header, else what its initialize asks for; NULL if none says. */
const char *mcp_era_version(const apr_array_header_t *calls, const mcp_rpc_headers_t *h);

#endif
