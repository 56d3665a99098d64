/* Session ids bound to their user in the shared cache, so every process and
 * every host of a fleet holds the same binding. The binding is made when the
 * server's answer hands the id out (MCP 2025-11-25 basic/transports "Session
 * Management"), or, for one the gateway never saw handed out (a binding
 * evicted, a cache emptied), by the first caller that presents it. */

#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mcp_cache.h"
#include "mcp_jsonrpc.h"
#include "mcp_challenges.h"
#include "mcp_httpd.h"
#include "mcp_respond.h"
#include "mcp_session.h"
#include "mcp_shared_cache.h"

APLOG_USE_MODULE(mcp_auth);

#define FILTER_NAME "MCP_AUTH_SESSION"
#define SESSION_HEADER "Mcp-Session-Id"
/* a binding outlives any idle session a server keeps */
#define BINDING_LIFETIME apr_time_from_sec(7 * 24 * 3600)
/* MCP 2025-11-25: the SDK servers' answer to a session they do not have */
#define RPC_SESSION_NOT_FOUND (-32001)

typedef struct binding {
    const char *key;        /* cache id of the session */
    const char *owner;      /* cache id of the caller */
} binding_t;

/* Who the caller is, as a fixed-size id: issuer and subject (anonymous
 * callers are one caller). */
static const char *owner_of(request_rec *r, const mcp_jwt_t *jwt)
{
    const char *iss = jwt ? mcp_jwt_claim_string(r->pool, jwt, "iss") : NULL;
    const char *sub = jwt ? mcp_jwt_claim_string(r->pool, jwt, "sub") : NULL;

    return mcp_cache_id(r->pool, "session-owner", apr_pstrcat(r->pool, iss ? iss : "", "\n", sub ? sub : "", NULL));
}

/* Sessions are the backend's: the same id at another location is another
 * session. */
static const char *session_key(request_rec *r, const mcp_dir_conf_t *conf, const char *id)
{
    return mcp_cache_id(r->pool, "session",
                        apr_pstrcat(r->pool, r->server->server_hostname ? r->server->server_hostname : "", "\n",
                                    conf->location ? conf->location : "", "\n", id, NULL));
}

static void store_binding(request_rec *r, const binding_t *b)
{
    mcp_cache_t *cache = mcp_shared_cache();

    if (cache == NULL || mcp_cache_put(cache, b->key, apr_time_now() + BINDING_LIFETIME,
                                       (const unsigned char *)b->owner, strlen(b->owner), r->pool) != APR_SUCCESS)
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0055: could not store a session binding");
}

/* Sees the server's answer before its first byte goes: the id it hands out
 * is bound to the caller who asked. */
static apr_status_t session_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    binding_t *b = f->ctx;
    const char *id = apr_table_get(f->r->headers_out, SESSION_HEADER);

    if (id == NULL)
        id = apr_table_get(f->r->err_headers_out, SESSION_HEADER);
    if (id && *id) {
        const mcp_dir_conf_t *conf = mcp_conf_of(f->r);

        b->key = session_key(f->r, conf, id);
        store_binding(f->r, b);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

int mcp_session_check(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt)
{
    const char *id = apr_table_get(r->headers_in, SESSION_HEADER);
    mcp_cache_t *cache = mcp_shared_cache();
    binding_t *b;
    unsigned char *held;
    apr_size_t len;

    if (!mcp_binds_sessions(conf) || cache == NULL)
        return DECLINED;
    b = apr_pcalloc(r->pool, sizeof(*b));
    b->owner = owner_of(r, jwt);
    if (id == NULL) {
        ap_add_output_filter(FILTER_NAME, b, r, r->connection);
        return DECLINED;
    }
    b->key = session_key(r, conf, id);
    if (mcp_cache_get(cache, b->key, 256, r->pool, &held, &len) != APR_SUCCESS) {
        store_binding(r, b);
        return DECLINED;
    }
    if (len == strlen(b->owner) && memcmp(held, b->owner, len) == 0)
        return DECLINED;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "MCPAUTH0054: %s presented an Mcp-Session-Id handed to another user: refused",
                  mcp_loggable(r, jwt ? mcp_jwt_claim_string(r->pool, jwt, "sub") : "anonymous"));
    ap_custom_response(r, HTTP_NOT_FOUND, (char *)mcp_rpc_error(r->pool, NULL, RPC_SESSION_NOT_FOUND,
                                                                "Session not found"));
    apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    return HTTP_NOT_FOUND;
}

void mcp_session_register(apr_pool_t *p)
{
    ap_register_output_filter(FILTER_NAME, session_filter, NULL, AP_FTYPE_CONTENT_SET);
}
