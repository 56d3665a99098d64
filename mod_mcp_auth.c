/*
 * mod_mcp_auth: httpd as an OAuth 2.0 resource server in front of MCP servers.
 *
 * This file is the httpd face: directives, per-directory configuration,
 * hooks, the bearer-token check for "AuthType MCP" and the RFC 9728
 * metadata handler. The work itself lives in modules/ and knows nothing of
 * request_rec.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_main.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <mod_auth.h>
#include <mod_core.h>
#include <mod_status.h>

#include "mcp_cache.h"
#include "mcp_challenge.h"
#include "mcp_counters.h"
#include "mcp_discovery.h"
#include "mcp_docstore.h"
#include "mcp_fetch.h"
#include "mcp_jwks.h"
#include "mcp_jwt.h"
#include "mcp_metadata.h"
#include "mcp_presentation.h"
#include "mcp_token.h"
#include "mcp_tokencache.h"
#include "mcp_httpd.h"



/* The default shared cache: anonymous shared memory. shmcb splits it into
 * subcaches by the object-size hint; these numbers give 16 subcaches of
 * 1.5 MiB (a key set at the full 1 MiB fetch cap fits in one) with about 125
 * entries each, so dozens of key sets and their small markers never push
 * each other out. Untouched pages cost no memory. */
#define DEFAULT_CACHE_PROVIDER "shmcb"
#define DEFAULT_CACHE_SIZE (24 * 1024 * 1024)
#define CACHE_AVG_OBJECT (12 * 1024)

/* Signature checks remembered per process; claims are checked every time. */
#define TOKEN_CACHE_SLOTS 2048
#define TOKEN_CACHE_MAX_AGE apr_time_from_sec(600)
static mcp_tokencache_t *token_cache;

static const char *const provider_names[] = { "generic", "keycloak", "auth0", "okta", "entra",
                                              "authentik", NULL };

/* Server-wide state, shared by every virtual host. */
static const ap_socache_provider_t *cache_provider;
static ap_socache_instance_t *cache_instance;
const char *mcp_cache_provider_name;
static mcp_cache_t shared_cache;
mcp_docstore_t *mcp_docstore_instance;
static int curl_ready;

static const mcp_doc_policy_t default_doc_policy = {
    apr_time_from_sec(60),        /* refresh_min */
    apr_time_from_sec(3600),      /* refresh_max */
    apr_time_from_sec(24 * 3600), /* max_stale */
    apr_time_from_sec(30),        /* min_refetch */
    { 5000, 10000, 1024 * 1024, NULL },
};

/* ----------------------------------------------------------------------- */
/* Configuration                                                            */

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    mcp_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->location = dir;
    conf->auth_type_mcp = -1;
    conf->clock_skew = -1;
    conf->refresh_min = conf->refresh_max = conf->min_refetch = conf->max_stale = -1;
    conf->connect_timeout = conf->fetch_timeout = -1;
    conf->fetch_max_bytes = -1;
    conf->mode = MODE_UNSET;
    conf->provider = PROVIDER_UNSET;
    conf->trust_forwarded = -1;
    return conf;
}

#define MERGE_PTR(field) conf->field = add->field ? add->field : base->field
#define MERGE_INT(field, unset) conf->field = add->field != (unset) ? add->field : base->field

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    mcp_dir_conf_t *base = basev, *add = addv;
    mcp_dir_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    MERGE_PTR(location);
    MERGE_INT(auth_type_mcp, -1);
    MERGE_PTR(issuer);
    MERGE_PTR(jwks_uri);
    MERGE_PTR(resource);
    MERGE_PTR(audiences);
    MERGE_PTR(scopes_supported);
    MERGE_PTR(scope_rules);
    MERGE_PTR(token_types);
    MERGE_PTR(claim_headers);
    MERGE_PTR(resource_metadata);
    MERGE_INT(clock_skew, -1);
    MERGE_INT(refresh_min, -1);
    MERGE_INT(refresh_max, -1);
    MERGE_INT(min_refetch, -1);
    MERGE_INT(max_stale, -1);
    MERGE_INT(connect_timeout, -1);
    MERGE_INT(fetch_timeout, -1);
    MERGE_INT(fetch_max_bytes, -1);
    MERGE_PTR(ca_file);
    MERGE_INT(mode, MODE_UNSET);
    MERGE_INT(bearer_methods, 0);
    MERGE_INT(provider, PROVIDER_UNSET);
    MERGE_PTR(client_id);
    MERGE_INT(trust_forwarded, -1);
    MERGE_PTR(cors_origins);
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    mcp_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->protected = apr_array_make(p, 2, sizeof(protected_location_t));
    return conf;
}

#define OR_DEFAULT(v, d) ((v) >= 0 ? (v) : (d))

/* The fetch and freshness policy of a location, unset values defaulted. */
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

static int clock_skew_of(const mcp_dir_conf_t *conf)
{
    return conf->clock_skew >= 0 ? conf->clock_skew : DEFAULT_CLOCK_SKEW;
}

static int bearer_methods_of(const mcp_dir_conf_t *conf)
{
    return conf->bearer_methods ? conf->bearer_methods : MCP_BEARER_HEADER;
}

/* Issuer identifiers are https URLs without query or fragment (RFC 8414 §2);
 * plain http is allowed for in-cluster IdPs and tests. */
static int is_issuer_url(const char *s)
{
    return mcp_is_http_url(s) && strchr(s, '?') == NULL;
}

static const char *set_url(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    int offset = (int)(long)cmd->info;

    if (!(offset == APR_OFFSETOF(mcp_dir_conf_t, issuer) ? is_issuer_url(arg)
                                                         : mcp_is_http_url(arg)))
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute http(s) URL%s",
                            cmd->directive->directive, arg,
                            offset == APR_OFFSETOF(mcp_dir_conf_t, issuer)
                                ? " without query or fragment"
                                : "");
    *(const char **)((char *)conf + offset) = arg;
    return NULL;
}

/* Appends to a list directive's array, made on first use (unset = NULL). */
static void push_string(apr_pool_t *p, apr_array_header_t **list, const char *s)
{
    if (*list == NULL)
        *list = apr_array_make(p, 4, sizeof(const char *));
    APR_ARRAY_PUSH(*list, const char *) = s;
}

static const char *add_audience(cmd_parms *cmd, void *confv, const char *arg)
{
    push_string(cmd->pool, &((mcp_dir_conf_t *)confv)->audiences, arg);
    return NULL;
}

/* RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E */
static int is_scope_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

static const char *add_scope(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (!is_scope_token(arg))
        return apr_psprintf(cmd->pool, "MCPAuthScopesSupported: '%s' is not a valid scope token", arg);
    push_string(cmd->pool, &conf->scopes_supported, arg);
    return NULL;
}

