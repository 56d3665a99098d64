/* The configuration's accessors: each value a location set, else its
 * default, so that the rest of the module never sees "unset". */

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>

#include "mcp_token.h"
#include "mcp_config.h"
#include "mcp_httpd.h"

static const mcp_doc_policy_t default_doc_policy = {
    NULL,                         /* kind: set by the caller */
    apr_time_from_sec(60),        /* refresh_min */
    apr_time_from_sec(3600),      /* refresh_max */
    apr_time_from_sec(24 * 3600), /* max_stale */
    apr_time_from_sec(30),        /* min_refetch */
    { 5000, 10000, 1024 * 1024, NULL },
};

#define OR_DEFAULT(v, d) ((v) >= 0 ? (v) : (d))

void mcp_doc_policy_of(const mcp_dir_conf_t *conf, mcp_doc_policy_t *policy)
{
    *policy = default_doc_policy;
    policy->refresh_min = apr_time_from_sec(OR_DEFAULT(conf->refresh_min, 60));
    policy->refresh_max = apr_time_from_sec(OR_DEFAULT(conf->refresh_max, 3600));
    policy->min_refetch = apr_time_from_sec(OR_DEFAULT(conf->min_refetch, 30));
    policy->max_stale = apr_time_from_sec(OR_DEFAULT(conf->max_stale, 24 * 3600));
    policy->fetch.connect_timeout_ms = 1000L * OR_DEFAULT(conf->connect_timeout, 5);
    policy->fetch.timeout_ms = 1000L * OR_DEFAULT(conf->fetch_timeout, 10);
    policy->fetch.max_bytes = (apr_size_t)OR_DEFAULT(conf->fetch_max_bytes, 1024 * 1024);
    policy->fetch.ca_file = conf->ca_file;
}

int mcp_clock_skew_of(const mcp_dir_conf_t *conf)
{
    return conf->clock_skew >= 0 ? conf->clock_skew : MCP_DEFAULT_CLOCK_SKEW;
}

int mcp_bearer_methods_of(const mcp_dir_conf_t *conf)
{
    return conf->bearer_methods ? conf->bearer_methods : MCP_BEARER_HEADER;
}

/* A CIMD client has no registration of its own at the IdP: it borrows the
 * static client, so without MCPAuthClientID there is nothing to map it on. */
int mcp_cimd_enabled(const mcp_dir_conf_t *conf)
{
    /* where the gateway is the authorization server: with MCPAuthClientID,
     * or its own client at an IdP that registers clients */
    return conf->client_metadata_documents != 0
           && (conf->client_id != NULL || mcp_provider_of(conf) != MCP_PROVIDER_GENERIC);
}

int mcp_consent_lifetime_of(const mcp_dir_conf_t *conf)
{
    return OR_DEFAULT(conf->consent_lifetime, MCP_DEFAULT_CONSENT_LIFETIME);
}

int mcp_dpop_of(const mcp_dir_conf_t *conf)
{
    return OR_DEFAULT(conf->dpop, MCP_DPOP_ALLOWED);
}

int mcp_dpop_nonce_of(const mcp_dir_conf_t *conf)
{
    return mcp_dpop_of(conf) != MCP_DPOP_OFF && conf->dpop_nonce == 1;
}

int mcp_dpop_proof_lifetime_of(const mcp_dir_conf_t *conf)
{
    return OR_DEFAULT(conf->dpop_proof_lifetime, MCP_DEFAULT_DPOP_PROOF_LIFETIME);
}

int mcp_token_format_of(const mcp_dir_conf_t *conf)
{
    if (conf->token_format >= 0)
        return conf->token_format;
    return conf->introspection ? MCP_TOKEN_FORMAT_AUTO : MCP_TOKEN_FORMAT_JWT;
}

int mcp_introspection_max_of(const mcp_dir_conf_t *conf)
{
    return OR_DEFAULT(conf->introspection_max, MCP_DEFAULT_INTROSPECTION_MAX);
}

int mcp_introspection_negative_of(const mcp_dir_conf_t *conf)
{
    return OR_DEFAULT(conf->introspection_negative, MCP_DEFAULT_INTROSPECTION_NEGATIVE);
}

int mcp_mode_of(const mcp_dir_conf_t *conf)
{
    return conf->mode == MODE_UNSET ? MODE_STRICT : conf->mode;
}

mcp_provider_t mcp_provider_of(const mcp_dir_conf_t *conf)
{
    return conf->provider == PROVIDER_UNSET ? MCP_PROVIDER_GENERIC : (mcp_provider_t)conf->provider;
}

const char *mcp_provider_name(mcp_provider_t provider)
{
    return mcp_provider_names[provider];
}

mcp_dir_conf_t *mcp_conf_of(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &mcp_auth_module);
}

mcp_server_conf_t *mcp_server_conf_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &mcp_auth_module);
}

/* The <Location> path without trailing slashes ("" for "/" or none). */
const char *mcp_location_path(apr_pool_t *p, const mcp_dir_conf_t *conf)
{
    apr_size_t len;

    if (conf->location == NULL || conf->location[0] != '/')
        return "";
    len = strlen(conf->location);
    while (len > 0 && conf->location[len - 1] == '/')
        len--;
    return apr_pstrmemdup(p, conf->location, len);
}

apr_size_t mcp_max_request_body_of(const mcp_dir_conf_t *conf)
{
    return (apr_size_t)OR_DEFAULT(conf->max_request_body, MCP_DEFAULT_MAX_REQUEST_BODY);
}

int mcp_reads_requests(const mcp_dir_conf_t *conf)
{
    return conf->read_requests != 0 || (conf->mcp_rules && conf->mcp_rules->nelts) || conf->default_deny == 1;
}

int mcp_binds_sessions(const mcp_dir_conf_t *conf)
{
    return conf->session_binding != 0;
}

apr_size_t mcp_token_cache_budget(server_rec *s)
{
    long v = mcp_server_conf_of(s)->token_cache_bytes;

    return v >= 0 ? (apr_size_t)v : MCP_DEFAULT_TOKEN_CACHE_BYTES;
}

