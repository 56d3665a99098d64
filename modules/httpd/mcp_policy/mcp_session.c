/* Session ids sealed to their user: the client never sees the server's own
 * id, only that id sealed (mcp_seal, AES-256-GCM) with the caller, the site
 * and the location as associated data under the relay key. Nothing is
 * stored, so no cache eviction, restart or host of a fleet can forget a
 * binding, and a sealed id presented by anyone else does not open. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mcp_field.h"
#include "mcp_jsonrpc.h"
#include "mcp_seal.h"
#include "mcp_body.h"
#include "mcp_challenges.h"
#include "mcp_httpd.h"
#include "mcp_outcome.h"
#include "mcp_relay_key.h"
#include "mcp_metrics_page.h"
#include "mcp_respond.h"
#include "mcp_session.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

#define FILTER_NAME "MCP_AUTH_SESSION"
/* MCP 2025-11-25 basic/transports "Session Management" */
#define SESSION_HEADER "Mcp-Session-Id"
/* the SDK servers' answer to a session they do not have */
#define RPC_SESSION_NOT_FOUND (-32001)
/* the server's id as this request chain forwards it, once opened */
#define OPENED_KEY "mcp_auth.session_opened"
#define SEALED_NOTE "session_sealed.mcp_auth"

/* What a sealed id is bound to: the site and location that handed it out,
 * and the caller (issuer and subject; anonymous callers are one caller). */
static const char *binding_of(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt)
{
    const char *iss = jwt ? mcp_jwt_claim_string(r->pool, jwt, "iss") : NULL;
    const char *sub = jwt ? mcp_jwt_claim_string(r->pool, jwt, "sub") : NULL;

    return apr_psprintf(r->pool, "mcp-session\n%s\n%s\n%s\n%s", mcp_site_of(r),
                        conf->location ? conf->location : "", iss ? iss : "", sub ? sub : "");
}

static ap_filter_rec_t *session_filter_handle;

/* Whom the answer's session id is sealed to: worked out only for an
 * answer that carries one. */
typedef struct seal_ctx {
    const mcp_dir_conf_t *conf;
    const mcp_jwt_t *jwt;
} seal_ctx_t;

/* The server's answer hands its id out: the client gets it sealed. */
static apr_status_t session_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    seal_ctx_t *ctx = f->ctx;
    const char *binding = NULL;
    const unsigned char *key = mcp_relay_key();
    apr_table_t *tables[] = { f->r->headers_out, f->r->err_headers_out };
    size_t i;

    /* once: a fast redirect (DirectoryIndex) can leave two of these filters
     * on one answer */
    if (apr_table_get(f->r->notes, SEALED_NOTE))
        key = NULL;
    apr_table_setn(f->r->notes, SEALED_NOTE, "1");
    for (i = 0; key && i < sizeof(tables) / sizeof(tables[0]); i++) {
        const char *id = apr_table_get(tables[i], SESSION_HEADER), *sealed;

        if (id == NULL)
            continue;
        if (binding == NULL)
            binding = binding_of(f->r, ctx->conf, ctx->jwt);
        sealed = mcp_seal(f->r->pool, key, binding, id, strlen(id));
        if (sealed)
            apr_table_setn(tables[i], SESSION_HEADER, sealed);
        else
            apr_table_unset(tables[i], SESSION_HEADER); /* never the server's own id */
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

typedef struct lookalikes {
    apr_pool_t *pool;
    apr_array_header_t *names; /* made for the first one found */
} lookalikes_t;

/* The cheap test first: most names differ from it in their first letter. */
static int collect_lookalike(void *data, const char *key, const char *value)
{
    lookalikes_t *found = data;

    if (mcp_field_names_alike(key, SESSION_HEADER) && strcasecmp(key, SESSION_HEADER) != 0) {
        if (found->names == NULL)
            found->names = apr_array_make(found->pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(found->names, const char *) = key;
    }
    return 1;
}

/* Mcp_Session_Id and its kin: a backend that folds names would take one
 * for the session id, unopened. */
static void drop_lookalikes(request_rec *r)
{
    lookalikes_t found = { r->pool, NULL };
    int i;

    apr_table_do(collect_lookalike, &found, r->headers_in, NULL);
    for (i = 0; found.names && i < found.names->nelts; i++)
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(found.names, i, const char *));
}

int mcp_session_check(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt)
{
    const char *presented = apr_table_get(r->headers_in, SESSION_HEADER), *opened = NULL, *id;
    const unsigned char *key = mcp_relay_key();
    request_rec *top;
    seal_ctx_t *ctx;
    apr_size_t len;

    if (!mcp_binds_sessions(conf) || key == NULL)
        return DECLINED;
    drop_lookalikes(r);
    if (r->main)
        drop_lookalikes(mcp_client_request(r)); /* what a fast redirect forwards */
    /* every answer: a server may repeat the id on any of them */
    ctx = apr_palloc(r->pool, sizeof(*ctx));
    ctx->conf = conf;
    ctx->jwt = jwt;
    ap_add_output_filter_handle(session_filter_handle, ctx, r, r->connection);
    if (presented == NULL)
        return DECLINED;
    top = mcp_client_request(r);
    /* an internal redirect shares the headers an earlier request opened */
    apr_pool_userdata_get((void **)&opened, OPENED_KEY, top->pool);
    if (opened && strcmp(opened, presented) == 0)
        return DECLINED;
    id = mcp_unseal(r->pool, key, binding_of(r, conf, jwt), presented, &len);
    if (id == NULL || len != strlen(id)) {
        mcp_relay_key_explain(r, presented);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "MCPAUTH0054: %s presented an Mcp-Session-Id not handed to them here: refused",
                      mcp_loggable(r, jwt ? mcp_jwt_claim_string(r->pool, jwt, "sub") : "anonymous"));
        ap_custom_response(r, HTTP_NOT_FOUND, (char *)mcp_rpc_error(r->pool, NULL, RPC_SESSION_NOT_FOUND,
                                                                    "Session not found"));
        apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
        mcp_metrics_refused(mcp_metrics_slot_of(conf), MCP_REFUSAL_SESSION);
        mcp_outcome_set(r, MCP_REFUSED, "session");
        return HTTP_NOT_FOUND;
    }
    /* the server gets its own id back; a subrequest's headers are a copy,
     * and the client's request is what a fast redirect forwards */
    apr_table_setn(r->headers_in, SESSION_HEADER, id);
    apr_table_setn(top->headers_in, SESSION_HEADER, id);
    apr_pool_userdata_setn(id, OPENED_KEY, NULL, top->pool);
    return DECLINED;
}

int mcp_session_binding_in_use(const apr_array_header_t *protected)
{
    int i;

    for (i = 0; i < protected->nelts; i++)
        if (mcp_binds_sessions(APR_ARRAY_IDX(protected, i, protected_location_t).conf))
            return 1;
    return 0;
}

void mcp_session_register(apr_pool_t *p)
{
    session_filter_handle = ap_register_output_filter(FILTER_NAME, session_filter, NULL, AP_FTYPE_CONTENT_SET);
}