static int is_header_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!apr_isalnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    }
    return 1;
}

static const char *add_claim_header(cmd_parms *cmd, void *confv, const char *claim,
                                    const char *header)
{
    mcp_dir_conf_t *conf = confv;
    claim_header_t *ch;

    if (!*claim)
        return "MCPAuthClaimHeader: the claim name is empty";
    if (!is_header_token(header))
        return apr_psprintf(cmd->pool, "MCPAuthClaimHeader: '%s' is not a valid header name", header);
    if (strcasecmp(header, "Authorization") == 0 || strcasecmp(header, "Host") == 0
        || strcasecmp(header, "Content-Length") == 0 || strcasecmp(header, "Transfer-Encoding") == 0)
        return apr_psprintf(cmd->pool, "MCPAuthClaimHeader: refusing to set the %s header", header);
    if (conf->claim_headers == NULL)
        conf->claim_headers = apr_array_make(cmd->pool, 2, sizeof(claim_header_t));
    ch = apr_array_push(conf->claim_headers);
    ch->claim = claim;
    ch->header = header;
    return NULL;
}

static const char *add_token_type(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (!is_header_token(arg) && strchr(arg, '/') == NULL)
        return apr_psprintf(cmd->pool, "MCPAuthTokenType: '%s' is not a media type", arg);
    push_string(cmd->pool, &conf->token_types, arg);
    return NULL;
}

/* A whole number of seconds (or bytes) within [min, max]. */
static const char *parse_count(cmd_parms *cmd, const char *arg, long min, long max, long *out)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < min || v > max)
        return apr_psprintf(cmd->pool, "%s: '%s' is not a whole number from %ld to %ld",
                            cmd->directive->directive, arg, min, max);
    *out = v;
    return NULL;
}

static const char *set_clock_skew(cmd_parms *cmd, void *confv, const char *arg)
{
    long v = 0;
    const char *err = parse_count(cmd, arg, 0, 3600, &v);

    if (err == NULL)
        ((mcp_dir_conf_t *)confv)->clock_skew = (int)v;
    return err;
}

/* Two whole numbers, the first no larger than the second. */
static const char *parse_ordered_pair(cmd_parms *cmd, const char *a, const char *b, long min_a,
                                      long min_b, long max, int *lo, int *hi)
{
    long x = 0, y = 0;
    const char *err = parse_count(cmd, a, min_a, max, &x);

    if (err || (err = parse_count(cmd, b, min_b, max, &y)))
        return err;
    if (x > y)
        return apr_psprintf(cmd->pool, "%s: the first value is larger than the second",
                            cmd->directive->directive);
    *lo = (int)x;
    *hi = (int)y;
    return NULL;
}

static const char *set_refresh(cmd_parms *cmd, void *confv, const char *min, const char *max)
{
    mcp_dir_conf_t *conf = confv;

    return parse_ordered_pair(cmd, min, max, 0, 1, 86400 * 7, &conf->refresh_min, &conf->refresh_max);
}

static const char *set_seconds(cmd_parms *cmd, void *confv, const char *arg)
{
    long v = 0;
    const char *err = parse_count(cmd, arg, 0, 86400 * 30, &v);

    if (err)
        return err;
    *(int *)((char *)confv + (int)(long)cmd->info) = (int)v;
    return NULL;
}

static const char *set_fetch_timeout(cmd_parms *cmd, void *confv, const char *connect,
                                     const char *total)
{
    mcp_dir_conf_t *conf = confv;

    return parse_ordered_pair(cmd, connect, total ? total : connect, 1, 1, 300,
                              &conf->connect_timeout, &conf->fetch_timeout);
}

static const char *set_fetch_max(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    return parse_count(cmd, arg, 1024, 64L * 1024 * 1024, &conf->fetch_max_bytes);
}

static const char *set_ca_file(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    apr_finfo_t finfo;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL || apr_stat(&finfo, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || finfo.filetype != APR_REG)
        return apr_psprintf(cmd->pool, "MCPAuthCAFile: '%s' is not a readable file", arg);
    conf->ca_file = path;
    return NULL;
}

static const char *set_mode(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "strict") == 0)
        conf->mode = MODE_STRICT;
    else if (strcasecmp(arg, "optional") == 0)
        conf->mode = MODE_OPTIONAL;
    else if (strcasecmp(arg, "permissive") == 0)
        conf->mode = MODE_PERMISSIVE;
    else
        return apr_psprintf(cmd->pool, "MCPAuthMode: unknown mode '%s' (use strict, optional or permissive)", arg);
    return NULL;
}

static const char *add_bearer_method(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "header") == 0)
        conf->bearer_methods |= MCP_BEARER_HEADER;
    else if (strcasecmp(arg, "body") == 0)
        conf->bearer_methods |= MCP_BEARER_BODY;
    else if (strcasecmp(arg, "query") == 0)
        conf->bearer_methods |= MCP_BEARER_QUERY;
    else
        return apr_psprintf(cmd->pool, "MCPAuthBearerMethods: unknown method '%s' (use header, body or query)", arg);
    return NULL;
}

