/* JSON-RPC 2.0 requests of MCP, read strictly: a body that a server could
 * read differently from the policy is refused rather than guessed at. */

#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>

#include "mcp_jsonrpc.h"

/* Methods that act on one named thing, where its name is, and whether
 * MCP 2026-07-28 mirrors it in Mcp-Name ("Standard Request Headers"). */
static const struct {
    const char *method;
    mcp_kind_t kind;
    const char *member;
    int named;
} targeting[] = {
    { "tools/call", MCP_KIND_TOOL, "name", 1 },
    { "prompts/get", MCP_KIND_PROMPT, "name", 1 },
    { "resources/read", MCP_KIND_RESOURCE, "uri", 1 },
    { "resources/subscribe", MCP_KIND_RESOURCE, "uri", 0 },
};

/* Methods whose answers carry things the policy may hide: lists, and the
 * contents of a resource (whose cacheScope must then be private). */
static const struct {
    const char *method;
    mcp_kind_t kind;
} listing[] = {
    { "tools/list", MCP_KIND_TOOL },
    { "prompts/list", MCP_KIND_PROMPT },
    { "resources/list", MCP_KIND_RESOURCE },
    { "resources/templates/list", MCP_KIND_RESOURCE },
    { "resources/read", MCP_KIND_RESOURCE },
};

/* MCP 2026-07-28 "Subscriptions": the resources a listen asks to hear of. */
#define LISTEN_METHOD "subscriptions/listen"
/* MCP 2026-07-28 per-request envelope ("_meta") */
#define VERSION_META_KEY "io.modelcontextprotocol/protocolVersion"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Whether key equals known when both are folded as Go's encoding/json
 * folds member names: ASCII case, and U+017F (long s) and U+212A (Kelvin
 * sign) as s and k. */
static int folds_to(const char *key, const char *known)
{
    const unsigned char *k = (const unsigned char *)key;

    for (; *known; known++) {
        char want = (char)apr_tolower(*known);

        if (want == 's' && k[0] == 0xc5 && k[1] == 0xbf)
            k += 2;
        else if (want == 'k' && k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa)
            k += 3;
        else if (*k && apr_tolower(*k) == want)
            k++;
        else
            return 0;
    }
    return *k == '\0';
}

/* A member of obj whose name is one of names spelled another way: a server
 * that folds names would read that member where this reader sees none. */
static const char *misspelled_member(json_t *obj, const char *const *names)
{
    const char *key;
    json_t *value;
    int i;

    json_object_foreach(obj, key, value) {
        for (i = 0; names[i]; i++)
            if (strcmp(key, names[i]) != 0 && folds_to(key, names[i]))
                return key;
    }
    return NULL;
}

static const char *const message_members[] = { "jsonrpc", "id", "method", "params", "result", "error", NULL };
static const char *const params_members[] = { "name", "uri", "_meta", "arguments", "notifications",
                                              "protocolVersion", "cursor", "ref", NULL };

/* params._meta's protocol version claim (MCP 2026-07-28 "Request Metadata"). */
static void read_claim(apr_pool_t *pool, json_t *params, mcp_rpc_call_t *call)
{
    json_t *meta = json_is_object(params) ? json_object_get(params, "_meta") : NULL;
    json_t *claim = json_is_object(meta) ? json_object_get(meta, VERSION_META_KEY) : NULL;
    json_t *init = json_is_object(params) ? json_object_get(params, "protocolVersion") : NULL;

    call->has_claim = claim != NULL;
    if (json_is_string(claim))
        call->version = apr_pstrdup(pool, json_string_value(claim));
    if (json_is_string(init) && strcmp(call->method, "initialize") == 0)
        call->init_version = apr_pstrdup(pool, json_string_value(init));
}

static void add_target(apr_pool_t *pool, mcp_rpc_call_t *call, json_t *s)
{
    const char *t = apr_pstrmemdup(pool, json_string_value(s), json_string_length(s));

    if (call->targets == NULL)
        call->targets = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(call->targets, const char *) = t;
    if (call->target == NULL)
        call->target = t;
}

