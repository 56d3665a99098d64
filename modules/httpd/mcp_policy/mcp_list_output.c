/* List answers filtered on their way to the client: a JSON body is read
 * whole (it is one answer) and rewritten only if something goes; an SSE
 * stream goes on streaming, event by event. */

#include <string.h>
#include <strings.h>

#include <apr_buckets.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mcp_buffer.h"
#include "mcp_field.h"
#include "mcp_jsonrpc.h"
#include "mcp_listfilter.h"
#include "mcp_policy.h"
#include "mcp_httpd.h"
#include "mcp_list_output.h"

APLOG_USE_MODULE(mcp_auth);

#define FILTER_NAME "MCP_AUTH_LIST"
static ap_filter_rec_t *list_filter_handle; /* added by registration, not by name */
/* a list answer larger than this is not passed on unfiltered */
#define MAX_LIST_ANSWER (16 * 1024 * 1024)

typedef enum { MODE_UNDECIDED, MODE_JSON, MODE_SSE, MODE_BLOCK } mode_e;

/* What the client gets for an answer that could not be filtered. */
static const char unfilterable[] =
    "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"the gateway could not filter this list\"}}";

typedef struct list_ctx {
    const mcp_dir_conf_t *conf;
    const mcp_jwt_t *jwt;
    request_rec *r;
    int lists_asked;        /* the request asked for a list: its answer must be one we read */
    mcp_listfilter_t lf;
    mode_e mode;
    apr_bucket_brigade *out;
    mcp_sse_filter_t *sse;
    mcp_buffer_t json;      /* a JSON answer, held whole */
} list_ctx_t;

static int visible(void *data, mcp_kind_t kind, const char *name)
{
    list_ctx_t *ctx = data;
    const mcp_rule_t *rule;
    const char *scopes;

    return mcp_policy_decide(ctx->r->pool, ctx->conf->mcp_rules, ctx->conf->default_deny == 1, kind, name, ctx->jwt,
                             &rule, &scopes) == MCP_VERDICT_ALLOW;
}

static int concerns(void *data, mcp_kind_t kind)
{
    list_ctx_t *ctx = data;

    return ctx->conf->default_deny == 1 || mcp_policy_has_kind(ctx->conf->mcp_rules, kind);
}

static void emit(void *data, const char *bytes, apr_size_t len)
{
    list_ctx_t *ctx = data;

    apr_brigade_write(ctx->out, NULL, NULL, bytes, len);
}

/* An answer that cannot be filtered is replaced (its headers are not sent
 * yet: JSON is held whole, and this is decided before any SSE byte). */
static void block(list_ctx_t *ctx)
{
    ctx->mode = MODE_BLOCK;
    ctx->r->status = HTTP_BAD_GATEWAY;
    apr_table_unset(ctx->r->headers_out, "Content-Encoding");
    ap_set_content_type(ctx->r, "application/json");
}

/* Whether type's charset, if it names one, is what the filter reads (JSON
 * and SSE are UTF-8; a client told otherwise would decode other text than
 * the one filtered). */
static int utf8_or_none(const char *type)
{
    const char *cs = type ? ap_strcasestr(type, "charset=") : NULL;

    if (cs == NULL)
        return 1;
    cs += 8;
    if (*cs == '"')
        cs++;
    return strncasecmp(cs, "utf-8", 5) == 0 || strncasecmp(cs, "utf8", 4) == 0 || strncasecmp(cs, "us-ascii", 8) == 0;
}

/* What the answer is, decided on its first bytes: its headers are final. */
static void decide(ap_filter_t *f, list_ctx_t *ctx)
{
    request_rec *r = f->r;
    const char *encoding = apr_table_get(r->headers_out, "Content-Encoding");

    if (!utf8_or_none(r->content_type)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0052: an MCP answer as %s: not passed on unfiltered",
                      r->content_type);
        block(ctx);
    }
    else if (encoding && strcasecmp(encoding, "identity") != 0) {
        /* asked for none; an answer that cannot be read is not passed on */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0052: the MCP server answered a list request with "
                      "Content-Encoding %s: not passed on unfiltered", encoding);
        block(ctx);
    }
    else if (mcp_media_type_is(r->content_type, "application/json")) {
        ctx->mode = MODE_JSON;
    }
    else if (mcp_media_type_is(r->content_type, "text/event-stream")) {
        ctx->mode = MODE_SSE;
        ctx->sse = mcp_sse_filter_create(r->pool, &ctx->lf, MAX_LIST_ANSWER, emit, ctx);
    }
    else if (ctx->lists_asked && r->status >= 200 && r->status < 300) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0052: the MCP server answered a list request as %s: "
                      "not passed on unfiltered", r->content_type ? r->content_type : "(no type)");
        block(ctx);
    }
    else {
        ap_remove_output_filter(f);
        return;
    }
    apr_table_unset(r->headers_out, "Content-Length");
    ctx->out = apr_brigade_create(r->pool, r->connection->bucket_alloc);
}