static const char *set_provider(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    int i;

    for (i = 0; provider_names[i]; i++) {
        if (strcasecmp(arg, provider_names[i]) == 0) {
            conf->provider = (int)i;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "MCPAuthProvider: unknown provider '%s' (use generic, keycloak, "
                        "auth0, okta, entra or authentik)", arg);
}

static const char *set_client_id(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    const char *p;

    for (p = arg; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return apr_psprintf(cmd->pool, "MCPAuthClientID: '%s' contains spaces or control characters", arg);
    }
    if (!*arg)
        return "MCPAuthClientID: empty client id";
    conf->client_id = arg;
    return NULL;
}

static const char *set_trust_forwarded(cmd_parms *cmd, void *confv, int on)
{
    ((mcp_dir_conf_t *)confv)->trust_forwarded = on;
    return NULL;
}

/* "*" or exact origins (RFC 6454: scheme://host[:port], nothing more). */
static const char *add_cors_origin(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    const char *rest = strstr(arg, "://");

    if (strcmp(arg, "*") != 0
        && (!mcp_is_http_url(arg) || rest == NULL || strchr(rest + 3, '/') || strchr(arg, '?')))
        return apr_psprintf(cmd->pool, "MCPAuthCORSOrigins: '%s' is not * or an origin like "
                            "https://app.example.com", arg);
    push_string(cmd->pool, &conf->cors_origins, arg);
    return NULL;
}

static const char *set_resource_metadata(cmd_parms *cmd, void *confv, const char *field,
                                         const char *json)
{
    mcp_dir_conf_t *conf = confv;

    if (!*field)
        return "MCPAuthResourceMetadata: the field name is empty";
    if (!mcp_json_is_valid(json))
        return apr_psprintf(cmd->pool, "MCPAuthResourceMetadata: the value for '%s' is not valid JSON: %s",
                            field, json);
    if (conf->resource_metadata == NULL)
        conf->resource_metadata = apr_table_make(cmd->pool, 4);
    apr_table_set(conf->resource_metadata, field, json);
    return NULL;
}

/* AuthType belongs to mod_authn_core. We look at it on the way past
 * (DECLINE_CMD hands it on) so that a location that says "AuthType MCP"
 * without an issuer fails at startup instead of at the first request. */
static const char *note_auth_type(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    conf->auth_type_mcp = strcasecmp(arg, MCP_AUTH_TYPE) == 0;
    return DECLINE_CMD;
}

static const char *set_cache(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *sep, *name, *args;

    if (err)
        return err;
    sep = strchr(arg, ':');
    name = sep ? apr_pstrmemdup(cmd->pool, arg, (apr_size_t)(sep - arg)) : arg;
    args = sep ? sep + 1 : NULL;
    cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (cache_provider == NULL)
        return apr_psprintf(cmd->pool, "MCPAuthCache: unknown socache provider '%s' "
                            "(load mod_socache_%s first)", name, name);
    err = cache_provider->create(&cache_instance, args, cmd->temp_pool, cmd->pool);
    if (err)
        return apr_psprintf(cmd->pool, "MCPAuthCache: %s", err);
    mcp_cache_provider_name = name;
    return NULL;
}

#define DIR_CMD(name, fn, info, take, help) \
    AP_INIT_##take(name, fn, (void *)(info), OR_AUTHCFG | ACCESS_CONF, help)

static const command_rec mcp_auth_cmds[] = {
    DIR_CMD("MCPAuthIssuer", set_url, APR_OFFSETOF(mcp_dir_conf_t, issuer), TAKE1,
            "Issuer URL of the authorization server; must equal the token's iss exactly"),
    DIR_CMD("MCPAuthJWKSURI", set_url, APR_OFFSETOF(mcp_dir_conf_t, jwks_uri), TAKE1,
            "JWKS URL; default: jwks_uri from the issuer's discovery document"),
    DIR_CMD("MCPAuthResource", set_url, APR_OFFSETOF(mcp_dir_conf_t, resource), TAKE1,
            "Resource identifier (RFC 9728); default: this location's external URL"),
    DIR_CMD("MCPAuthAudience", add_audience, NULL, ITERATE,
            "Accepted token audiences; default: the resource"),
    DIR_CMD("MCPAuthScopesSupported", add_scope, NULL, ITERATE,
            "Scopes listed in the protected resource metadata"),
    DIR_CMD("MCPAuthClaimHeader", add_claim_header, NULL, TAKE2,
            "CLAIM HEADER: pass a token claim to the backend as a request header"),
    DIR_CMD("MCPAuthTokenType", add_token_type, NULL, ITERATE,
            "Accepted JWT typ values (default: at+jwt, application/at+jwt, JWT or none)"),
    DIR_CMD("MCPAuthClockSkew", set_clock_skew, NULL, TAKE1,
            "Seconds of leeway for exp, nbf and iat (default 60)"),
    DIR_CMD("MCPAuthJWKSRefresh", set_refresh, NULL, TAKE2,
            "MIN MAX seconds: bounds for the documents' max-age (default 60 3600)"),
    DIR_CMD("MCPAuthJWKSMinRefetch", set_seconds, APR_OFFSETOF(mcp_dir_conf_t, min_refetch), TAKE1,
            "Seconds between refetches caused by unknown key ids, across all processes (default 30)"),
    DIR_CMD("MCPAuthJWKSMaxStale", set_seconds, APR_OFFSETOF(mcp_dir_conf_t, max_stale), TAKE1,
            "Seconds past expiry that the last good keys serve while the IdP fails (default 86400)"),
    DIR_CMD("MCPAuthFetchTimeout", set_fetch_timeout, NULL, TAKE12,
            "CONNECT [TOTAL] seconds for fetching keys and metadata (default 5 10)"),
    DIR_CMD("MCPAuthFetchMaxSize", set_fetch_max, NULL, TAKE1,
            "Largest key set or metadata document accepted, in bytes (default 1048576)"),
    DIR_CMD("MCPAuthCAFile", set_ca_file, NULL, TAKE1,
            "PEM file of CAs trusted for https fetches (default: the system store)"),
    DIR_CMD("MCPAuthMode", set_mode, NULL, TAKE1,
            "strict (default), optional or permissive"),
    DIR_CMD("MCPAuthBearerMethods", add_bearer_method, NULL, ITERATE,
            "Where a token is accepted: header (default), body, query"),
    DIR_CMD("MCPAuthProvider", set_provider, NULL, TAKE1,
            "Identity provider quirks: generic (default), keycloak, auth0, okta, entra, authentik"),
    DIR_CMD("MCPAuthClientID", set_client_id, NULL, TAKE1,
            "Pre-registered client id handed out by a local registration endpoint"),
    AP_INIT_FLAG("MCPAuthTrustForwarded", set_trust_forwarded, NULL, OR_AUTHCFG | ACCESS_CONF,
                 "On: build external URLs from X-Forwarded-Host/-Proto (default Off)"),
    DIR_CMD("MCPAuthCORSOrigins", add_cors_origin, NULL, ITERATE,
            "* or origins allowed to call from browsers (default: * for discovery, none for MCP)"),
    DIR_CMD("MCPAuthResourceMetadata", set_resource_metadata, NULL, TAKE2,
            "FIELD JSON: add or override a protected resource metadata field"),
    AP_INIT_TAKE1("AuthType", note_auth_type, NULL, OR_AUTHCFG | ACCESS_CONF,
                  "noted by mod_mcp_auth, handled by mod_authn_core"),
    AP_INIT_TAKE1("MCPAuthCache", set_cache, NULL, RSRC_CONF,
                  "Shared cache as socache PROVIDER[:ARGS] (default shmcb)"),
    { NULL }
};

/* ----------------------------------------------------------------------- */
/* Per-request helpers                                                      */

mcp_dir_conf_t *mcp_conf_of(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &mcp_auth_module);
}

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
        return apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, conf->resource, origin_len), PRM_PREFIX,
                           path ? apr_pstrmemdup(r->pool, path, path_len) : "", NULL);
    }
    return mcp_external_url(r, conf, apr_pstrcat(r->pool, PRM_PREFIX, mcp_location_path(r->pool, conf), NULL));
}

/* Whether word is one of the space-separated words of list (scopes are
 * case-sensitive and may share prefixes, so no ap_find_token here). */
