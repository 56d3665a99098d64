/* Every refusal of a protected location carries a challenge that lets a
 * client find the authorization server and ask for the right scopes. */

#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_protocol.h>
#include <mod_core.h>

#include "mcp_challenge.h"
#include "mcp_dpop.h"
#include "mcp_scope.h"
#include "mcp_challenges.h"
#include "mcp_urls.h"

/* The scopes the location requires, else the ones it supports. */
static const char *scopes_of(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char *all = "";
    int i;

    for (i = 0; conf->scope_rules && i < conf->scope_rules->nelts; i++)
        all = mcp_scope_list_add(r->pool, all, APR_ARRAY_IDX(conf->scope_rules, i, const apr_array_header_t *));
    if (*all)
        return all;
    if (conf->scopes_supported == NULL)
        return NULL;
    return apr_array_pstrcat(r->pool, conf->scopes_supported, ' ');
}

/* The DPoP side of a challenge (RFC 9449 §7.1): offered where the location
 * takes DPoP-bound tokens; the error goes to the scheme the client used. */
static void with_dpop(request_rec *r, const mcp_dir_conf_t *conf, mcp_challenge_t *c)
{
    int dpop = mcp_dpop_of(conf);

    c->dpop_algs = dpop != MCP_DPOP_OFF ? mcp_dpop_algs() : NULL;
    c->no_bearer = dpop == MCP_DPOP_REQUIRED;
    c->error_in_dpop = apr_table_get(r->notes, MCP_NOTE_DPOP_PRESENTED) != NULL;
}

static int deny_with_scope(request_rec *r, const mcp_dir_conf_t *conf, int status, const char *error,
                           const char *description, const char *scope)
{
    mcp_challenge_t c;

    with_dpop(r, conf, &c);
    c.resource_metadata = mcp_prm_url(r, conf);
    c.error = error;
    c.description = description;
    c.scope = scope;
    apr_table_setn(r->err_headers_out,
                   (PROXYREQ_PROXY == r->proxyreq) ? "Proxy-Authenticate" : "WWW-Authenticate",
                   mcp_challenge_header(r->pool, &c));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    /* An ErrorDocument the administrator configured keeps precedence. */
    if (ap_response_code_string(r, ap_index_of_response(status)) == NULL) {
        ap_custom_response(r, status, mcp_challenge_body(r->pool, &c));
        apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    }
    return status;
}

int mcp_deny(request_rec *r, const mcp_dir_conf_t *conf, int status, const char *error,
             const char *description)
{
    return deny_with_scope(r, conf, status, error, description, scopes_of(r, conf));
}

int mcp_deny_insufficient_scope(request_rec *r, const mcp_dir_conf_t *conf, const char *needed)
{
    return deny_with_scope(r, conf, HTTP_FORBIDDEN, "insufficient_scope", "the token lacks a required scope", needed);
}

void mcp_challenge_insufficient_scope(request_rec *r, const mcp_dir_conf_t *conf,
                                      const char *needed)
{
    mcp_challenge_t c;
    int idx = ap_index_of_response(r->status);

    with_dpop(r, conf, &c);
    c.resource_metadata = mcp_prm_url(r, conf);
    c.error = "insufficient_scope";
    c.description = "the token lacks a required scope";
    c.scope = needed;
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", mcp_challenge_header(r->pool, &c));
    if (ap_response_code_string(r, idx) == NULL || apr_table_get(r->notes, MCP_NOTE_JSON_ERROR)) {
        /* the body is looked up by the status httpd started with */
        ap_custom_response(r, r->status, mcp_challenge_body(r->pool, &c));
        apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    }
    r->status = HTTP_FORBIDDEN;
    r->status_line = NULL;
}

void mcp_challenge_metadata_only(request_rec *r, const mcp_dir_conf_t *conf)
{
    mcp_challenge_t c = { mcp_prm_url(r, conf), NULL, NULL, NULL };

    with_dpop(r, conf, &c);
    apr_table_setn(r->err_headers_out, "WWW-Authenticate", mcp_challenge_header(r->pool, &c));
}
