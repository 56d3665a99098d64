/* Endpoints that act for the IdP. They run as ordinary handlers, after
 * httpd's access control for their own path (<Location
 * /.well-known/mcp-auth/register> Require ip ... works), ahead of mod_proxy
 * so that ProxyPass / cannot take them. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mcp_facade.h"
#include "mcp_fetch.h"
#include "mcp_url.h"
#include "mcp_body.h"
#include "mcp_cors.h"
#include "mcp_endpoints.h"
#include "mcp_httpd.h"
#include "mcp_locations.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

/* Registration and token requests are small JSON or form documents. */
#define IDP_REQUEST_LIMIT (64 * 1024)

int mcp_gateway_is_issuer(const mcp_dir_conf_t *conf)
{
    return mcp_provider_of(conf) != MCP_PROVIDER_GENERIC || conf->client_id != NULL;
}

const char *mcp_authorization_server(request_rec *r, const mcp_dir_conf_t *conf)
{
    return mcp_gateway_is_issuer(conf) ? mcp_resource_of(r, conf) : conf->issuer;
}

int mcp_offers_registration(const mcp_dir_conf_t *conf)
{
    mcp_provider_t provider = mcp_provider_of(conf);

    return conf->client_id || provider == MCP_PROVIDER_KEYCLOAK || provider == MCP_PROVIDER_OKTA;
}

const char *mcp_endpoint_url(request_rec *r, const protected_location_t *pl, const char *name)
{
    return mcp_external_url(r, pl->conf, apr_pstrcat(r->pool, MCP_ENDPOINT_PREFIX "/", name,
                                                     mcp_published_path(r->pool, pl), NULL));
}

int mcp_idp_unavailable(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0030: IdP metadata unavailable: %s", why);
    apr_table_setn(r->headers_out, "Retry-After", "30");
    return mcp_send_oauth_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                                "the authorization server's metadata cannot be fetched right now");
}

/* X-Forwarded-For as mod_proxy writes it: what came in, then the client
 * httpd saw (after mod_remoteip, if configured), so that IdP policies by
 * client address see the client rather than the gateway. */
static const char *forwarded_for(request_rec *r)
{
    const char *in = apr_table_get(r->headers_in, "X-Forwarded-For");

    return in ? apr_pstrcat(r->pool, in, ", ", r->useragent_ip, NULL) : r->useragent_ip;
}

/* Passes a POST on to the IdP and its answer back, status and all. */
static int relay_post(request_rec *r, const mcp_dir_conf_t *conf, const char *url, const char *body,
                      apr_size_t len)
{
    mcp_doc_policy_t policy;
    mcp_post_t post;
    mcp_fetch_result_t res;
    const char *err;

    mcp_doc_policy_of(conf, &policy);
    post.url = url;
    post.content_type = apr_table_get(r->headers_in, "Content-Type");
    post.authorization = apr_table_get(r->headers_in, "Authorization"); /* initial access token */
    post.accept = "application/json";
    post.forwarded_for = forwarded_for(r);
    post.body = body;
    post.len = len;
    if (mcp_fetch_post(r->pool, &post, &policy.fetch, &res, &err) != APR_SUCCESS || res.status < 200) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0031: POST %s failed: %s",
                      mcp_url_redacted(r->pool, url), err);
        apr_table_setn(r->headers_out, "Retry-After", "30");
        return mcp_send_oauth_error(r, HTTP_BAD_GATEWAY, "temporarily_unavailable",
                          "the authorization server did not answer");
    }
    r->status = (int)res.status;
    ap_set_content_type(r, res.content_type ? res.content_type : "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)res.len);
    if (!r->header_only && res.len)
        ap_rwrite(res.body, (int)res.len, r);
    return OK;
}

static int read_idp_request(request_rec *r, const mcp_dir_conf_t *conf, const char **body,
                            apr_size_t *len)
{
    if (r->method_number != M_POST)
        return mcp_method_not_allowed(r, conf, "POST, OPTIONS");
    if (!mcp_read_body(r, IDP_REQUEST_LIMIT, body, len))
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    return OK;
}

