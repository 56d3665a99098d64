#include <string.h>
#include <strings.h>

#include <apr_buckets.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mcp_presentation.h"

#define REPLAY_FILTER "MCP_AUTH_FORM_REPLAY"

typedef struct replay_ctx {
    const char *body;
    apr_size_t len;
    int done;
} replay_ctx_t;

/* Hands the (token-free) body to whoever reads the request next, mod_proxy
 * usually. The original body was read to its end already. */
static apr_status_t replay_filter(ap_filter_t *f, apr_bucket_brigade *bb, ap_input_mode_t mode,
                                  apr_read_type_e block, apr_off_t readbytes)
{
    replay_ctx_t *ctx = f->ctx;
    apr_bucket_alloc_t *ba = f->c->bucket_alloc;

    if (mode != AP_MODE_READBYTES && mode != AP_MODE_GETLINE)
        return APR_ENOTIMPL;
    if (!ctx->done) {
        if (ctx->len)
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create(ctx->body, ctx->len, ba));
        ctx->done = 1;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    return APR_SUCCESS;
}

void mcp_presentation_register(apr_pool_t *p)
{
    ap_register_input_filter(REPLAY_FILTER, replay_filter, NULL, AP_FTYPE_RESOURCE);
}

/* RFC 6750 §2.2: only a single-part form body on a method with body
 * semantics counts; a JSON MCP request body is never touched. */
static int is_form_request(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t n = sizeof("application/x-www-form-urlencoded") - 1;

    if (r->method_number == M_GET || r->method_number == M_OPTIONS || r->header_only)
        return 0;
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

int mcp_read_body(request_rec *r, apr_size_t limit, const char **body, apr_size_t *len)
{
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    char *buf = apr_palloc(r->pool, limit + 1);
    apr_size_t got = 0;
    int seen_eos = 0;

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
            if (got + n > limit)
                return 0;
            memcpy(buf + got, data, n);
            got += n;
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);
    buf[got] = '\0';
    *body = buf;
    *len = got;
    return 1;
}

static void replay_body(request_rec *r, const char *body)
{
    replay_ctx_t *ctx = apr_pcalloc(r->pool, sizeof(*ctx));

    ctx->body = body;
    ctx->len = strlen(body);
    apr_table_unset(r->headers_in, "Transfer-Encoding");
    apr_table_setn(r->headers_in, "Content-Length", apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, ctx->len));
    ap_add_input_filter(REPLAY_FILTER, ctx, r, r->connection);
}

static void set_malformed(mcp_presented_t *out, const char *why)
{
    out->result = MCP_TOKEN_MALFORMED;
    out->why = why;
    out->token = NULL;
    out->len = 0;
}

/* One token more from some method: the first one found is kept. */
static void add_found(mcp_presented_t *out, const char *token, apr_size_t len)
{
    if (out->result == MCP_TOKEN_MALFORMED)
        return;
    if (out->result == MCP_TOKEN_PRESENT) {
        set_malformed(out, "token presented by more than one method");
        return;
    }
    out->result = MCP_TOKEN_PRESENT;
    out->token = token;
    out->len = len;
}

static void from_form(request_rec *r, const char *form, apr_size_t len, mcp_presented_t *out,
                      const char **rest)
{
    const char *token;
    int n = mcp_token_from_form(r->pool, form, len, &token, rest);

    if (n == 0)
        return;
    if (n > 1)
        set_malformed(out, "access_token parameter repeated");
    else if (!mcp_token_is_b64token(token))
        set_malformed(out, "access_token is not a b64token");
    else
        add_found(out, token, strlen(token));
}

void mcp_find_token(request_rec *r, int methods, mcp_presented_t *out)
{
    const char *rest;

    memset(out, 0, sizeof(*out));
    out->result = MCP_TOKEN_ABSENT;

    if (methods & MCP_BEARER_HEADER) {
        const char *header = apr_table_get(r->headers_in, "Authorization");
        const char *token, *why;
        unsigned long len;

        switch (mcp_token_from_authorization(header, &token, &len, &why)) {
        case MCP_TOKEN_PRESENT:
            add_found(out, apr_pstrmemdup(r->pool, token, len), len);
            apr_table_unset(r->headers_in, "Authorization");
            break;
        case MCP_TOKEN_MALFORMED:
            set_malformed(out, why);
            apr_table_unset(r->headers_in, "Authorization");
            break;
        case MCP_TOKEN_ABSENT:
            break;
        }
    }

    if ((methods & MCP_BEARER_QUERY) && r->args) {
        rest = NULL;
        from_form(r, r->args, strlen(r->args), out, &rest);
        if (rest) {
            /* what mod_proxy forwards is rebuilt from r->args */
            r->args = *rest ? apr_pstrdup(r->pool, rest) : NULL;
            r->parsed_uri.query = r->args;
            r->unparsed_uri = apr_pstrcat(r->pool, r->uri, r->args ? "?" : "", r->args ? r->args : "",
                                          NULL);
        }
    }

    if ((methods & MCP_BEARER_BODY) && r->main == NULL && r->prev == NULL && is_form_request(r)) {
        const char *body;
        apr_size_t len;

        if (!mcp_read_body(r, MCP_FORM_BODY_LIMIT, &body, &len)) {
            set_malformed(out, "form body unreadable or too large");
            return;
        }
        rest = NULL;
        from_form(r, body, len, out, &rest);
        replay_body(r, rest ? rest : body);
    }
}