static int has_word(const char *list, const char *word)
{
    apr_size_t n = strlen(word);
    const char *p = list;

    while ((p = strstr(p, word)) != NULL) {
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
            return 1;
        p += n;
    }
    return 0;
}

/* Adds the words of scopes that list lacks. */
static const char *add_words(apr_pool_t *p, const char *list, const apr_array_header_t *scopes)
{
    int i;

    for (i = 0; i < scopes->nelts; i++) {
        const char *s = APR_ARRAY_IDX(scopes, i, const char *);
        if (!has_word(list, s))
            list = *list ? apr_pstrcat(p, list, " ", s, NULL) : s;
    }
    return list;
}

/* MCP 2025-11-25 "Scope Selection Strategy": the challenge names the scopes
 * the location requires, else the ones it supports. */
static const char *scopes_of(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char *all = "";
    int i;

    for (i = 0; conf->scope_rules && i < conf->scope_rules->nelts; i++)
        all = add_words(r->pool, all, APR_ARRAY_IDX(conf->scope_rules, i, const apr_array_header_t *));
    if (*all)
        return all;
    if (conf->scopes_supported == NULL)
        return NULL;
    return apr_array_pstrcat(r->pool, conf->scopes_supported, ' ');
}

int mcp_deny(request_rec *r, const mcp_dir_conf_t *conf, int status, const char *error,
                const char *description)
{
    mcp_challenge_t c;

    c.resource_metadata = mcp_prm_url(r, conf);
    c.error = error;
    c.description = description;
    c.scope = scopes_of(r, conf);
    apr_table_setn(r->err_headers_out,
                   (PROXYREQ_PROXY == r->proxyreq) ? "Proxy-Authenticate" : "WWW-Authenticate",
                   mcp_challenge_header(r->pool, &c));
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    /* An ErrorDocument the administrator configured keeps precedence. */
    if (ap_response_code_string(r, ap_index_of_response(status)) == NULL) {
        ap_custom_response(r, status, mcp_challenge_body(r->pool, &c));
        apr_table_setn(r->notes, NOTE_JSON_ERROR, "1");
    }
    return status;
}

static apr_status_t json_error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* A header name compared with '-' and '_' as one: backends that map both to
 * the same variable (CGI, many frameworks) must not see a forged copy. */
static int same_header_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = *a == '_' ? '-' : apr_tolower(*a);
        char cb = *b == '_' ? '-' : apr_tolower(*b);
        if (ca != cb)
            return 0;
    }
    return *a == *b;
}

typedef struct scrub_ctx {
    const apr_array_header_t *claim_headers;
    apr_array_header_t *doomed;
} scrub_ctx_t;

static int collect_identity_header(void *data, const char *key, const char *value)
{
    scrub_ctx_t *ctx = data;
    int i;

    for (i = 0; i < ctx->claim_headers->nelts; i++) {
        if (same_header_name(key, APR_ARRAY_IDX(ctx->claim_headers, i, claim_header_t).header)) {
            APR_ARRAY_PUSH(ctx->doomed, const char *) = key;
            break;
        }
    }
    return 1;
}

/* Identity headers are ours to set: whatever the client sent is dropped on
 * every path, authenticated or not. */
static void scrub_identity_headers(request_rec *r, const mcp_dir_conf_t *conf)
{
    scrub_ctx_t ctx;
    int i;

    if (conf->claim_headers == NULL)
        return;
    ctx.claim_headers = conf->claim_headers;
    ctx.doomed = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(collect_identity_header, &ctx, r->headers_in, NULL);
    for (i = 0; i < ctx.doomed->nelts; i++)
        apr_table_unset(r->headers_in, APR_ARRAY_IDX(ctx.doomed, i, const char *));
}

static void set_identity_headers(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt)
{
    int i;

    for (i = 0; conf->claim_headers && i < conf->claim_headers->nelts; i++) {
        const claim_header_t *ch = &APR_ARRAY_IDX(conf->claim_headers, i, claim_header_t);
        const char *value = mcp_jwt_claim_string(r->pool, jwt, ch->claim);

        if (value)
            apr_table_setn(r->headers_in, ch->header, value);
    }
}

/* ----------------------------------------------------------------------- */
/* Authentication                                                           */

/* Token fields are the client's words: escaped, and cut short so that a
 * 16 KiB kid cannot turn each refused request into a 16 KiB log line. */
#define LOGGABLE_MAX 128

const char *mcp_loggable(request_rec *r, const char *s)
{
    if (s == NULL)
        return "-";
    if (strlen(s) > LOGGABLE_MAX)
        s = apr_pstrcat(r->pool, apr_pstrndup(r->pool, s, LOGGABLE_MAX), "...", NULL);
    return ap_escape_logitem(r->pool, s);
}

/* Runs every check on a presented token. Returns the verified token or NULL
 * with *why (for the client) and a log line written. */
static mcp_count_t claim_failure_kind(const char *why)
{
    static const struct {
        const char *why;
        mcp_count_t kind;
    } kinds[] = {
        { "token expired", MCP_COUNT_EXPIRED },
        { "token not yet valid", MCP_COUNT_NOT_YET_VALID },
        { "issuer mismatch", MCP_COUNT_ISSUER },
        { "audience mismatch", MCP_COUNT_AUDIENCE },
    };
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(why, kinds[i].why) == 0)
            return kinds[i].kind;
    }
    return MCP_COUNT_OTHER_CLAIM;
}