static void keep_json(list_ctx_t *ctx, const char *data, apr_size_t n)
{
    if (ctx->json.len + n > MAX_LIST_ANSWER) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, ctx->r, "MCPAUTH0052: a list answer over %d bytes: not passed on "
                      "unfiltered", MAX_LIST_ANSWER);
        block(ctx);
        return;
    }
    mcp_buffer_append(ctx->r->pool, &ctx->json, data, n);
}

static apr_status_t list_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    list_ctx_t *ctx = f->ctx;
    apr_bucket *b;
    int eos = 0;

    if (ctx->mode == MODE_UNDECIDED) {
        decide(f, ctx);
        if (ctx->mode == MODE_UNDECIDED)
            return ap_pass_brigade(f->next, bb);
    }
    while (!APR_BRIGADE_EMPTY(bb)) {
        const char *data;
        apr_size_t n;

        b = APR_BRIGADE_FIRST(bb);
        if (APR_BUCKET_IS_EOS(b)) {
            eos = 1;
            break;
        }
        if (APR_BUCKET_IS_METADATA(b)) {
            /* a flush of an SSE stream goes on after what came before it */
            APR_BUCKET_REMOVE(b);
            if (ctx->mode == MODE_SSE)
                APR_BRIGADE_INSERT_TAIL(ctx->out, b);
            else
                apr_bucket_destroy(b);
            continue;
        }
        if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
            /* the stream is cut here rather than passed on unread */
            ctx->mode = MODE_BLOCK;
            n = 0;
        }
        if (ctx->mode == MODE_SSE)
            mcp_sse_filter_feed(ctx->sse, data, n);
        else if (ctx->mode == MODE_JSON)
            keep_json(ctx, data, n);
        apr_bucket_delete(b);
    }
    if (eos) {
        if (ctx->mode == MODE_SSE) {
            mcp_sse_filter_finish(ctx->sse);
        }
        else if (ctx->mode == MODE_JSON) {
            apr_size_t len = 0;
            int unreadable = 0;
            char *filtered = mcp_listfilter_json(f->r->pool, &ctx->lf, ctx->json.data ? ctx->json.data : "",
                                                 ctx->json.len, &len, &unreadable);

            if (filtered) {
                apr_brigade_write(ctx->out, NULL, NULL, filtered, len);
            }
            else if (unreadable && ctx->json.len && f->r->status >= 200 && f->r->status < 300) {
                ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, f->r, "MCPAUTH0052: a JSON answer that does not read "
                              "one way: not passed on unfiltered");
                block(ctx);
                apr_brigade_write(ctx->out, NULL, NULL, unfilterable, sizeof(unfilterable) - 1);
            }
            else if (ctx->json.len) {
                apr_brigade_write(ctx->out, NULL, NULL, ctx->json.data, ctx->json.len);
            }
        }
        else if (ctx->mode == MODE_BLOCK && ctx->r->status == HTTP_BAD_GATEWAY) {
            apr_brigade_write(ctx->out, NULL, NULL, unfilterable, sizeof(unfilterable) - 1);
        }
        APR_BRIGADE_CONCAT(ctx->out, bb); /* the EOS and whatever follows */
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, ctx->out);
    }
    if (ctx->mode == MODE_SSE && !APR_BRIGADE_EMPTY(ctx->out)) {
        /* streamed: what is judged goes now */
        apr_status_t rv = ap_pass_brigade(f->next, ctx->out);

        apr_brigade_cleanup(ctx->out);
        return rv;
    }
    return APR_SUCCESS;
}

void mcp_list_output_add(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt, int lists_asked)
{
    list_ctx_t *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

    ctx->conf = conf;
    ctx->jwt = jwt;
    ctx->r = r;
    ctx->lists_asked = lists_asked;
    ctx->lf.visible = visible;
    ctx->lf.concerns = concerns;
    ctx->lf.ctx = ctx;
    /* the answer must be readable here */
    apr_table_unset(r->headers_in, "Accept-Encoding");
    ap_add_output_filter_handle(list_filter_handle, ctx, r, r->connection);
}

void mcp_list_output_register(apr_pool_t *p)
{
    list_filter_handle = ap_register_output_filter(FILTER_NAME, list_filter, NULL, AP_FTYPE_CONTENT_SET);
}
