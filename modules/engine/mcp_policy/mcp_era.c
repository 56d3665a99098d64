/* MCP's two eras over Streamable HTTP, and the headers of the newer one
 * checked against the body they mirror (MCP 2026-07-28, basic/transports/
 * streamable-http "Request Metadata" and "Server Validation"): a proxy that
 * trusted a header the body contradicts would judge one request while the
 * server runs another. */

#include <string.h>

#include <apr_base64.h>
#include <apr_strings.h>

#include "mcp_era.h"

#define SENTINEL_PREFIX "=?base64?"
#define SENTINEL_SUFFIX "?="

/* JSON-RPC 2.0 §5.1 */
#define RPC_INVALID_REQUEST (-32600)

int mcp_version_is_modern(const char *version)
{
    return version != NULL && strcmp(version, MCP_FIRST_MODERN_VERSION) >= 0;
}

const char *mcp_header_value_decode(apr_pool_t *pool, const char *value)
{
    apr_size_t len = strlen(value), plen = sizeof(SENTINEL_PREFIX) - 1, slen = sizeof(SENTINEL_SUFFIX) - 1;
    const char *b64;
    char *decoded, *again;
    int n;

    if (len < plen + slen || strncmp(value, SENTINEL_PREFIX, plen) != 0
        || strcmp(value + len - slen, SENTINEL_SUFFIX) != 0)
        return value;
    b64 = apr_pstrmemdup(pool, value + plen, len - plen - slen);
    /* canonical only: what decodes must encode back to the very text, so
     * no two spellings (stray characters, missing padding, unused bits)
     * name one value */
    decoded = apr_palloc(pool, (apr_size_t)apr_base64_decode_len(b64) + 1);
    n = apr_base64_decode_binary((unsigned char *)decoded, b64);
    if (n < 0)
        return NULL;
    decoded[n] = '\0';
    again = apr_palloc(pool, (apr_size_t)apr_base64_encode_len(n));
    apr_base64_encode_binary(again, (const unsigned char *)decoded, n);
    if (strcmp(again, b64) != 0 || memchr(decoded, '\0', (apr_size_t)n) != NULL)
        return NULL;
    return decoded;
}

int mcp_era_is_modern(const mcp_rpc_call_t *call, const mcp_rpc_headers_t *h)
{
    if (call->has_claim)
        return call->version == NULL || mcp_version_is_modern(call->version);
    return mcp_version_is_modern(h->version);
}

static const char *batch_problem(const apr_array_header_t *calls, const mcp_rpc_headers_t *h, int *code)
{
    int i;

    *code = MCP_RPC_HEADER_MISMATCH;
    if (h->method || h->name)
        return "Mcp-Method and Mcp-Name name one message, not a batch";
    for (i = 0; i < calls->nelts; i++) {
        if (mcp_era_is_modern(&APR_ARRAY_IDX(calls, i, mcp_rpc_call_t), h)) {
            *code = RPC_INVALID_REQUEST;
            return "JSON-RPC batches may not hold requests of protocol revision " MCP_FIRST_MODERN_VERSION " or later";
        }
    }
    return NULL;
}

const char *mcp_era_header_problem(apr_pool_t *pool, const apr_array_header_t *calls, int batch,
                                   const mcp_rpc_headers_t *h, int *code)
{
    const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t);
    const char *name;

    if (batch)
        return batch_problem(calls, h, code);
    *code = MCP_RPC_HEADER_MISMATCH;
    if (mcp_era_is_modern(c, h) && c->method && c->id) {
        if (h->version == NULL)
            return "the MCP-Protocol-Version header is missing";
        if (h->method == NULL)
            return "the Mcp-Method header is missing";
        if (c->named && h->name == NULL)
            return "the Mcp-Name header is missing";
    }
    if (c->version && h->version && strcmp(c->version, h->version) != 0)
        return apr_psprintf(pool, "the MCP-Protocol-Version header names %s but the body %s", h->version, c->version);
    if (h->method && (c->method == NULL || strcmp(h->method, c->method) != 0))
        return "the Mcp-Method header does not match the body's method";
    if (h->name && c->named) {
        if ((name = mcp_header_value_decode(pool, h->name)) == NULL)
            return "the Mcp-Name header carries an invalid base64 sentinel";
        if (strcmp(name, c->target) != 0)
            return "the Mcp-Name header does not match the body";
    }
    return NULL;
}

const char *mcp_era_version(const apr_array_header_t *calls, const mcp_rpc_headers_t *h)
{
    int i;

    for (i = 0; i < calls->nelts; i++) {
        const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);

        if (c->version)
            return c->version;
    }
    if (h->version)
        return h->version;
    for (i = 0; i < calls->nelts; i++) {
        const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);

        if (c->init_version)
            return c->init_version;
    }
    return NULL;
}