static mcp_jwt_t *validate(request_rec *r, const mcp_dir_conf_t *conf, const char *token,
                           apr_size_t len, const char **why, mcp_count_t *kind)
{
    mcp_jwt_t *jwt = NULL;
    const mcp_keyset_t *keys;
    mcp_jwt_policy_t policy;
    mcp_jwt_status_t st;
    apr_array_header_t *default_audience;
    unsigned char cache_key[MCP_TOKENCACHE_KEY_LEN];
    apr_time_t generation = 0;

    *kind = MCP_COUNT_MALFORMED;
    keys = mcp_keys_for(r, conf, 0, &generation);
    if (keys) {
        /* a token seen before skips decoding and the signature check */
        mcp_tokencache_key(token, len, cache_key);
        switch (mcp_tokencache_lookup(token_cache, cache_key, generation, r->pool, &jwt)) {
        case MCP_TC_VALID:
            goto check_claims;
        case MCP_TC_BAD_SIGNATURE:
            *why = "signature verification failed";
            *kind = MCP_COUNT_BAD_SIGNATURE;
            goto invalid;
        case MCP_TC_MISS:
            break;
        }
    }
    if (mcp_jwt_parse(r->pool, token, len, MCP_JWT_DEFAULT_MAX_LEN, conf->token_types, &jwt, why)
        != MCP_JWT_VALID)
        goto invalid;
    *kind = MCP_COUNT_KEYS_UNAVAILABLE;
    if (keys == NULL) {
        *why = "signing keys unavailable";
        goto invalid;
    }
    st = mcp_jwt_verify(jwt, keys, why);
    if (st == MCP_JWT_KEY_UNKNOWN) {
        /* maybe a rotation at the IdP: one throttled refetch decides */
        keys = mcp_keys_for(r, conf, 1, &generation);
        st = keys ? mcp_jwt_verify(jwt, keys, why) : MCP_JWT_INVALID;
    }
    if (st != MCP_JWT_VALID) {
        *kind = st == MCP_JWT_KEY_UNKNOWN ? MCP_COUNT_UNKNOWN_KID : MCP_COUNT_BAD_SIGNATURE;
        if (st == MCP_JWT_INVALID && keys)
            mcp_tokencache_store_bad(token_cache, cache_key, generation, TOKEN_CACHE_MAX_AGE);
        goto invalid;
    }
    mcp_tokencache_store_valid(token_cache, cache_key, generation, jwt, TOKEN_CACHE_MAX_AGE);

check_claims:
    policy.issuer = conf->issuer;
    policy.alt_issuer = conf->provider == MCP_PROVIDER_ENTRA
                            ? mcp_entra_other_issuer(r->pool, conf->issuer) : NULL;
    policy.leeway = clock_skew_of(conf);
    policy.audiences = conf->audiences;
    if (policy.audiences == NULL) {
        default_audience = apr_array_make(r->pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(default_audience, const char *) = mcp_resource_of(r, conf);
        policy.audiences = default_audience;
    }
    if (mcp_jwt_check_claims(jwt, &policy, (double)apr_time_now() / APR_USEC_PER_SEC, why)
        != MCP_JWT_VALID) {
        *kind = claim_failure_kind(*why);
        goto invalid;
    }
    *kind = MCP_COUNT_ACCEPTED;
    return jwt;

invalid:
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "MCPAUTH0001: rejected bearer token for %s: %s (alg %s, kid %s)", r->uri, *why,
                  jwt ? mcp_loggable(r, mcp_jwt_alg(jwt)) : "-", jwt ? mcp_loggable(r, mcp_jwt_kid(jwt)) : "-");
    return NULL;
}

/* What this request's token came to; worked out once per request. */
typedef enum { OUTCOME_NONE, OUTCOME_VALID, OUTCOME_INVALID, OUTCOME_MALFORMED } outcome_e;

typedef struct auth_state {
    outcome_e outcome;
    mcp_jwt_t *jwt;
    const char *user;       /* sub; becomes r->user in the authentication phase */
    const char *why;
} auth_state_t;

static int is_mcp_request(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type != NULL && strcasecmp(type, MCP_AUTH_TYPE) == 0;
}

/* The state of this request, or of the request it was derived from
 * (internal redirects and subrequests share the original's outcome). */
static auth_state_t *state_of(request_rec *r)
{
    for (; r; r = r->prev ? r->prev : r->main) {
        auth_state_t *st = ap_get_module_config(r->request_config, &mcp_auth_module);
        if (st)
            return st;
    }
    return NULL;
}

/* Finds, strips and validates the token; sets the identity on success. Every
 * path scrubs client-supplied identity headers. */
static auth_state_t *evaluate(request_rec *r, const mcp_dir_conf_t *conf)
{
    auth_state_t *st = state_of(r);
    mcp_presented_t presented;
    mcp_count_t kind;

    if (st)
        return st;
    st = apr_pcalloc(r->pool, sizeof(*st));
    ap_set_module_config(r->request_config, &mcp_auth_module, st);
    scrub_identity_headers(r, conf);

    mcp_find_token(r, bearer_methods_of(conf), &presented);
    switch (presented.result) {
    case MCP_TOKEN_ABSENT:
        st->outcome = OUTCOME_NONE;
        mcp_count(MCP_COUNT_NO_TOKEN);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0003: no bearer token for %s", r->uri);
        return st;
    case MCP_TOKEN_MALFORMED:
        st->outcome = OUTCOME_MALFORMED;
        st->why = presented.why;
        mcp_count(MCP_COUNT_INVALID_REQUEST);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0004: malformed token presentation for %s: %s",
                      r->uri, presented.why);
        return st;
    case MCP_TOKEN_PRESENT:
        break;
    }

    st->jwt = validate(r, conf, presented.token, presented.len, &st->why, &kind);
    if (st->jwt == NULL) {
        st->outcome = OUTCOME_INVALID;
        mcp_count(kind);
        return st;
    }
    st->user = mcp_jwt_claim_string(r->pool, st->jwt, "sub");
    if (st->user == NULL) {
        /* a sub with control characters cannot become REMOTE_USER */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "MCPAUTH0001: rejected bearer token for %s: unusable sub claim (alg %s, kid %s)",
                      r->uri, mcp_jwt_alg(st->jwt), mcp_loggable(r, mcp_jwt_kid(st->jwt)));
        st->outcome = OUTCOME_INVALID;
        st->why = "unusable sub claim";
        st->jwt = NULL;
        mcp_count(MCP_COUNT_OTHER_CLAIM);
        return st;
    }
    st->outcome = OUTCOME_VALID;
    mcp_count(MCP_COUNT_ACCEPTED);
    r->ap_auth_type = (char *)MCP_AUTH_TYPE;
    set_identity_headers(r, conf, st->jwt);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0005: accepted token for %s (alg %s, kid %s)",
                  mcp_loggable(r, st->user), mcp_jwt_alg(st->jwt), mcp_loggable(r, mcp_jwt_kid(st->jwt)));
    return st;
}

/* The modes decide what happens before authorization:
 *   strict      no token or a bad one: 401
 *   optional    no token: anonymous; a bad one: 401
 *   permissive  no token or a bad one: anonymous (a bad token is still stripped)
 * A malformed presentation is 400 in every mode. Anonymous requests then meet
 * the Require rules: one that needs a user leads to check_authn's 401. */
