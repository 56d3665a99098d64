/* The well-known endpoints the gateway answers for MCP clients: protected
 * resource metadata (RFC 9728), the authorization-server metadata facade
 * (RFC 8414, OpenID Connect Discovery), client registration (RFC 7591)
 * proxied or local, and Entra's authorize/token shims. All of them are
 * public by nature and answered from the quick handler: before ProxyPass
 * claims the URL and before any authentication. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <jansson.h>

#include "mcp_facade.h"
#include "mcp_fetch.h"
#include "mcp_metadata.h"
#include "mcp_token.h"
#include "mcp_body.h"
#include "mcp_cors.h"
#include "mcp_httpd.h"
#include "mcp_locations.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_urls.h"
#include "mcp_wellknown.h"

APLOG_USE_MODULE(mcp_auth);

#define MCP_ENDPOINT_PREFIX "/.well-known/mcp-auth"
#define AS_METADATA "/.well-known/oauth-authorization-server"
#define OIDC_METADATA "/.well-known/openid-configuration"
#define REGISTER_PATH MCP_ENDPOINT_PREFIX "/register"
#define AUTHORIZE_PATH MCP_ENDPOINT_PREFIX "/authorize"
#define TOKEN_PATH MCP_ENDPOINT_PREFIX "/token"

/* Registration and token requests are small JSON or form documents. */
#define IDP_REQUEST_LIMIT (64 * 1024)

/* ---- facade ---- */

/* When the gateway changes any endpoint, it must also be the issuer the
 * client sees, or a strict client rejects the metadata (RFC 8414 §3.3). */
static int rewrites_issuer(const mcp_dir_conf_t *conf)
{
    return (conf->provider != PROVIDER_UNSET && conf->provider != MCP_PROVIDER_GENERIC)
           || conf->client_id != NULL;
}

static const char *authorization_server(request_rec *r, const mcp_dir_conf_t *conf)
{
    return rewrites_issuer(conf) ? mcp_resource_of(r, conf) : conf->issuer;
}

static const char *endpoint_url(request_rec *r, const mcp_dir_conf_t *conf, const char *which,
                                const protected_location_t *pl)
{
    return mcp_external_url(r, conf, apr_pstrcat(r->pool, which, mcp_published_path(r->pool, pl), NULL));
}

static int idp_unavailable(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0030: IdP metadata unavailable: %s", why);
    apr_table_setn(r->headers_out, "Retry-After", "30");
    return mcp_send_oauth_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable",
                      "the authorization server's metadata cannot be fetched right now");
}

static int serve_facade(request_rec *r, const protected_location_t *pl)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const mcp_discovery_t *d;
    mcp_facade_t f;
    const char *err = NULL;
    char *body;

    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, conf, 1, "GET, OPTIONS");
    if (r->method_number != M_GET)
        return mcp_method_not_allowed(r, conf, "GET, OPTIONS");
    mcp_cors_headers(r, conf, 1);
    d = mcp_idp_metadata(r, conf, &err);
    if (d == NULL)
        return idp_unavailable(r, err);

    memset(&f, 0, sizeof(f));
    f.provider = mcp_provider_of(conf);
    f.resource = mcp_resource_of(r, conf);
    if (rewrites_issuer(conf))
        f.issuer = authorization_server(r, conf);
    if (conf->client_id || f.provider == MCP_PROVIDER_KEYCLOAK || f.provider == MCP_PROVIDER_OKTA)
        f.registration_endpoint = endpoint_url(r, conf, REGISTER_PATH, pl);
    if (f.provider == MCP_PROVIDER_ENTRA) {
        f.authorization_endpoint = endpoint_url(r, conf, AUTHORIZE_PATH, pl);
        f.token_endpoint = endpoint_url(r, conf, TOKEN_PATH, pl);
    }
    body = mcp_facade_metadata(r->pool, d->json, &f, &err);
    if (body == NULL)
        return idp_unavailable(r, err);
    return mcp_send_json(r, HTTP_OK, "public, max-age=300", body);
}

/* ---- registration ---- */

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
    post.body = body;
    post.len = len;
    if (mcp_fetch_post(r->pool, &post, &policy.fetch, &res, &err) != APR_SUCCESS || res.status < 200) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0031: POST %s failed: %s", url, err);
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
        return idp_unavailable(r, err);
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
        return idp_unavailable(r, err);
    target = d->authorization_endpoint;
    if (target == NULL)
        return idp_unavailable(r, "no authorization_endpoint");
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
        return idp_unavailable(r, err);
    target = d->token_endpoint;
    if (target == NULL)
        return idp_unavailable(r, "no token_endpoint");
    form = mcp_form_without_resource(r->pool, body);
    return relay_post(r, pl->conf, target, form, strlen(form));
}

