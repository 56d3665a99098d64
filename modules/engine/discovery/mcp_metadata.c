#include <stdlib.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_dpop.h"
#include "mcp_metadata.h"

static json_t *string_array(const apr_array_header_t *items)
{
    json_t *arr = json_array();
    int i;

    for (i = 0; items && i < items->nelts; i++)
        json_array_append_new(arr, json_string(APR_ARRAY_IDX(items, i, const char *)));
    return arr;
}

int mcp_json_is_valid(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

    json_decref(v);
    return v != NULL;
}

typedef struct extra_ctx {
    json_t *doc;
    int ok;
} extra_ctx_t;

static int add_extra(void *data, const char *field, const char *json_text)
{
    extra_ctx_t *ctx = data;
    json_t *v = json_loads(json_text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);

    if (v == NULL) {
        ctx->ok = 0;
        return 0;
    }
    json_object_set_new(ctx->doc, field, v);
    return 1;
}

char *mcp_prm_json(apr_pool_t *pool, const mcp_prm_t *prm)
{
    extra_ctx_t ctx;
    char *text, *copy = NULL;

    ctx.doc = json_object();
    ctx.ok = 1;
    json_object_set_new(ctx.doc, "resource", json_string(prm->resource));
    json_object_set_new(ctx.doc, "authorization_servers", string_array(prm->authorization_servers));
    if (prm->scopes_supported && prm->scopes_supported->nelts)
        json_object_set_new(ctx.doc, "scopes_supported", string_array(prm->scopes_supported));
    json_object_set_new(ctx.doc, "bearer_methods_supported", string_array(prm->bearer_methods));
    /* RFC 9728 §2: what DPoP proofs may be signed with, and whether a token
     * must be DPoP-bound */
    if (prm->dpop) {
        json_object_set_new(ctx.doc, "dpop_signing_alg_values_supported", mcp_dpop_algs_json());
        json_object_set_new(ctx.doc, "dpop_bound_access_tokens_required", json_boolean(prm->dpop == 2));
    }
    if (prm->extra)
        apr_table_do(add_extra, &ctx, prm->extra, NULL);
    text = ctx.ok ? json_dumps(ctx.doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text) {
        copy = apr_pstrdup(pool, text);
        free(text);
    }
    json_decref(ctx.doc);
    return copy;
}