static int check_access(request_rec *r)
{
    mcp_dir_conf_t *conf;
    auth_state_t *st;
    int mode;

    if (!is_mcp_request(r))
        return DECLINED;
    conf = mcp_conf_of(r);
    if (conf->issuer == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MCPAUTH0002: AuthType MCP for %s without MCPAuthIssuer", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a CORS preflight never carries credentials: answered here, unauthenticated */
    if (r->method_number == M_OPTIONS && apr_table_get(r->headers_in, "Origin")
        && apr_table_get(r->headers_in, "Access-Control-Request-Method"))
        return mcp_cors_preflight(r, conf, 0, "GET, POST, DELETE, OPTIONS");
    mcp_cors_headers(r, conf, 0);
    mode = conf->mode == MODE_UNSET ? MODE_STRICT : conf->mode;
    st = evaluate(r, conf);
    switch (st->outcome) {
    case OUTCOME_MALFORMED:
        return mcp_deny(r, conf, HTTP_BAD_REQUEST, "invalid_request", st->why);
    case OUTCOME_INVALID:
        if (mode == MODE_PERMISSIVE)
            return DECLINED;
        return mcp_deny(r, conf, HTTP_UNAUTHORIZED, "invalid_token", st->why);
    case OUTCOME_NONE:
        if (mode == MODE_STRICT)
            return mcp_deny(r, conf, HTTP_UNAUTHORIZED, NULL, NULL);
        return DECLINED;
    case OUTCOME_VALID:
        break;
    }
    return DECLINED;
}

/* Reached when the Require rules need a user: the token has been judged
 * already; an anonymous request gets the challenge. */
static int check_authn(request_rec *r)
{
    mcp_dir_conf_t *conf;
    auth_state_t *st;

    if (!is_mcp_request(r))
        return DECLINED;
    conf = mcp_conf_of(r);
    st = evaluate(r, conf);
    if (st->outcome == OUTCOME_VALID) {
        r->user = (char *)st->user;
        return OK;
    }
    if (st->outcome == OUTCOME_INVALID)
        return mcp_deny(r, conf, HTTP_UNAUTHORIZED, "invalid_token", st->why);
    if (st->outcome == OUTCOME_MALFORMED)
        return mcp_deny(r, conf, HTTP_BAD_REQUEST, "invalid_request", st->why);
    return mcp_deny(r, conf, HTTP_UNAUTHORIZED, NULL, NULL);
}

/* Authorization failed after our authentication (e.g. Require user ...):
 * the client still gets a proper Bearer challenge. */
static int note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, MCP_AUTH_TYPE) != 0)
        return DECLINED;
    if (apr_table_get(r->err_headers_out, "WWW-Authenticate") == NULL)
        mcp_deny(r, mcp_conf_of(r), HTTP_UNAUTHORIZED, NULL, NULL);
    return OK;
}

/* ----------------------------------------------------------------------- */
/* Authorization: Require mcp-scope, Require mcp-claim                      */

/* RFC 6749 §3.3 / RFC 9068 §2.2.3: "scope" is one space-delimited string;
 * some IdPs (Entra, Okta) send "scp", as an array or a string. */
static int token_has_scope(const mcp_jwt_t *jwt, const char *scope)
{
    json_t *claims = mcp_jwt_claims(jwt);
    const char *names[] = { "scope", "scp" };
    size_t i, k;

    for (k = 0; k < 2; k++) {
        json_t *v = json_object_get(claims, names[k]), *e;

        if (json_is_string(v) && has_word(json_string_value(v), scope))
            return 1;
        if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if (json_is_string(e) && strcmp(json_string_value(e), scope) == 0)
                    return 1;
            }
        }
    }
    return 0;
}

static int token_has_scopes(const mcp_jwt_t *jwt, const apr_array_header_t *scopes)
{
    int i;

    for (i = 0; i < scopes->nelts; i++) {
        if (!token_has_scope(jwt, APR_ARRAY_IDX(scopes, i, const char *)))
            return 0;
    }
    return 1;
}

/* One challenge names everything the location asks for that this token
 * lacks: httpd stops at the first denied rule of a <RequireAll>, yet the
 * client should step up once, not once per rule (MCP 2025-11-25). */
static void note_needed_scopes(request_rec *r, const mcp_jwt_t *jwt)
{
    const mcp_dir_conf_t *conf = mcp_conf_of(r);
    const char *have = apr_table_get(r->notes, NOTE_SCOPE_NEEDED);
    const char *all = have ? have : "";
    int i;

    for (i = 0; conf->scope_rules && i < conf->scope_rules->nelts; i++) {
        const apr_array_header_t *rule = APR_ARRAY_IDX(conf->scope_rules, i, const apr_array_header_t *);
        if (!token_has_scopes(jwt, rule))
            all = add_words(r->pool, all, rule);
    }
    apr_table_setn(r->notes, NOTE_SCOPE_NEEDED, all);
}

static const char *parse_scope_require(cmd_parms *cmd, const char *require_line,
                                       const void **parsed)
{
    apr_array_header_t *scopes = apr_array_make(cmd->pool, 4, sizeof(const char *));
    const char *line = require_line, *w;
    mcp_dir_conf_t *conf = ap_get_module_config(cmd->context, &mcp_auth_module);

    while (*line && (w = ap_getword_conf(cmd->pool, &line)) && *w) {
        if (!is_scope_token(w))
            return apr_psprintf(cmd->pool, "Require mcp-scope: '%s' is not a valid scope token", w);
        APR_ARRAY_PUSH(scopes, const char *) = w;
    }
    if (scopes->nelts == 0)
        return "Require mcp-scope needs at least one scope";
    /* remembered per section so the challenges can ask for them */
    if (conf) {
        if (conf->scope_rules == NULL)
            conf->scope_rules = apr_array_make(cmd->pool, 2, sizeof(const apr_array_header_t *));
        APR_ARRAY_PUSH(conf->scope_rules, const apr_array_header_t *) = scopes;
    }
    *parsed = scopes;
    return NULL;
}

static authz_status check_scope(request_rec *r, const char *require_line, const void *parsed)
{
    const apr_array_header_t *scopes = parsed;
    auth_state_t *st = state_of(r);

    /* without a user yet, httpd asks again after authentication */
    if (st == NULL || st->outcome != OUTCOME_VALID || r->user == NULL)
        return AUTHZ_DENIED_NO_USER;
    if (token_has_scopes(st->jwt, scopes))
        return AUTHZ_GRANTED;
    note_needed_scopes(r, st->jwt);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0006: %s lacks scope %s for %s",
                  mcp_loggable(r, r->user), ap_escape_logitem(r->pool, apr_array_pstrcat(r->pool, scopes, ' ')),
                  r->uri);
    return AUTHZ_DENIED;
}

typedef struct claim_rule {
    const char *name;
    const char *value;
} claim_rule_t;

static const char *parse_claim_require(cmd_parms *cmd, const char *require_line,
                                       const void **parsed)
{
    claim_rule_t *rule = apr_pcalloc(cmd->pool, sizeof(*rule));
    const char *line = require_line;

    rule->name = ap_getword_conf(cmd->pool, &line);
    rule->value = ap_getword_conf(cmd->pool, &line);
    if (!*rule->name || !*rule->value || *line)
        return "Require mcp-claim takes a claim name and one value";
    *parsed = rule;
    return NULL;
}

