/* JSON-RPC 2.0 requests of MCP, read strictly: a body that a server could
 * read differently from the policy is refused rather than guessed at. */

#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_jsonrpc.h"

/* Methods that act on one named thing, and where its name is. */
static const struct {
    const char *method;
    mcp_kind_t kind;
    const char *member;
} targeting[] = {
    { "tools/call", MCP_KIND_TOOL, "name" },
    { "prompts/get", MCP_KIND_PROMPT, "name" },
    { "resources/read", MCP_KIND_RESOURCE, "uri" },
    { "resources/subscribe", MCP_KIND_RESOURCE, "uri" },
};

/* Methods whose answers list things the policy may hide. */
static const struct {
    const char *method;
    mcp_kind_t kind;
} listing[] = {
    { "tools/list", MCP_KIND_TOOL },
    { "prompts/list", MCP_KIND_PROMPT },
    { "resources/list", MCP_KIND_RESOURCE },
    { "resources/templates/list", MCP_KIND_RESOURCE },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *read_one(apr_pool_t *pool, json_t *msg, mcp_rpc_call_t *call)
{
    json_t *method, *id, *params, *target;
    size_t i;

    memset(call, 0, sizeof(*call));
    call->kind = call->lists = -1;
    if (!json_is_object(msg))
        return "a JSON-RPC message is not an object";
    method = json_object_get(msg, "method");
    id = json_object_get(msg, "id");
    if (id) {
        char *text;

        if (!json_is_string(id) && !json_is_integer(id) && !json_is_null(id))
            return "a JSON-RPC id is a string or an integer";
        text = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
        call->id = text ? apr_pstrdup(pool, text) : NULL;
        free(text);
    }
    if (method == NULL)
        return NULL; /* a response to a server request: nothing to decide */
    if (!json_is_string(method))
        return "a JSON-RPC method is not a string";
    call->method = apr_pstrdup(pool, json_string_value(method));
    for (i = 0; i < COUNT(listing); i++)
        if (strcmp(call->method, listing[i].method) == 0)
            call->lists = listing[i].kind;
    for (i = 0; i < COUNT(targeting); i++) {
        if (strcmp(call->method, targeting[i].method) != 0)
            continue;
        params = json_object_get(msg, "params");
        target = json_is_object(params) ? json_object_get(params, targeting[i].member) : NULL;
        if (!json_is_string(target))
            return apr_psprintf(pool, "%s without a string params.%s", call->method, targeting[i].member);
        call->kind = targeting[i].kind;
        call->target = apr_pstrmemdup(pool, json_string_value(target), json_string_length(target));
    }
    return NULL;
}

const char *mcp_rpc_read(apr_pool_t *pool, const char *body, apr_size_t len, apr_array_header_t **calls,
                         int *batch)
{
    json_error_t jerr;
    json_t *doc;
    const char *why = NULL;
    size_t i, n;

    *calls = NULL;
    *batch = 0;
    /* duplicate names are where two parsers part ways (one keeps the
     * first, another the last); jansson refuses NUL in strings and bad
     * UTF-8 by itself */
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL)
        return apr_psprintf(pool, "not JSON that reads one way (at byte %lu)", (unsigned long)jerr.position);
    if (json_is_array(doc)) {
        *batch = 1;
        n = json_array_size(doc);
        if (n == 0)
            why = "an empty batch";
    }
    else {
        n = 1;
    }
    if (why == NULL) {
        *calls = apr_array_make(pool, (int)n, sizeof(mcp_rpc_call_t));
        for (i = 0; i < n && why == NULL; i++)
            why = read_one(pool, *batch ? json_array_get(doc, i) : doc, apr_array_push(*calls));
    }
    json_decref(doc);
    if (why)
        *calls = NULL;
    return why;
}

const char *mcp_rpc_error(apr_pool_t *pool, const char *id, int code, const char *message)
{
    json_t *doc = json_pack("{s:s, s:o?, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                            id ? json_loads(id, JSON_DECODE_ANY, NULL) : json_null(), "error", "code", code,
                            "message", message);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    const char *out = text ? apr_pstrdup(pool, text) : NULL;

    free(text);
    json_decref(doc);
    return out;
}
