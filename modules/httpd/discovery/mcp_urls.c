/* A forged Host or X-Forwarded-Host must change neither the resource
 * (and with it the accepted audience) nor the URLs discovery hands out. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_network_io.h>
#include <httpd.h>
#include <http_core.h>
#include <http_protocol.h>

#include "mcp_forwarded.h"
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

/* Whether the peer of this connection (not mod_remoteip's client address)
 * is a proxy whose forwarding headers count. */
static int peer_is_trusted(request_rec *r, const mcp_dir_conf_t *conf)
{
    int i;

    if (conf->trust_forwarded != 1)
        return 0;
    if (conf->trusted_proxies == NULL)
        return 1;
    for (i = 0; i < conf->trusted_proxies->nelts; i++) {
        if (apr_ipsubnet_test(APR_ARRAY_IDX(conf->trusted_proxies, i, apr_ipsubnet_t *),
                              r->connection->client_addr))
            return 1;
    }
    return 0;
}

static const char *usable_proto(const char *proto)
{
    if (proto && (strcasecmp(proto, "http") == 0 || strcasecmp(proto, "https") == 0))
        return proto;
    return NULL;
}

/* The origin the trusted proxy says the client used, from the header
 * family it writes (MCPAuthForwardedHeader: a proxy passes the other one on
 * from the client untouched) and the element it appended last (RFC 7239
 * §5.3 and the X-Forwarded-* convention): the client's own come before it.
 * A proxy that says only the scheme (AWS ALB: X-Forwarded-Proto, with Host
 * kept) gives that scheme with the host the request names, if it is one of
 * this virtual host's names. NULL when nothing usable was said. */
static const char *forwarded_origin(request_rec *r, const mcp_dir_conf_t *conf, const char *own_host)
{
    const char *host = NULL, *proto = NULL;

    if (conf->forwarded_header == MCP_FORWARDED_RFC7239) {
        if (!mcp_forwarded_parse_last(r->pool, apr_table_get(r->headers_in, "Forwarded"), &host, &proto))
            return NULL;
    }
    else {
        host = mcp_forwarded_last_value(r->pool, apr_table_get(r->headers_in, "X-Forwarded-Host"));
        proto = mcp_forwarded_last_value(r->pool, apr_table_get(r->headers_in, "X-Forwarded-Proto"));
    }
    proto = usable_proto(proto);
    if (host && !mcp_forwarded_is_host(host))
        return NULL;
    if (host == NULL && proto == NULL)
        return NULL;
    return apr_pstrcat(r->pool, proto ? proto : ap_http_scheme(r), "://", host ? host : own_host, NULL);
}

/* The port the client reached: the server's, never the Host header's (which
 * the client writes; only its name is checked against the virtual host). */
static apr_port_t external_port(request_rec *r)
{
    core_dir_config *d = ap_get_core_module_config(r->per_dir_config);

    if (d->use_canonical_name == USE_CANONICAL_NAME_ON)
        return ap_get_server_port(r);
    if (r->server->port)
        return r->server->port;
    return r->connection->local_addr->port;
}

const char *mcp_external_url(request_rec *r, const mcp_dir_conf_t *conf, const char *path)
{
    const char *host;
    apr_port_t port;

    /* UseCanonicalName decides between ServerName and a Host that names
     * this virtual host; any other Host gets ServerName */
    host = r->hostname && names_this_vhost(r, r->hostname) ? ap_get_server_name_for_url(r)
                                                           : r->server->server_hostname;
    if (peer_is_trusted(r, conf)) {
        char *origin = (char *)forwarded_origin(r, conf, host);

        if (origin) {
            ap_str_tolower(origin);
            return apr_pstrcat(r->pool, origin, path, NULL);
        }
    }
    port = external_port(r);
    /* joined, not formatted: every refusal names its metadata URL */
    if (ap_is_default_port(port, r))
        return apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, path, NULL);
    return apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, ":", apr_itoa(r->pool, port), path, NULL);
}

void mcp_urls_vary(request_rec *r, const mcp_dir_conf_t *conf)
{
    if (conf->trust_forwarded == 1)
        apr_table_mergen(r->headers_out, "Vary", conf->forwarded_header == MCP_FORWARDED_RFC7239
                                                     ? "Forwarded" : "X-Forwarded-Host, X-Forwarded-Proto");
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


const char *mcp_site_of(request_rec *r)
{
    server_rec *s = r->server;
    /* ServerName's port, else the <VirtualHost> address's */
    apr_port_t port = s->port ? s->port : s->addrs ? s->addrs->host_port : 0;

    return apr_psprintf(r->pool, "%s://%s:%u", ap_http_scheme(r), s->server_hostname ? s->server_hostname : "",
                        (unsigned)port);
}

const apr_array_header_t *mcp_audiences_of(request_rec *r, const mcp_dir_conf_t *conf)
{
    apr_array_header_t *own;

    if (conf->audiences)
        return conf->audiences;
    own = apr_array_make(r->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(own, const char *) = mcp_resource_of(r, conf);
    return own;
}
