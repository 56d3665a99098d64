/* A backend trusts these headers as the caller's identity, so a client's
 * own copy must never reach it, whatever the outcome of authentication. */

#include <apr_lib.h>
#include <apr_strings.h>
#include <httpd.h>

#include "mcp_field.h"
#include "mcp_identity.h"

typedef struct scrub_ctx {
    const char *const *names;
    int count;
    apr_array_header_t *doomed;
} scrub_ctx_t;

static int collect_alike(void *data, const char *key, const char *value)
{
    scrub_ctx_t *ctx = data;
    int i;

    for (i = 0; i < ctx->count; i++) {
        if (mcp_field_names_alike(key, ctx->names[i])) {
            APR_ARRAY_PUSH(ctx->doomed, const char *) = key;
            break;
        }
    }
    return 1;
}

void mcp_headers_scrub(request_rec *r, const char *const *names, int count)
{
    scrub_ctx_t ctx;
    int i;

    ctx.names = names;
    ctx.count = count;
    ctx.doomed = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(collect_alike, &ctx, r->headers_in, NULL);
    for (i = 0; i < ctx.doomed->nelts; i++)
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(ctx.doomed, i, const char *));
}

/* Identity headers are ours to set: whatever the client sent is dropped on
 * every path, authenticated or not. */
void mcp_identity_scrub(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char **names;
    int i;

    if (conf->claim_headers == NULL)
        return;
    names = apr_palloc(r->pool, sizeof(*names) * (apr_size_t)conf->claim_headers->nelts);
    for (i = 0; i < conf->claim_headers->nelts; i++)
        names[i] = APR_ARRAY_IDX(conf->claim_headers, i, claim_header_t).header;
    mcp_headers_scrub(r, names, conf->claim_headers->nelts);
}

void mcp_identity_set(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt)
{
    int i;

    for (i = 0; conf->claim_headers && i < conf->claim_headers->nelts; i++) {
        const claim_header_t *ch = &APR_ARRAY_IDX(conf->claim_headers, i, claim_header_t);
        const char *value = mcp_jwt_claim_string(r->pool, jwt, ch->claim);

        if (value)
            value = mcp_field_value(r->pool, value);
        if (value)
            apr_table_setn(r->headers_in, ch->header, value);
    }
}
