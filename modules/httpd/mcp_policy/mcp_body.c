/* Request bodies the module reads itself: read whole within a limit, and
 * handed on to whoever reads the request next (mod_proxy, usually). */

#include <string.h>

#include <apr_buckets.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <httpd.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mcp_buffer.h"
#include "mcp_body.h"

#define REPLAY_FILTER "MCP_AUTH_FORM_REPLAY"
static ap_filter_rec_t *replay_filter_handle; /* added by registration, not by name */

typedef struct replay_ctx {
    apr_bucket_brigade *rest;   /* what has not been handed on yet, then EOS */
} replay_ctx_t;

/* Hands the body read earlier to whoever reads the request next, within
 * the amount each read asks for. The original body was read to its end. */
static apr_status_t replay_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                  apr_read_type_e block, apr_off_t readbytes)
{
    replay_ctx_t *ctx = f->ctx;
    apr_bucket *b, *end, *copy;
    apr_status_t rv;

    if (APR_BRIGADE_EMPTY(ctx->rest)) {
        /* asked again after the end: the end again, as HTTP_IN answers */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    switch (mode) {
    case AP_MODE_GETLINE:
        return apr_brigade_split_line(bb, ctx->rest, block, HUGE_STRING_LEN);
    case AP_MODE_EXHAUSTIVE:
        APR_BRIGADE_CONCAT(bb, ctx->rest);
        return APR_SUCCESS;
    case AP_MODE_SPECULATIVE:
        rv = apr_brigade_partition(ctx->rest, readbytes, &end);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
            return rv;
        for (b = APR_BRIGADE_FIRST(ctx->rest); b != end; b = APR_BUCKET_NEXT(b)) {
            if ((rv = apr_bucket_copy(b, &copy)) != APR_SUCCESS)
                return rv;
            APR_BRIGADE_INSERT_TAIL(bb, copy);
        }
        return APR_SUCCESS;
    case AP_MODE_READBYTES:
        rv = apr_brigade_partition(ctx->rest, readbytes, &end);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE)
            return rv;
        /* the end of the body comes with its last bytes, as from HTTP_IN */
        if (end != APR_BRIGADE_SENTINEL(ctx->rest) && APR_BUCKET_IS_EOS(end))
            end = APR_BUCKET_NEXT(end);
        while ((b = APR_BRIGADE_FIRST(ctx->rest)) != end) {
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(bb, b);
        }
        return APR_SUCCESS;
    default:
        return APR_ENOTIMPL;
    }
}

static ap_filter_t *replay_filter_in(ap_filter_t *f)
{
    for (; f; f = f->next) {
        if (f->frec == replay_filter_handle)
            return f;
    }
    return NULL;
}

void mcp_body_inherit(request_rec *r)
{
    ap_filter_t *f;

    if (r->prev == NULL || replay_filter_in(r->input_filters))
        return;
    if ((f = replay_filter_in(r->prev->input_filters)) != NULL)
        ap_add_input_filter_handle(replay_filter_handle, f->ctx, r, r->connection);
}

/* The body of the client's request, kept with it once read. */
typedef struct kept_body {
    const char *data;
    apr_size_t len;
    int read;   /* as mcp_read_body answered */
} kept_body_t;

#define KEPT_BODY_KEY "mcp_auth.client_body"

request_rec *mcp_client_request(request_rec *r)
{
    while (r->main || r->prev)
        r = r->main ? r->main : r->prev;
    return r;
}

int mcp_read_client_body(request_rec *r, apr_size_t limit, const char **body, apr_size_t *len)
{
    request_rec *top = mcp_client_request(r);
    kept_body_t *kept = NULL;

    apr_pool_userdata_get((void **)&kept, KEPT_BODY_KEY, top->pool);
    if (kept == NULL) {
        kept = apr_pcalloc(top->pool, sizeof(*kept));
        kept->read = mcp_read_body(r, limit, &kept->data, &kept->len);
        apr_pool_userdata_setn(kept, KEPT_BODY_KEY, NULL, top->pool);
        /* the client's request too: a fast redirect (DirectoryIndex) hands
         * this request's filters to it, an internal redirect starts anew */
        if (kept->read > 0 && top != r)
            mcp_body_replay(top, kept->data, kept->len);
    }
    if (kept->read <= 0)
        return kept->read;
    if (kept->len > limit)
        return -1;
    if (!replay_filter_in(r->input_filters))
        mcp_body_replay(r, kept->data, kept->len);
    *body = kept->data;
    *len = kept->len;
    return 1;
}

void mcp_body_register(apr_pool_t *p)
{
    replay_filter_handle = ap_register_input_filter(REPLAY_FILTER, replay_filter, NULL, AP_FTYPE_RESOURCE);
}

int mcp_read_body(request_rec *r, apr_size_t limit, const char **body, apr_size_t *len)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    const char *declared = apr_table_get(r->headers_in, "Content-Length");
    apr_off_t length = 0;
    mcp_buffer_t buf = { NULL, 0, 0 };
    int seen_eos = 0;

    /* a body declared too large is refused unread; otherwise the buffer
     * grows with what comes, so a limit of megabytes costs nothing for
     * the usual small request */
    if (declared && (apr_strtoff(&length, declared, NULL, 10) != APR_SUCCESS || length < 0))
        return 0;
    if (declared && (apr_uint64_t)length > limit)
        return -1;
    mcp_buffer_reserve(r->pool, &buf, declared ? (apr_size_t)length : 0);

    do {
        apr_bucket *b;

        if (ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, 8192)
            != APR_SUCCESS)
            return 0;
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS)
                return 0;
            if (buf.len + n > limit)
                return -1;
            mcp_buffer_append(r->pool, &buf, data, n);
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);
    *body = buf.data;
    *len = buf.len;
    return 1;
}

void mcp_body_replay(request_rec *r, const char *body, apr_size_t len)
{
    replay_ctx_t *ctx = apr_pcalloc(r->pool, sizeof(*ctx));
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;

    ctx->rest = apr_brigade_create(r->pool, ba);
    if (len)
        APR_BRIGADE_INSERT_TAIL(ctx->rest, apr_bucket_immortal_create(body, len, ba));
    APR_BRIGADE_INSERT_TAIL(ctx->rest, apr_bucket_eos_create(ba));
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    apr_table_setn(r->headers_in, "Content-Length", apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, len));
    ap_add_input_filter_handle(replay_filter_handle, ctx, r, r->connection);
}

/* Parameters of a query or form body. A parameter given twice is refused
 * (RFC 6749 §3.1): *dup names it. */
apr_table_t *mcp_form_params(apr_pool_t *p, const char *text, const char **dup)
{
    apr_table_t *t = apr_table_make(p, 12);
    char *copy = apr_pstrdup(p, text ? text : ""), *pair, *state = NULL;

    *dup = NULL;
    for (pair = apr_strtok(copy, "&", &state); pair; pair = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(pair, '=');
        char *name = eq ? apr_pstrmemdup(p, pair, (apr_size_t)(eq - pair)) : pair;
        char *value = eq ? apr_pstrdup(p, eq + 1) : "";

        if (ap_unescape_urlencoded(name) != OK || ap_unescape_urlencoded(value) != OK)
            continue;
        if (apr_table_get(t, name))
            *dup = name;
        apr_table_setn(t, name, value);
    }
    return t;
}