static json_t *claim_at(json_t *claims, const char *name, apr_pool_t *p)
{
    char *path, *part, *state = NULL;
    json_t *v = json_object_get(claims, name);

    if (v || !strchr(name, '.'))
        return v;
    path = apr_pstrdup(p, name);
    v = claims;
    for (part = apr_strtok(path, ".", &state); part && v; part = apr_strtok(NULL, ".", &state))
        v = json_is_object(v) ? json_object_get(v, part) : NULL;
    return v;
}

/* Strings compare exactly; booleans and integers by their JSON text. */
static int claim_value_matches(json_t *v, const char *want, apr_pool_t *p)
{
    if (json_is_string(v))
        return strcmp(json_string_value(v), want) == 0;
    if (json_is_boolean(v))
        return strcmp(want, json_is_true(v) ? "true" : "false") == 0;
    if (json_is_integer(v))
        return strcmp(want, apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v))) == 0;
    return 0;
}

static authz_status check_claim(request_rec *r, const char *require_line, const void *parsed)
{
    const claim_rule_t *rule = parsed;
    auth_state_t *st = state_of(r);
    json_t *v, *e;
    size_t i;

    if (st == NULL || st->outcome != OUTCOME_VALID || r->user == NULL)
        return AUTHZ_DENIED_NO_USER;
    v = claim_at(mcp_jwt_claims(st->jwt), rule->name, r->pool);
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) {
            if (claim_value_matches(e, rule->value, r->pool))
                return AUTHZ_GRANTED;
        }
    }
    else if (v && claim_value_matches(v, rule->value, r->pool)) {
        return AUTHZ_GRANTED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0007: %s: claim %s does not hold %s for %s",
                  mcp_loggable(r, r->user), rule->name, mcp_loggable(r, rule->value), r->uri);
    return AUTHZ_DENIED;
}

static const authz_provider scope_provider = { check_scope, parse_scope_require };
static const authz_provider claim_provider = { check_claim, parse_claim_require };

/* Runs when httpd builds an error response. A failed Require mcp-scope
 * becomes 403 insufficient_scope here, and only here: a denied branch of a
 * <RequireAny> that another branch allowed leaves no trace (RFC 6750 §3.1,
 * MCP 2025-11-25 "Runtime Insufficient Scope Errors"). mod_authz_core
 * answers 401 unless AuthzSendForbiddenOnFailure is on; a valid token
 * lacking scope is a 403 either way. */
static void insert_error_filter(request_rec *r)
{
    const char *needed = apr_table_get(r->notes, NOTE_SCOPE_NEEDED);

    if (needed && (r->status == HTTP_UNAUTHORIZED || r->status == HTTP_FORBIDDEN)
        && is_mcp_request(r)) {
        mcp_dir_conf_t *conf = mcp_conf_of(r);
        mcp_challenge_t c;
        int idx = ap_index_of_response(r->status);

        c.resource_metadata = mcp_prm_url(r, conf);
        c.error = "insufficient_scope";
        c.description = "the token lacks a required scope";
        c.scope = needed;
        apr_table_setn(r->err_headers_out, "WWW-Authenticate", mcp_challenge_header(r->pool, &c));
        if (ap_response_code_string(r, idx) == NULL
            || apr_table_get(r->notes, NOTE_JSON_ERROR)) {
            /* the body is looked up by the status httpd started with */
            ap_custom_response(r, r->status, mcp_challenge_body(r->pool, &c));
            apr_table_setn(r->notes, NOTE_JSON_ERROR, "1");
        }
        r->status = HTTP_FORBIDDEN;
        r->status_line = NULL;
        mcp_count(MCP_COUNT_INSUFFICIENT_SCOPE);
    }
    else if (r->status == HTTP_FORBIDDEN && is_mcp_request(r)
             && apr_table_get(r->err_headers_out, "WWW-Authenticate") == NULL) {
        /* a denied Require (AuthzSendForbiddenOnFailure On) still tells the
         * client where the resource's metadata is */
        mcp_challenge_t c = { mcp_prm_url(r, mcp_conf_of(r)), NULL, NULL, NULL };

        apr_table_setn(r->err_headers_out, "WWW-Authenticate", mcp_challenge_header(r->pool, &c));
    }
    if (apr_table_get(r->notes, NOTE_JSON_ERROR))
        ap_add_output_filter(JSON_ERROR_FILTER, NULL, r, r->connection);
}

/* Requests that reach the handler without our check (Require all granted
 * with another AuthType's module, say) still lose the token and any
 * client-supplied identity header. */
static int fixups(request_rec *r)
{
    auth_state_t *st;

    if (!is_mcp_request(r) || mcp_conf_of(r)->issuer == NULL)
        return DECLINED;
    st = evaluate(r, mcp_conf_of(r));
    /* authorization granted without asking who it is (Require all granted):
     * the valid token's identity still goes along */
    if (st->outcome == OUTCOME_VALID && r->user == NULL)
        r->user = (char *)st->user;
    return DECLINED;
}

/* ----------------------------------------------------------------------- */
/* RFC 9728 metadata                                                        */

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
    mcp_server_conf_t *sconf = ap_get_module_config(r->server->module_config, &mcp_auth_module);
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

