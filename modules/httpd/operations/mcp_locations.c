/* Which <Location> sections AuthType MCP protects. httpd merges
 * per-directory configuration only per request; the metadata and discovery
 * answers come before that, so the merge a request to each location would
 * see is done here once, at startup. */

#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "mcp_token.h"
#include "mcp_httpd.h"
#include "mcp_endpoints.h"
#include "mcp_locations.h"
#include "mcp_session.h"
#include "mcp_token_exchange.h"

APLOG_USE_MODULE(mcp_auth);

/* The path under which a location's metadata is published: the configured
 * resource's path when there is one, else the location's own path. */
const char *mcp_published_path(apr_pool_t *p, const protected_location_t *pl)
{
    if (pl->conf->resource) {
        const char *path = strchr(strstr(pl->conf->resource, "://") + 3, '/');
        apr_size_t len = path ? strlen(path) : 0;

        while (len > 0 && path[len - 1] == '/')
            len--;
        return path ? apr_pstrmemdup(p, path, len) : "";
    }
    return pl->path;
}

const protected_location_t *mcp_find_protected(request_rec *r, const char *suffix)
{
    mcp_server_conf_t *sconf = mcp_server_conf_of(r->server);
    apr_array_header_t *list = sconf->protected;
    apr_size_t len = strlen(suffix);
    int i;

    /* RFC 9728 §3.1 root form: unambiguous only with one protected location */
    if (len == 0 || strcmp(suffix, "/") == 0)
        return list->nelts == 1 ? &APR_ARRAY_IDX(list, 0, protected_location_t) : NULL;
    while (len > 1 && suffix[len - 1] == '/')
        len--;
    for (i = 0; i < list->nelts; i++) {
        const protected_location_t *pl = &APR_ARRAY_IDX(list, i, protected_location_t);
        const char *path = mcp_published_path(r->pool, pl);

        if (strlen(path) == len && strncmp(path, suffix, len) == 0)
            return pl;
    }
    return NULL;
}

void mcp_serve_as_location(request_rec *r, const protected_location_t *pl)
{
    /* the quick handler runs before any <Location> applies */
    r->per_dir_config = pl->per_dir;
}

static int is_prefix_location(const core_dir_config *outer, const core_dir_config *inner)
{
    apr_size_t len;

    if (outer->r || outer->d == NULL || inner->d == NULL)
        return 0;
    len = strlen(outer->d);
    return strncmp(outer->d, inner->d, len) == 0
           && (inner->d[len] == '\0' || inner->d[len] == '/' || (len && outer->d[len - 1] == '/'));
}

/* The configuration a request to this <Location> would see: the server's
 * defaults, then every enclosing <Location> in order, then the section. */
static mcp_dir_conf_t *effective_conf(apr_pool_t *p, server_rec *s, apr_array_header_t *sections,
                                      int index, ap_conf_vector_t **per_dir)
{
    ap_conf_vector_t **sec = (ap_conf_vector_t **)sections->elts;
    core_dir_config *target = ap_get_core_module_config(sec[index]);
    ap_conf_vector_t *merged = s->lookup_defaults;
    int i;

    for (i = 0; i < sections->nelts; i++) {
        core_dir_config *cd = ap_get_core_module_config(sec[i]);

        if (i == index || (!target->r && is_prefix_location(cd, target)))
            merged = ap_merge_per_dir_configs(p, merged, sec[i]);
    }
    *per_dir = merged;
    return ap_get_module_config(merged, &mcp_auth_module);
}

static int has_issuer(const mcp_dir_conf_t *conf)
{
    return conf->issuer != NULL;
}

static int has_resource(const mcp_dir_conf_t *conf)
{
    return conf->resource != NULL;
}

/* A section below this one (by path) that sets what has() looks for makes
 * a parent without it legitimate: the requests that reach the parent alone
 * are refused at run time instead. */
static int set_below(apr_array_header_t *sections, int index, int (*has)(const mcp_dir_conf_t *))
{
    ap_conf_vector_t **sec = (ap_conf_vector_t **)sections->elts;
    core_dir_config *parent = ap_get_core_module_config(sec[index]);
    int i;

    for (i = 0; i < sections->nelts; i++) {
        core_dir_config *cd = ap_get_core_module_config(sec[i]);
        mcp_dir_conf_t *conf = ap_get_module_config(sec[i], &mcp_auth_module);

        if (i != index && conf && has(conf) && is_prefix_location(parent, cd))
            return 1;
    }
    return 0;
}