/* subscriptions/listen: every URI of params.notifications.resourceSubscriptions. */
static const char *read_listen(apr_pool_t *pool, json_t *params, mcp_rpc_call_t *call)
{
    json_t *filter = json_is_object(params) ? json_object_get(params, "notifications") : NULL;
    json_t *uris = json_is_object(filter) ? json_object_get(filter, "resourceSubscriptions") : NULL;
    const char *odd;
    size_t i;

    call->kind = MCP_KIND_RESOURCE;
    if (json_is_object(filter) && (odd = misspelled_member(filter, (const char *const[]){ "resourceSubscriptions", NULL })))
        return apr_psprintf(pool, "a member named %s", odd);
    if (uris == NULL || json_is_null(uris))
        return NULL;
    if (!json_is_array(uris))
        return LISTEN_METHOD " with resourceSubscriptions that are not an array";
    for (i = 0; i < json_array_size(uris); i++) {
        if (!json_is_string(json_array_get(uris, i)))
            return LISTEN_METHOD " with a resourceSubscriptions entry that is not a string";
        add_target(pool, call, json_array_get(uris, i));
    }
    return NULL;
}

/* completion/complete (MCP 2025-06-18 on): completions of a prompt's
 * arguments or a resource template's variables tell what they complete. */
#define COMPLETE_METHOD "completion/complete"

static const char *read_completion_ref(apr_pool_t *pool, json_t *params, mcp_rpc_call_t *call)
{
    json_t *ref = json_is_object(params) ? json_object_get(params, "ref") : NULL, *type, *target;
    const char *odd;
    int prompt;

    if (!json_is_object(ref))
        return NULL; /* the server refuses it */
    if ((odd = misspelled_member(ref, (const char *const[]){ "type", "name", "uri", NULL })) != NULL)
        return apr_psprintf(pool, "a member named %s", odd);
    type = json_object_get(ref, "type");
    if (!json_is_string(type))
        return NULL;
    prompt = strcmp(json_string_value(type), "ref/prompt") == 0;
    if (!prompt && strcmp(json_string_value(type), "ref/resource") != 0)
        return NULL;
    target = json_object_get(ref, prompt ? "name" : "uri");
    if (!json_is_string(target))
        return apr_psprintf(pool, COMPLETE_METHOD " without a string ref.%s", prompt ? "name" : "uri");
    call->kind = prompt ? MCP_KIND_PROMPT : MCP_KIND_RESOURCE;
    add_target(pool, call, target);
    return NULL;
}

static const char *read_one(apr_pool_t *pool, json_t *msg, mcp_rpc_call_t *call)
{
    json_t *method, *id, *params, *target;
    const char *odd;
    size_t i;

    memset(call, 0, sizeof(*call));
    call->kind = call->lists = -1;
    if (!json_is_object(msg))
        return "a JSON-RPC message is not an object";
    params = json_object_get(msg, "params");
    if ((odd = misspelled_member(msg, message_members)) != NULL
        || (json_is_object(params) && (odd = misspelled_member(params, params_members)) != NULL))
        return apr_psprintf(pool, "a member named %s", odd);
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
    read_claim(pool, params, call);
    for (i = 0; i < COUNT(listing); i++)
        if (strcmp(call->method, listing[i].method) == 0)
            call->lists = listing[i].kind;
    if (strcmp(call->method, LISTEN_METHOD) == 0)
        return read_listen(pool, params, call);
    if (strcmp(call->method, COMPLETE_METHOD) == 0)
        return read_completion_ref(pool, params, call);
    for (i = 0; i < COUNT(targeting); i++) {
        if (strcmp(call->method, targeting[i].method) != 0)
            continue;
        target = json_is_object(params) ? json_object_get(params, targeting[i].member) : NULL;
        if (!json_is_string(target))
            return apr_psprintf(pool, "%s without a string params.%s", call->method, targeting[i].member);
        call->kind = targeting[i].kind;
        call->named = targeting[i].named;
        add_target(pool, call, target);
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

static const char *error_text(apr_pool_t *pool, const char *id, int code, const char *message, json_t *data)
{
    json_t *doc = json_pack("{s:s, s:o?, s:{s:i, s:s, s:o*}}", "jsonrpc", "2.0", "id",
                            id ? json_loads(id, JSON_DECODE_ANY, NULL) : json_null(), "error", "code", code,
                            "message", message, "data", data);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    const char *out = text ? apr_pstrdup(pool, text) : NULL;

    free(text);
    json_decref(doc);
    return out;
}

const char *mcp_rpc_error(apr_pool_t *pool, const char *id, int code, const char *message)
{
    return error_text(pool, id, code, message, NULL);
}

const char *mcp_rpc_error_with(apr_pool_t *pool, const char *id, int code, const char *message, const char *key,
                               const char *value)
{
    return error_text(pool, id, code, message, json_pack("{s:s}", key, value));
}
