/* The discovery documents the gateway publishes for MCP clients: protected
 * resource metadata (RFC 9728) and the authorization-server metadata
 * (RFC 8414, OpenID Connect Discovery) in every URL form clients try. They
 * are public by design (MCP authorization, "Authorization Server
 * Discovery") and answered from the quick handler: before ProxyPass claims
 * the URL and before any authentication. The endpoints that act (register,
 * Entra's shims) are in mcp_endpoints.c, under httpd's access control. */

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
#include "mcp_url.h"
#include "mcp_cors.h"
#include "mcp_endpoints.h"
#include "mcp_httpd.h"
#include "mcp_locations.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_urls.h"
#include "mcp_wellknown.h"

APLOG_USE_MODULE(mcp_auth);

#define AS_METADATA "/.well-known/oauth-authorization-server"
#define OIDC_METADATA "/.well-known/openid-configuration"

/* ---- facade ---- */

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
        return mcp_idp_unavailable(r, err);

    memset(&f, 0, sizeof(f));
    f.provider = mcp_provider_of(conf);
    f.resource = mcp_resource_of(r, conf);
    if (mcp_gateway_is_issuer(conf)) {
        f.issuer = mcp_authorization_server(r, conf);
        f.registration_endpoint = mcp_endpoint_url(r, pl, MCP_ENDPOINT_REGISTER);
        f.authorization_endpoint = mcp_endpoint_url(r, pl, MCP_ENDPOINT_AUTHORIZE);
        f.token_endpoint = mcp_endpoint_url(r, pl, MCP_ENDPOINT_TOKEN);
        /* RFC 8414 / CIMD: advertised where such a client can log in */
        f.client_metadata_documents = mcp_cimd_enabled(conf) && (conf->client_id || d->registration_endpoint);
    }
    body = mcp_facade_metadata(r->pool, d->json, &f, &err);
    if (body == NULL)
        return mcp_idp_unavailable(r, err);
    mcp_urls_vary(r, conf);
    return mcp_send_json(r, HTTP_OK, "public, max-age=300", body);
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

static int metadata_documents(request_rec *r)
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
        return metadata_documents(r);
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
    APR_ARRAY_PUSH(servers, const char *) = mcp_authorization_server(r, conf);
    prm.resource = mcp_resource_of(r, conf);
    prm.authorization_servers = servers;
    prm.scopes_supported = conf->scopes_supported;
    prm.dpop = mcp_dpop_of(conf);
    /* RFC 9728 §2: where every token must be DPoP-bound, no way of sending
     * a bearer token is supported, which [] says */
    prm.bearer_methods = bearer_method_names(r->pool, prm.dpop == MCP_DPOP_REQUIRED ? 0 : mcp_bearer_methods_of(conf));
    prm.extra = conf->resource_metadata;
    body = mcp_prm_json(r->pool, &prm);
    if (body == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;

    mcp_urls_vary(r, conf);
    return mcp_send_json(r, HTTP_OK, "public, max-age=3600", body);
}
