/* A forged Host or X-Forwarded-Host must change neither the resource
 * (and with it the accepted audience) nor the URLs discovery hands out. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <httpd.h>
#include <http_core.h>
#include <http_protocol.h>

#include "mcp_urls.h"

/* The scheme://host[:port] under which clients reach this server. The Host
 * header is used only when it names this virtual host (UseCanonicalName
 * Off); anything else falls back to ServerName, so that a forged Host can
 * neither redirect discovery nor widen the accepted audience. */
static int names_this_vhost(request_rec *r, const char *host)
{
    server_rec *s = r->server;
    int i;

    if (s->server_hostname && strcasecmp(host, s->server_hostname) == 0)
        return 1;
    /* the address the client actually connected to is ours too */
    if (r->connection->local_ip && strcmp(host, r->connection->local_ip) == 0)
        return 1;
    for (i = 0; s->names && i < s->names->nelts; i++) {
        if (strcasecmp(host, APR_ARRAY_IDX(s->names, i, const char *)) == 0)
            return 1;
    }
    for (i = 0; s->wild_names && i < s->wild_names->nelts; i++) {
        if (ap_strcasecmp_match(host, APR_ARRAY_IDX(s->wild_names, i, const char *)) == 0)
            return 1;
    }
    return 0;
}

/* X-Forwarded-Host / X-Forwarded-Proto, first hop only, and only when the
 * administrator says the proxy in front sets them (they are client-controlled
 * otherwise). NULL when absent or unusable. */
static const char *forwarded_origin(request_rec *r)
{
    const char *host = apr_table_get(r->headers_in, "X-Forwarded-Host");
    const char *proto = apr_table_get(r->headers_in, "X-Forwarded-Proto");
    const char *p;

    if (host == NULL)
        return NULL;
    host = apr_pstrmemdup(r->pool, host, strcspn(host, ", \t"));
    for (p = host; *p; p++) {
        if (!apr_isalnum(*p) && !strchr("-.:[]", *p))
            return NULL; /* not a host[:port] */
    }
    if (!*host)
        return NULL;
    if (proto)
        proto = apr_pstrmemdup(r->pool, proto, strcspn(proto, ", \t"));
    if (proto == NULL || (strcasecmp(proto, "http") != 0 && strcasecmp(proto, "https") != 0))
        proto = ap_http_scheme(r);
    return apr_pstrcat(r->pool, apr_pstrdup(r->pool, proto), "://", host, NULL);
}

const char *mcp_external_url(request_rec *r, const mcp_dir_conf_t *conf, const char *path)
{
    if (conf->trust_forwarded == 1) {
        char *origin = (char *)forwarded_origin(r);

        if (origin) {
            ap_str_tolower(origin);
            return apr_pstrcat(r->pool, origin, path, NULL);
        }
    }
    if (r->hostname && !names_this_vhost(r, r->hostname)) {
        apr_port_t port = r->server->port ? r->server->port : r->connection->local_addr->port;

        return apr_psprintf(r->pool, "%s://%s%s%s", ap_http_scheme(r), r->server->server_hostname,
                            ap_is_default_port(port, r) ? "" : apr_psprintf(r->pool, ":%u", port),
                            path);
    }
    return ap_construct_url(r->pool, path, r);
}


const char *mcp_resource_of(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char *path;

    if (conf->resource)
        return conf->resource;
    path = mcp_location_path(r->pool, conf);
    return mcp_external_url(r, conf, *path ? path : "/");
}

/* RFC 9728 §3.1: the well-known suffix goes between host and path. */
const char *mcp_prm_url(request_rec *r, const mcp_dir_conf_t *conf)
{
    if (conf->resource) {
        const char *scheme_end = strstr(conf->resource, "://");
        const char *path = strchr(scheme_end + 3, '/');
        apr_size_t origin_len = path ? (apr_size_t)(path - conf->resource) : strlen(conf->resource);
        apr_size_t path_len = path ? strlen(path) : 0;

        while (path_len > 0 && path[path_len - 1] == '/')
            path_len--;
        return apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, conf->resource, origin_len), MCP_PRM_PREFIX,
                           path ? apr_pstrmemdup(r->pool, path, path_len) : "", NULL);
    }
    return mcp_external_url(r, conf, apr_pstrcat(r->pool, MCP_PRM_PREFIX, mcp_location_path(r->pool, conf), NULL));
}