static int check_sections(apr_pool_t *p, server_rec *s, apr_array_header_t *sections,
                          int is_location, mcp_server_conf_t *sconf)
{
    int i;

    for (i = 0; i < sections->nelts; i++) {
        ap_conf_vector_t *sec = ((ap_conf_vector_t **)sections->elts)[i];
        mcp_dir_conf_t *own = ap_get_module_config(sec, &mcp_auth_module);
        core_dir_config *cd = ap_get_core_module_config(sec);
        mcp_dir_conf_t *conf;
        ap_conf_vector_t *per_dir;
        protected_location_t *pl;
        const char *problem;

        if (own == NULL || own->auth_type_mcp != 1)
            continue;
        conf = effective_conf(p, s, sections, i, &per_dir);
        if (conf->issuer == NULL && !set_below(sections, i, has_issuer)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0020: AuthType MCP in <%s %s> needs MCPAuthIssuer",
                         is_location ? "Location" : "Directory", cd->d ? cd->d : "?");
            return 0;
        }
        /* a directory has no URL of its own: its path must never become
         * the resource, nor be shown to clients */
        if (!is_location && conf->resource == NULL && !set_below(sections, i, has_resource)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0028: AuthType MCP in <Directory %s> needs MCPAuthResource (the URL "
                         "clients use), or move it into a <Location>", cd->d ? cd->d : "?");
            return 0;
        }
        if (conf->read_requests == 0 && mcp_reads_requests(conf)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0053: <%s %s>: MCPAuthReadRequests Off with MCPAuth*Rule or MCPAuthDefault "
                         "deny: the rules judge what they read", is_location ? "Location" : "Directory",
                         cd->d ? cd->d : "?");
            return 0;
        }
        if (conf->token_format > MCP_TOKEN_FORMAT_JWT && conf->introspection == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0067: <%s %s>: MCPAuthTokenFormat %s needs MCPAuthIntrospection (where to ask "
                         "about opaque tokens)", is_location ? "Location" : "Directory", cd->d ? cd->d : "?",
                         conf->token_format == MCP_TOKEN_FORMAT_OPAQUE ? "opaque" : "auto");
            return 0;
        }
        if ((problem = mcp_token_exchange_problem(p, conf)) != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MCPAUTH0071: <%s %s>: %s",
                         is_location ? "Location" : "Directory", cd->d ? cd->d : "?", problem);
            return 0;
        }
        /* the relay redeems codes itself, without the client's proof: its
         * tokens are bearer tokens (see mcp_facade.c) */
        if (conf->issuer && mcp_dpop_of(conf) == MCP_DPOP_REQUIRED && mcp_gateway_is_issuer(conf)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0068: <%s %s>: MCPAuthDPoP required where the gateway is the authorization "
                         "server: the tokens it issues are bearer tokens, so no client could pass",
                         is_location ? "Location" : "Directory", cd->d ? cd->d : "?");
            return 0;
        }
        if (conf->issuer == NULL)
            continue;
        if (is_location ? cd->r == NULL && cd->d && cd->d[0] == '/' : conf->resource != NULL) {
            pl = apr_array_push(sconf->protected);
            pl->conf = conf;
            pl->section = own;
            pl->per_dir = per_dir;
            pl->path = is_location ? mcp_location_path(p, conf) : NULL;
            if ((conf->provider == MCP_PROVIDER_AUTHENTIK || conf->provider == MCP_PROVIDER_ENTRA)
                && conf->client_id == NULL)
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             "MCPAUTH0027: <%s %s>: MCPAuthProvider %s has no dynamic client "
                             "registration; set MCPAuthClientID", is_location ? "Location" : "Directory",
                             cd->d, mcp_provider_name(mcp_provider_of(conf)));
            if (conf->client_metadata_documents == 1 && !mcp_cimd_enabled(conf))
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             "MCPAUTH0047: <%s %s>: MCPAuthClientMetadataDocuments On has no effect where the "
                             "gateway is not the authorization server (set MCPAuthProvider or MCPAuthClientID)",
                             is_location ? "Location" : "Directory", cd->d);
            if (conf->introspection && conf->introspection_client == NULL)
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             "MCPAUTH0066: <%s %s>: MCPAuthIntrospection without MCPAuthIntrospectionClient: the "
                             "gateway asks without client credentials, which most IdPs refuse (RFC 7662 §2.1)",
                             is_location ? "Location" : "Directory", cd->d);
            /* an MCP request is JSON: a form body is refused where requests are read */
            if ((mcp_bearer_methods_of(conf) & MCP_BEARER_BODY) && mcp_reads_requests(conf))
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             "MCPAUTH0056: <%s %s>: MCPAuthBearerMethods body, but POSTs here are read as MCP "
                             "requests (JSON), so form bodies are refused; set MCPAuthReadRequests Off where "
                             "this location takes forms", is_location ? "Location" : "Directory", cd->d);
        }
    }
    return 1;
}

/* Checks every virtual host's sections and records its protected locations.
 * Returns how many there are, or -1 after logging a configuration error. */
int mcp_locations_find(apr_pool_t *pconf, server_rec *s)
{
    server_rec *vs;
    int protected = 0;

    for (vs = s; vs; vs = vs->next) {
        core_server_config *core = ap_get_core_module_config(vs->module_config);
        mcp_server_conf_t *sconf = mcp_server_conf_of(vs);

        sconf->protected->nelts = 0;
        if (!check_sections(pconf, vs, core->sec_url, 1, sconf)
            || !check_sections(pconf, vs, core->sec_dir, 0, sconf))
            return -1;
        protected += sconf->protected->nelts;
    }
    return protected;
}

int mcp_locations_need_sealing(server_rec *s)
{
    int i;

    for (; s; s = s->next) {
        mcp_server_conf_t *sconf = mcp_server_conf_of(s);

        if (mcp_session_binding_in_use(sconf->protected))
            return 1;
        for (i = 0; i < sconf->protected->nelts; i++) {
            const mcp_dir_conf_t *conf = APR_ARRAY_IDX(sconf->protected, i, protected_location_t).conf;

            /* DPoP nonces are sealed too */
            if (mcp_gateway_is_issuer(conf) || mcp_dpop_nonce_of(conf))
                return 1;
        }
    }
    return 0;
}