int mcp_method_not_allowed(request_rec *r, const mcp_dir_conf_t *conf, const char *allow)
{
    char *methods = apr_pstrdup(r->pool, allow), *m, *state = NULL;

    ap_clear_method_list(r->allowed_methods);
    r->allowed = 0;
    for (m = apr_strtok(methods, ", ", &state); m; m = apr_strtok(NULL, ", ", &state))
        ap_method_list_add(r->allowed_methods, m);
    mcp_cors_headers(r, conf, 1);
    return HTTP_METHOD_NOT_ALLOWED;
}

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
static int metadata_handler(request_rec *r, int lookup_uri)
{
    const protected_location_t *pl;
    const mcp_dir_conf_t *conf;
    apr_array_header_t *servers;
    mcp_prm_t prm;
    const char *body;

    if (lookup_uri)
        return DECLINED;
    if (strncmp(r->uri, PRM_PREFIX, sizeof(PRM_PREFIX) - 1) != 0
        || (r->uri[sizeof(PRM_PREFIX) - 1] != '\0' && r->uri[sizeof(PRM_PREFIX) - 1] != '/'))
        return mcp_endpoints_handler(r);
    pl = mcp_find_protected(r, r->uri + sizeof(PRM_PREFIX) - 1);
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
    prm.bearer_methods = bearer_method_names(r->pool, bearer_methods_of(conf));
    prm.extra = conf->resource_metadata;
    body = mcp_prm_json(r->pool, &prm);
    if (body == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;

    return mcp_send_json(r, HTTP_OK, "public, max-age=3600", body);
}

/* ----------------------------------------------------------------------- */
/* Startup                                                                  */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    cache_provider = NULL;
    cache_instance = NULL;
    mcp_cache_provider_name = NULL;
    return ap_mutex_register(pconf, CACHE_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
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

/* A section below this one (by path) that names an issuer makes an issuer-less
 * AuthType MCP parent legitimate. */
static int issuer_set_below(apr_array_header_t *sections, int index)
{
    ap_conf_vector_t **sec = (ap_conf_vector_t **)sections->elts;
    core_dir_config *parent = ap_get_core_module_config(sec[index]);
    int i;

    for (i = 0; i < sections->nelts; i++) {
        core_dir_config *cd = ap_get_core_module_config(sec[i]);
        mcp_dir_conf_t *conf = ap_get_module_config(sec[i], &mcp_auth_module);

        if (i != index && conf && conf->issuer && is_prefix_location(parent, cd))
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

        if (own == NULL || own->auth_type_mcp != 1)
            continue;
        conf = effective_conf(p, s, sections, i, &per_dir);
        if (conf->issuer == NULL && !issuer_set_below(sections, i)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0020: AuthType MCP in <%s %s> needs MCPAuthIssuer",
                         is_location ? "Location" : "Directory", cd->d ? cd->d : "?");
            return 0;
        }
        if (is_location && conf->issuer && cd->r == NULL && cd->d && cd->d[0] == '/') {
            pl = apr_array_push(sconf->protected);
            pl->conf = conf;
            pl->per_dir = per_dir;
            pl->path = mcp_location_path(p, conf);
            if ((conf->provider == MCP_PROVIDER_AUTHENTIK || conf->provider == MCP_PROVIDER_ENTRA)
                && conf->client_id == NULL)
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                             "MCPAUTH0027: <Location %s>: MCPAuthProvider %s has no dynamic client "
                             "registration; set MCPAuthClientID", cd->d, provider_names[conf->provider]);
        }
    }
    return 1;
}

static apr_status_t destroy_cache(void *data)
{
    server_rec *s = data;

    if (cache_provider && cache_instance)
        cache_provider->destroy(cache_instance, s);
    cache_instance = NULL;
    return APR_SUCCESS;
}

static int init_cache(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    static const struct ap_socache_hints hints = { 72, CACHE_AVG_OBJECT, 0 };
    const char *err;
    apr_status_t rv;

    if (cache_provider == NULL) {
        cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, DEFAULT_CACHE_PROVIDER,
                                            AP_SOCACHE_PROVIDER_VERSION);
        if (cache_provider == NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0021: the shared cache needs mod_socache_shmcb "
                         "(a2enmod socache_shmcb) or an MCPAuthCache provider");
            return 0;
        }
        err = cache_provider->create(
            &cache_instance,
            apr_psprintf(ptemp, "%s(%d)", ap_runtime_dir_relative(ptemp, "mcp_auth_cache"),
                         DEFAULT_CACHE_SIZE),
            ptemp, pconf);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MCPAUTH0022: shared cache: %s", err);
            return 0;
        }
        mcp_cache_provider_name = DEFAULT_CACHE_PROVIDER;
    }
    shared_cache.mutex = NULL;
    if (cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&shared_cache.mutex, NULL, CACHE_MUTEX_TYPE, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "MCPAUTH0023: cannot create the cache mutex");
            return 0;
        }
    }
    rv = cache_provider->init(cache_instance, "mcp-auth", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "MCPAUTH0024: cannot initialise the %s cache",
                     mcp_cache_provider_name);
        return 0;
    }
    apr_pool_cleanup_register(pconf, s, destroy_cache, apr_pool_cleanup_null);
    shared_cache.provider = cache_provider;
    shared_cache.instance = cache_instance;
    shared_cache.server = s;
    return 1;
}

/* Checks every virtual host's sections and records its protected locations.
 * Returns how many there are, or -1 after logging a configuration error. */
static int find_protected_locations(apr_pool_t *pconf, server_rec *s)
{
    server_rec *vs;
    int protected = 0;

    for (vs = s; vs; vs = vs->next) {
        core_server_config *core = ap_get_core_module_config(vs->module_config);
        mcp_server_conf_t *sconf = ap_get_module_config(vs->module_config, &mcp_auth_module);

        sconf->protected->nelts = 0;
        if (!check_sections(pconf, vs, core->sec_url, 1, sconf)
            || !check_sections(pconf, vs, core->sec_dir, 0, sconf))
            return -1;
        protected += sconf->protected->nelts;
    }
    return protected;
}

/* apachectl -t runs no post_config: the same checks must fail it here. */
static void test_config(apr_pool_t *pconf, server_rec *s)
{
    if (find_protected_locations(pconf, s) < 0)
        exit(1);
    if (cache_provider == NULL
        && ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, DEFAULT_CACHE_PROVIDER,
                              AP_SOCACHE_PROVIDER_VERSION) == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     "MCPAUTH0021: the shared cache needs mod_socache_shmcb "
                     "(a2enmod socache_shmcb) or an MCPAuthCache provider");
        exit(1);
    }
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int protected = find_protected_locations(pconf, s);

    if (protected < 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK; /* the dry run of startup: no shared memory yet */

    if (!curl_ready) {
        mcp_fetch_global_init(); /* once, while the parent has no threads */
        curl_ready = 1;
    }
    if (!init_cache(pconf, ptemp, s))
        return HTTP_INTERNAL_SERVER_ERROR;
    mcp_counters_init(pconf);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "MCPAUTH0025: %d protected location(s), shared cache %s", protected,
                 mcp_cache_provider_name);
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (shared_cache.mutex) {
        rv = apr_global_mutex_child_init(&shared_cache.mutex,
                                         apr_global_mutex_lockfile(shared_cache.mutex), pchild);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "MCPAUTH0026: cache mutex child init failed");
    }
    mcp_tokencache_create(&token_cache, pchild, TOKEN_CACHE_SLOTS);
    mcp_docstore_create(&mcp_docstore_instance, pchild, shared_cache.instance ? &shared_cache : NULL);
    mcp_discovery_hits = apr_hash_make(pchild);
    apr_thread_mutex_create(&mcp_discovery_mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(metadata_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(mcp_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, mcp_server_status_section, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_access(check_access, NULL, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "mcp-scope", AUTHZ_PROVIDER_VERSION,
                              &scope_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "mcp-claim", AUTHZ_PROVIDER_VERSION,
                              &claim_provider, AP_AUTH_INTERNAL_PER_CONF);
    mcp_presentation_register(p);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter(JSON_ERROR_FILTER, json_error_filter, NULL, AP_FTYPE_CONTENT_SET);
    ap_register_output_filter(CORS_FILTER, mcp_cors_filter, NULL, AP_FTYPE_CONTENT_SET);
}

AP_DECLARE_MODULE(mcp_auth) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    NULL,
    mcp_auth_cmds,
    register_hooks
};