static int serve_registration(request_rec *r, const protected_location_t *pl)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const mcp_discovery_t *d;
    const char *body, *err = NULL, *target;
    apr_size_t len;
    int rc;

    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, conf, 1, "POST, OPTIONS");
    mcp_cors_headers(r, conf, 1);
    if ((rc = read_idp_request(r, conf, &body, &len)) != OK)
        return rc;

    if (conf->client_id) {
        /* The IdP has no dynamic registration: hand out the pre-registered
         * client. Its consent screen is what protects users (MCP "Confused
         * Deputy Problem"). */
        char *resp = mcp_facade_local_registration(r->pool, body, len, conf->client_id,
                                                   (long)apr_time_sec(apr_time_now()), &err);
        if (resp == NULL)
            return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, err,
                              strcmp(err, "invalid_redirect_uri") == 0
                                  ? "redirect_uris must be a non-empty array of strings"
                                  : "the registration request is not a JSON object");
        return mcp_send_json(r, HTTP_CREATED, "no-store", resp);
    }
    d = mcp_idp_metadata(r, conf, &err);
    if (d == NULL)
        return mcp_idp_unavailable(r, err);
    target = d->registration_endpoint;
    if (target == NULL)
        return mcp_send_oauth_error(r, HTTP_NOT_FOUND, "invalid_request",
                          "the authorization server offers no dynamic client registration");
    return relay_post(r, conf, target, body, len);
}

/* ---- Entra: no RFC 8707 "resource" (AADSTS9010010) ---- */

static int serve_authorize(request_rec *r, const protected_location_t *pl)
{
    const mcp_discovery_t *d;
    const char *err = NULL, *target;

    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, pl->conf, 1, "GET, OPTIONS");
    if (r->method_number != M_GET)
        return mcp_method_not_allowed(r, pl->conf, "GET, OPTIONS");
    d = mcp_idp_metadata(r, pl->conf, &err);
    if (d == NULL)
        return mcp_idp_unavailable(r, err);
    target = d->authorization_endpoint;
    if (target == NULL)
        return mcp_idp_unavailable(r, "no authorization_endpoint");
    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, target, strchr(target, '?') ? "&" : "?",
                               mcp_form_without_resource(r->pool, r->args), NULL));
    return HTTP_MOVED_TEMPORARILY;
}

static int serve_token(request_rec *r, const protected_location_t *pl)
{
    const mcp_discovery_t *d;
    const char *body, *err = NULL, *target, *form;
    apr_size_t len;
    int rc;

    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, pl->conf, 1, "POST, OPTIONS");
    mcp_cors_headers(r, pl->conf, 1);
    if ((rc = read_idp_request(r, pl->conf, &body, &len)) != OK)
        return rc;
    d = mcp_idp_metadata(r, pl->conf, &err);
    if (d == NULL)
        return mcp_idp_unavailable(r, err);
    target = d->token_endpoint;
    if (target == NULL)
        return mcp_idp_unavailable(r, "no token_endpoint");
    form = mcp_form_without_resource(r->pool, body);
    return relay_post(r, pl->conf, target, form, strlen(form));
}

/* ---- routing ---- */

typedef int (*serve_fn)(request_rec *r, const protected_location_t *pl);

typedef struct endpoint {
    const char *name;
    serve_fn serve;
    int (*offered)(const mcp_dir_conf_t *conf);
} endpoint_t;

static int entra_only(const mcp_dir_conf_t *conf)
{
    return mcp_provider_of(conf) == MCP_PROVIDER_ENTRA;
}

static const endpoint_t endpoints[] = {
    { MCP_ENDPOINT_REGISTER, serve_registration, mcp_offers_registration },
    { MCP_ENDPOINT_AUTHORIZE, serve_authorize, entra_only },
    { MCP_ENDPOINT_TOKEN, serve_token, entra_only },
};

/* Which endpoint of which location r->uri names; NULL when none, or when
 * the location's provider does not use it. */
static const endpoint_t *endpoint_of(request_rec *r, const protected_location_t **pl)
{
    const char *rest;
    size_t i;

    if (r->uri == NULL || strncmp(r->uri, MCP_ENDPOINT_PREFIX "/", sizeof(MCP_ENDPOINT_PREFIX)) != 0)
        return NULL;
    rest = r->uri + sizeof(MCP_ENDPOINT_PREFIX);
    for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        apr_size_t n = strlen(endpoints[i].name);

        if (strncmp(rest, endpoints[i].name, n) != 0 || (rest[n] != '\0' && rest[n] != '/'))
            continue;
        *pl = mcp_find_protected(r, rest + n);
        return *pl && endpoints[i].offered((*pl)->conf) ? &endpoints[i] : NULL;
    }
    return NULL;
}

const protected_location_t *mcp_endpoint_request(request_rec *r)
{
    const protected_location_t *pl = NULL;

    /* the request itself, not an ErrorDocument redirect or a subrequest:
     * only that one the handler answers */
    if (r->main || r->prev)
        return NULL;
    return endpoint_of(r, &pl) ? pl : NULL;
}

int mcp_endpoint_handler(request_rec *r)
{
    const protected_location_t *pl = NULL;
    const endpoint_t *e;

    if (r->main || r->prev || (e = endpoint_of(r, &pl)) == NULL)
        return DECLINED;
    mcp_serve_as_location(r, pl);
    return e->serve(r, pl);
}
