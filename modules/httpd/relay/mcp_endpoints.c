/* Endpoints that act for the IdP (the OAuth relay, mcp_relay.c). They run
 * as ordinary handlers, after
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
#include <http_request.h>
#include <mod_core.h>

#include "mcp_facade.h"
#include "mcp_fetch.h"
#include "mcp_url.h"
#include "mcp_body.h"
#include "mcp_cors.h"
#include "mcp_endpoints.h"
#include "mcp_httpd.h"
#include "mcp_locations.h"
#include "mcp_metrics_page.h"
#include "mcp_request_keys.h"
#include "mcp_relay.h"
#include "mcp_respond.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

int mcp_gateway_is_issuer(const mcp_dir_conf_t *conf)
{
    return mcp_provider_of(conf) != MCP_PROVIDER_GENERIC || conf->client_id != NULL;
}

const char *mcp_authorization_server(request_rec *r, const mcp_dir_conf_t *conf)
{
    return mcp_gateway_is_issuer(conf) ? mcp_resource_of(r, conf) : conf->issuer;
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

/* ---- routing ---- */

typedef int (*serve_fn)(request_rec *r, const protected_location_t *pl);

typedef struct endpoint {
    const char *name;
    serve_fn serve;
    int (*offered)(const mcp_dir_conf_t *conf);
} endpoint_t;

/* All of them exist only where the gateway is the authorization server
 * clients see. */
static const endpoint_t endpoints[] = {
    { MCP_ENDPOINT_REGISTER, mcp_relay_register, mcp_gateway_is_issuer },
    { MCP_ENDPOINT_AUTHORIZE, mcp_relay_authorize, mcp_gateway_is_issuer },
    { MCP_ENDPOINT_TOKEN, mcp_relay_token, mcp_gateway_is_issuer },
    { MCP_ENDPOINT_CALLBACK, mcp_relay_callback, mcp_gateway_is_issuer },
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

int mcp_endpoint_map_to_storage(request_rec *r)
{
    /* the endpoints are URL space, as mod_proxy's URLs are: no file, so
     * no <Directory> or DocumentRoot decides (a hardened httpd denies "/");
     * <Location> sections still apply, as they are walked after this */
    if (mcp_endpoint_request(r) == NULL)
        return DECLINED;
    r->filename = apr_pstrcat(r->pool, "mcp-auth:", r->uri, NULL);
    return OK;
}

/* RFC 6749 §5.2 words for what httpd itself refuses before or around an
 * endpoint's answer (access control, method, size). */
static void oauth_error_of(int status, const char **error, const char **description)
{
    switch (status) {
    case HTTP_UNAUTHORIZED:
        *error = "invalid_client", *description = "authentication is required for this endpoint";
        break;
    case HTTP_FORBIDDEN:
        *error = "access_denied", *description = "this endpoint is not open to this client";
        break;
    case HTTP_METHOD_NOT_ALLOWED:
        *error = "invalid_request", *description = "this method is not served here";
        break;
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        *error = "invalid_request", *description = "the request is too large";
        break;
    case HTTP_SERVICE_UNAVAILABLE:
        *error = "temporarily_unavailable", *description = "the service is unavailable; try again shortly";
        break;
    default:
        *error = status >= 500 ? "server_error" : "invalid_request";
        *description = status >= 500 ? "the gateway failed to answer" : "the request was refused";
    }
}

void mcp_endpoint_error_body(request_rec *r)
{
    const char *error, *description;
    int idx = ap_index_of_response(r->status);

    /* an ErrorDocument the administrator configured keeps precedence */
    if (mcp_endpoint_request(r) == NULL || ap_response_code_string(r, idx) != NULL)
        return;
    oauth_error_of(r->status, &error, &description);
    ap_custom_response(r, r->status, mcp_oauth_error_body(r->pool, error, description));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
}

int mcp_endpoint_handler(request_rec *r)
{
    const protected_location_t *pl = NULL;
    const endpoint_t *e;
    int status;

    if (r->main || r->prev || (e = endpoint_of(r, &pl)) == NULL)
        return DECLINED;
    mcp_serve_as_location(r, pl);
    status = e->serve(r, pl);
    mcp_metrics_relay(mcp_metrics_slot_of(pl->section), e->name, status == OK || status == DONE ? r->status : status);
    return status;
}