/* ---- routing ---- */

/* The location a well-known suffix names, or NULL. */
static const protected_location_t *after(request_rec *r, const char *prefix)
{
    apr_size_t n = strlen(prefix);

    if (strncmp(r->uri, prefix, n) != 0 || (r->uri[n] != '\0' && r->uri[n] != '/'))
        return NULL;
    return mcp_find_protected(r, r->uri + n);
}

typedef int (*serve_fn)(request_rec *r, const protected_location_t *pl);

static int answer(request_rec *r, const protected_location_t *pl, serve_fn serve)
{
    mcp_serve_as_location(r, pl);
    return serve(r, pl);
}

static int other_endpoints(request_rec *r)
{
    const protected_location_t *pl;
    apr_size_t len = strlen(r->uri), oidc_len = sizeof(OIDC_METADATA) - 1;

    if (strncmp(r->uri, "/.well-known/", 13) != 0 && (len <= oidc_len
        || strcmp(r->uri + len - oidc_len, OIDC_METADATA) != 0))
        return DECLINED;

    /* RFC 8414 §3.1 path-inserted forms, and the root form for 2025-03-26
     * clients when the host protects one location */
    if ((pl = after(r, AS_METADATA)) != NULL)
        return answer(r, pl, serve_facade);
    if ((pl = after(r, OIDC_METADATA)) != NULL && r->uri[oidc_len] == '/')
        return answer(r, pl, serve_facade);
    /* OpenID Connect's path-appended form */
    if (len > oidc_len && strcmp(r->uri + len - oidc_len, OIDC_METADATA) == 0) {
        const char *prefix = apr_pstrmemdup(r->pool, r->uri, len - oidc_len);

        if (*prefix && (pl = mcp_find_protected(r, prefix)) != NULL)
            return answer(r, pl, serve_facade);
        return DECLINED;
    }
    if ((pl = after(r, REGISTER_PATH)) != NULL)
        return answer(r, pl, serve_registration);
    if ((pl = after(r, AUTHORIZE_PATH)) != NULL && pl->conf->provider == MCP_PROVIDER_ENTRA)
        return answer(r, pl, serve_authorize);
    if ((pl = after(r, TOKEN_PATH)) != NULL && pl->conf->provider == MCP_PROVIDER_ENTRA)
        return answer(r, pl, serve_token);
    return DECLINED;
}

/* ---- protected resource metadata, and the entry from the quick handler ---- */

static const apr_array_header_t *bearer_method_names(apr_pool_t *p, int methods)
{
    apr_array_header_t *names = apr_array_make(p, 3, sizeof(const char *));

    if (methods & MCP_BEARER_HEADER)
        APR_ARRAY_PUSH(names, const char *) = "header";
    if (methods & MCP_BEARER_BODY)
        APR_ARRAY_PUSH(names, const char *) = "body";
    if (methods & MCP_BEARER_QUERY)
        APR_ARRAY_PUSH(names, const char *) = "query";
    return names;
}

/* Served from the quick handler: before ProxyPass claims the URL and before
 * any authentication, since the document is public by design. */
int mcp_wellknown_handler(request_rec *r, int lookup_uri)
{
    const protected_location_t *pl;
    const mcp_dir_conf_t *conf;
    apr_array_header_t *servers;
    mcp_prm_t prm;
    const char *body;

    if (lookup_uri)
        return DECLINED;
    if (strncmp(r->uri, MCP_PRM_PREFIX, sizeof(MCP_PRM_PREFIX) - 1) != 0
        || (r->uri[sizeof(MCP_PRM_PREFIX) - 1] != '\0' && r->uri[sizeof(MCP_PRM_PREFIX) - 1] != '/'))
        return other_endpoints(r);
    pl = mcp_find_protected(r, r->uri + sizeof(MCP_PRM_PREFIX) - 1);
    if (pl == NULL)
        return DECLINED;
    mcp_serve_as_location(r, pl);
    conf = pl->conf;

    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, conf, 1, "GET, OPTIONS");
    mcp_cors_headers(r, conf, 1);
    if (r->method_number != M_GET)
        return mcp_method_not_allowed(r, conf, "GET, OPTIONS");

    servers = apr_array_make(r->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(servers, const char *) = authorization_server(r, conf);
    prm.resource = mcp_resource_of(r, conf);
    prm.authorization_servers = servers;
    prm.scopes_supported = conf->scopes_supported;
    prm.bearer_methods = bearer_method_names(r->pool, mcp_bearer_methods_of(conf));
    prm.extra = conf->resource_metadata;
    body = mcp_prm_json(r->pool, &prm);
    if (body == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;

    return mcp_send_json(r, HTTP_OK, "public, max-age=3600", body);
}
