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

#include <apr_strings.h>
#include <apr_lib.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>
#include <mod_auth.h>
#include <mod_core.h>

#include "mcp_cache.h"
#include "mcp_challenge.h"
#include "mcp_discovery.h"
#include "mcp_docstore.h"
#include "mcp_fetch.h"
#include "mcp_jwks.h"
#include "mcp_jwt.h"
#include "mcp_metadata.h"
#include "mcp_token.h"

module AP_MODULE_DECLARE_DATA mcp_auth_module;


#define MCP_AUTH_TYPE "MCP"
#define PRM_PREFIX "/.well-known/oauth-protected-resource"
#define CACHE_MUTEX_TYPE "mcp-auth-cache"
#define NOTE_JSON_ERROR "mcp_auth.json_error"
#define JSON_ERROR_FILTER "MCP_AUTH_JSON_ERROR"

/* The default shared cache: anonymous shared memory, with room for a JWKS of
 * the full response cap in one shmcb subcache. */
#define DEFAULT_CACHE_PROVIDER "shmcb"
#define DEFAULT_CACHE_SIZE 8388608
#define CACHE_AVG_OBJECT (128 * 1024)

#define DEFAULT_CLOCK_SKEW 60

typedef enum { MODE_UNSET = -1, MODE_STRICT, MODE_OPTIONAL, MODE_PERMISSIVE } mcp_mode_e;

enum {
    BEARER_HEADER = 1 << 0, /* RFC 6750 §2.1 */
    BEARER_BODY = 1 << 1,   /* §2.2 */
    BEARER_QUERY = 1 << 2   /* §2.3 */
};

typedef enum {
    PROVIDER_UNSET = -1,
    PROVIDER_GENERIC,
    PROVIDER_KEYCLOAK,
    PROVIDER_AUTH0,
    PROVIDER_OKTA,
    PROVIDER_ENTRA,
    PROVIDER_AUTHENTIK
} mcp_provider_e;

static const char *const provider_names[] = { "generic", "keycloak", "auth0", "okta", "entra",
                                              "authentik", NULL };

typedef struct claim_header {
    const char *claim;
    const char *header;
} claim_header_t;

typedef struct mcp_dir_conf {
    const char *location;          /* the <Location> path this config came from */
    int auth_type_mcp;             /* -1 unset: recorded from AuthType for startup checks */
    const char *issuer;
    const char *jwks_uri;
    const char *resource;
    apr_array_header_t *audiences;
    apr_array_header_t *scopes_supported;
    apr_array_header_t *claim_headers;
    apr_table_t *resource_metadata;
    int clock_skew;
    int mode;
    int bearer_methods;
    int provider;
} mcp_dir_conf_t;

/* A location protected by AuthType MCP, found at startup, for the metadata
 * handler (which runs before any per-directory lookup). */
typedef struct protected_location {
    const char *path;
    const mcp_dir_conf_t *conf;
} protected_location_t;

typedef struct mcp_server_conf {
    apr_array_header_t *protected;  /* of protected_location_t */
} mcp_server_conf_t;

/* Server-wide state, shared by every virtual host. */
static const ap_socache_provider_t *cache_provider;
static ap_socache_instance_t *cache_instance;
static const char *cache_provider_name;
static mcp_cache_t shared_cache;
static mcp_docstore_t *docstore;
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
    conf->mode = MODE_UNSET;
    conf->provider = PROVIDER_UNSET;
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
    MERGE_PTR(claim_headers);
    MERGE_PTR(resource_metadata);
    MERGE_INT(clock_skew, -1);
    MERGE_INT(mode, MODE_UNSET);
    MERGE_INT(bearer_methods, 0);
    MERGE_INT(provider, PROVIDER_UNSET);
    return conf;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    mcp_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->protected = apr_array_make(p, 2, sizeof(protected_location_t));
    return conf;
}

static int clock_skew_of(const mcp_dir_conf_t *conf)
{
    return conf->clock_skew >= 0 ? conf->clock_skew : DEFAULT_CLOCK_SKEW;
}

static int bearer_methods_of(const mcp_dir_conf_t *conf)
{
    return conf->bearer_methods ? conf->bearer_methods : BEARER_HEADER;
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

static const char *add_audience(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (conf->audiences == NULL)
        conf->audiences = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(conf->audiences, const char *) = arg;
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
    if (conf->scopes_supported == NULL)
        conf->scopes_supported = apr_array_make(cmd->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(conf->scopes_supported, const char *) = arg;
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

static const char *set_clock_skew(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    char *end;
    long v = strtol(arg, &end, 10);

    if (*arg == '\0' || *end != '\0' || v < 0 || v > 3600)
        return apr_psprintf(cmd->pool, "MCPAuthClockSkew: '%s' is not a number of seconds from 0 to 3600", arg);
    conf->clock_skew = (int)v;
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
        conf->bearer_methods |= BEARER_HEADER;
    else if (strcasecmp(arg, "body") == 0)
        conf->bearer_methods |= BEARER_BODY;
    else if (strcasecmp(arg, "query") == 0)
        conf->bearer_methods |= BEARER_QUERY;
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
            conf->provider = i;
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "MCPAuthProvider: unknown provider '%s' (use generic, keycloak, "
                        "auth0, okta, entra or authentik)", arg);
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
    cache_provider_name = name;
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
    DIR_CMD("MCPAuthClockSkew", set_clock_skew, NULL, TAKE1,
            "Seconds of leeway for exp, nbf and iat (default 60)"),
    DIR_CMD("MCPAuthMode", set_mode, NULL, TAKE1,
            "strict (default), optional or permissive"),
    DIR_CMD("MCPAuthBearerMethods", add_bearer_method, NULL, ITERATE,
            "Where a token is accepted: header (default), body, query"),
    DIR_CMD("MCPAuthProvider", set_provider, NULL, TAKE1,
            "Identity provider quirks: generic (default), keycloak, auth0, okta, entra, authentik"),
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

static mcp_dir_conf_t *dir_conf(request_rec *r)
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

static const char *external_url(request_rec *r, const char *path)
{
    if (r->hostname && !names_this_vhost(r, r->hostname)) {
        apr_port_t port = r->server->port ? r->server->port : r->connection->local_addr->port;

        return apr_psprintf(r->pool, "%s://%s%s%s", ap_http_scheme(r), r->server->server_hostname,
                            ap_is_default_port(port, r) ? "" : apr_psprintf(r->pool, ":%u", port),
                            path);
    }
    return ap_construct_url(r->pool, path, r);
}

/* The <Location> path without trailing slashes ("" for "/" or none). */
static const char *location_path(apr_pool_t *p, const mcp_dir_conf_t *conf)
{
    apr_size_t len;

    if (conf->location == NULL || conf->location[0] != '/')
        return "";
    len = strlen(conf->location);
    while (len > 0 && conf->location[len - 1] == '/')
        len--;
    return apr_pstrmemdup(p, conf->location, len);
}

static const char *resource_of(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char *path;

    if (conf->resource)
        return conf->resource;
    path = location_path(r->pool, conf);
    return external_url(r, *path ? path : "/");
}

/* RFC 9728 §3.1: the well-known suffix goes between host and path. */
static const char *prm_url(request_rec *r, const mcp_dir_conf_t *conf)
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
    return external_url(r, apr_pstrcat(r->pool, PRM_PREFIX, location_path(r->pool, conf), NULL));
}

static const char *scopes_of(request_rec *r, const mcp_dir_conf_t *conf)
{
    if (conf->scopes_supported == NULL)
        return NULL;
    return apr_array_pstrcat(r->pool, conf->scopes_supported, ' ');
}

/* Sends the Bearer challenge and a small JSON body with status. */
static int deny(request_rec *r, const mcp_dir_conf_t *conf, int status, const char *error,
                const char *description)
{
    mcp_challenge_t c;

    c.resource_metadata = prm_url(r, conf);
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

/* httpd labels every error body text/html; ours is JSON. */
static void insert_error_filter(request_rec *r)
{
    if (apr_table_get(r->notes, NOTE_JSON_ERROR))
        ap_add_output_filter(JSON_ERROR_FILTER, NULL, r, r->connection);
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
/* Keys                                                                     */

static void *parse_jwks(apr_pool_t *pool, const char *body, apr_size_t len, const void *ctx,
                        const char **err)
{
    return mcp_jwks_parse(pool, body, len, err);
}

/* Where the issuer's discovery document was last found, per process, so that
 * a 404 on the first candidate is not paid on every request. */
static apr_hash_t *discovery_hits;
static apr_thread_mutex_t *discovery_mutex;

static const char *discover_jwks_uri(request_rec *r, const mcp_dir_conf_t *conf, const char **err)
{
    const char *candidates[3], *hit;
    const mcp_doc_t *doc;
    int i, n = 0;

    apr_thread_mutex_lock(discovery_mutex);
    hit = apr_hash_get(discovery_hits, conf->issuer, APR_HASH_KEY_STRING);
    apr_thread_mutex_unlock(discovery_mutex);
    if (hit)
        candidates[n++] = hit;
    candidates[n++] = mcp_discovery_url_rfc8414(r->pool, conf->issuer);
    candidates[n++] = mcp_discovery_url_oidc(r->pool, conf->issuer);

    for (i = 0; i < n; i++) {
        if (i > 0 && hit && strcmp(candidates[i], hit) == 0)
            continue;
        doc = mcp_docstore_get(docstore, candidates[i], mcp_discovery_parse, conf->issuer,
                               &default_doc_policy, 0, r->pool, err);
        if (doc) {
            if (*err)
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MCPAUTH0010: %s", *err);
            if (hit == NULL || strcmp(hit, candidates[i]) != 0) {
                apr_thread_mutex_lock(discovery_mutex);
                apr_hash_set(discovery_hits, apr_pstrdup(apr_hash_pool_get(discovery_hits), conf->issuer),
                             APR_HASH_KEY_STRING,
                             apr_pstrdup(apr_hash_pool_get(discovery_hits), candidates[i]));
                apr_thread_mutex_unlock(discovery_mutex);
            }
            return ((const mcp_discovery_t *)doc->parsed)->jwks_uri;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0011: discovery at %s: %s",
                      candidates[i], *err);
    }
    *err = apr_psprintf(r->pool, "no discovery document for issuer %s (tried %s and %s)",
                        conf->issuer, candidates[n - 2], candidates[n - 1]);
    return NULL;
}

static const mcp_keyset_t *keys_for(request_rec *r, const mcp_dir_conf_t *conf, int force)
{
    const char *uri = conf->jwks_uri, *err = NULL;
    const mcp_doc_t *doc;

    if (uri == NULL && (uri = discover_jwks_uri(r, conf, &err)) == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0012: %s", err);
        return NULL;
    }
    doc = mcp_docstore_get(docstore, uri, parse_jwks, NULL, &default_doc_policy, force, r->pool, &err);
    if (doc == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0013: no signing keys: %s", err);
        return NULL;
    }
    if (err)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MCPAUTH0014: %s", err);
    return doc->parsed;
}

/* ----------------------------------------------------------------------- */
/* Authentication                                                           */

static const char *loggable(request_rec *r, const char *s)
{
    return s ? ap_escape_logitem(r->pool, s) : "-";
}

/* Runs every check on a presented token. Returns the verified token or NULL
 * with *why (for the client) and a log line written. */
static mcp_jwt_t *validate(request_rec *r, const mcp_dir_conf_t *conf, const char *token,
                           apr_size_t len, const char **why)
{
    mcp_jwt_t *jwt;
    const mcp_keyset_t *keys;
    mcp_jwt_policy_t policy;
    mcp_jwt_status_t st;
    apr_array_header_t *default_audience;

    if (mcp_jwt_parse(r->pool, token, len, MCP_JWT_DEFAULT_MAX_LEN, &jwt, why) != MCP_JWT_VALID)
        goto invalid;
    keys = keys_for(r, conf, 0);
    if (keys == NULL) {
        *why = "signing keys unavailable";
        goto invalid;
    }
    st = mcp_jwt_verify(jwt, keys, why);
    if (st == MCP_JWT_KEY_UNKNOWN) {
        /* maybe a rotation at the IdP: one throttled refetch decides */
        keys = keys_for(r, conf, 1);
        st = keys ? mcp_jwt_verify(jwt, keys, why) : MCP_JWT_INVALID;
    }
    if (st != MCP_JWT_VALID)
        goto invalid;

    policy.issuer = conf->issuer;
    policy.leeway = clock_skew_of(conf);
    policy.audiences = conf->audiences;
    if (policy.audiences == NULL) {
        default_audience = apr_array_make(r->pool, 1, sizeof(const char *));
        APR_ARRAY_PUSH(default_audience, const char *) = resource_of(r, conf);
        policy.audiences = default_audience;
    }
    if (mcp_jwt_check_claims(jwt, &policy, (double)apr_time_now() / APR_USEC_PER_SEC, why)
        != MCP_JWT_VALID)
        goto invalid;
    return jwt;

invalid:
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  "MCPAUTH0001: rejected bearer token for %s: %s (alg %s, kid %s)", r->uri, *why,
                  jwt ? loggable(r, mcp_jwt_alg(jwt)) : "-", jwt ? loggable(r, mcp_jwt_kid(jwt)) : "-");
    return NULL;
}

static int check_authn(request_rec *r)
{
    const char *type = ap_auth_type(r), *header, *token, *why;
    mcp_dir_conf_t *conf;
    unsigned long len;
    mcp_jwt_t *jwt;

    if (type == NULL || strcasecmp(type, MCP_AUTH_TYPE) != 0)
        return DECLINED;
    conf = dir_conf(r);
    scrub_identity_headers(r, conf);
    if (conf->issuer == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MCPAUTH0002: AuthType MCP for %s without MCPAuthIssuer", r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    header = apr_table_get(r->headers_in, "Authorization");
    switch (mcp_token_from_authorization(header, &token, &len, &why)) {
    case MCP_TOKEN_ABSENT:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0003: no bearer token for %s", r->uri);
        return deny(r, conf, HTTP_UNAUTHORIZED, NULL, NULL);
    case MCP_TOKEN_MALFORMED:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0004: malformed Authorization for %s: %s",
                      r->uri, why);
        return deny(r, conf, HTTP_BAD_REQUEST, "invalid_request", why);
    case MCP_TOKEN_PRESENT:
        break;
    }

    jwt = validate(r, conf, token, len, &why);
    if (jwt == NULL)
        return deny(r, conf, HTTP_UNAUTHORIZED, "invalid_token", why);

    r->user = (char *)mcp_jwt_claim_string(r->pool, jwt, "sub");
    if (r->user == NULL) {
        /* sub with control characters cannot become REMOTE_USER */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "MCPAUTH0001: rejected bearer token for %s: unusable sub claim (alg %s, kid %s)",
                      r->uri, mcp_jwt_alg(jwt), loggable(r, mcp_jwt_kid(jwt)));
        return deny(r, conf, HTTP_UNAUTHORIZED, "invalid_token", "unusable sub claim");
    }
    r->ap_auth_type = (char *)MCP_AUTH_TYPE;
    ap_set_module_config(r->request_config, &mcp_auth_module, jwt);
    /* MCP forbids token passthrough: the backend never sees the token. */
    apr_table_unset(r->headers_in, "Authorization");
    set_identity_headers(r, conf, jwt);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0005: accepted token for %s (alg %s, kid %s)",
                  loggable(r, r->user), mcp_jwt_alg(jwt), loggable(r, mcp_jwt_kid(jwt)));
    return OK;
}

/* Authorization failed after our authentication (e.g. Require user ...) or
 * no authentication ran: the client still gets a proper Bearer challenge. */
static int note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, MCP_AUTH_TYPE) != 0)
        return DECLINED;
    if (apr_table_get(r->err_headers_out, "WWW-Authenticate") == NULL)
        deny(r, dir_conf(r), HTTP_UNAUTHORIZED, NULL, NULL);
    return OK;
}

/* Requests that reach the backend without our check (Require all granted,
 * or another module authenticated them) still lose the token and any
 * client-supplied identity header. */
static int fixups(request_rec *r)
{
    const char *type = ap_auth_type(r);
    mcp_dir_conf_t *conf;

    if (type == NULL || strcasecmp(type, MCP_AUTH_TYPE) != 0)
        return DECLINED;
    if (ap_get_module_config(r->request_config, &mcp_auth_module) != NULL)
        return DECLINED;
    conf = dir_conf(r);
    scrub_identity_headers(r, conf);
    apr_table_unset(r->headers_in, "Authorization");
    return DECLINED;
}

/* ----------------------------------------------------------------------- */
/* RFC 9728 metadata                                                        */

/* The path under which a location's metadata is published: the configured
 * resource's path when there is one, else the location's own path. */
static const char *published_path(apr_pool_t *p, const protected_location_t *pl)
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

static const protected_location_t *find_protected(request_rec *r, const char *suffix)
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
        const char *path = published_path(r->pool, pl);

        if (strlen(path) == len && strncmp(path, suffix, len) == 0)
            return pl;
    }
    return NULL;
}

static const apr_array_header_t *bearer_method_names(apr_pool_t *p, int methods)
{
    apr_array_header_t *names = apr_array_make(p, 3, sizeof(const char *));

    if (methods & BEARER_HEADER)
        APR_ARRAY_PUSH(names, const char *) = "header";
    if (methods & BEARER_BODY)
        APR_ARRAY_PUSH(names, const char *) = "body";
    if (methods & BEARER_QUERY)
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

    if (strncmp(r->uri, PRM_PREFIX, sizeof(PRM_PREFIX) - 1) != 0)
        return DECLINED;
    if (r->uri[sizeof(PRM_PREFIX) - 1] != '\0' && r->uri[sizeof(PRM_PREFIX) - 1] != '/')
        return DECLINED;
    pl = find_protected(r, r->uri + sizeof(PRM_PREFIX) - 1);
    if (pl == NULL || lookup_uri)
        return DECLINED;
    conf = pl->conf;

    apr_table_setn(r->headers_out, "Access-Control-Allow-Origin", "*");
    if (r->method_number == M_OPTIONS) {
        apr_table_setn(r->headers_out, "Access-Control-Allow-Methods", "GET, OPTIONS");
        apr_table_setn(r->headers_out, "Access-Control-Allow-Headers",
                       "Content-Type, Mcp-Protocol-Version");
        apr_table_setn(r->headers_out, "Access-Control-Max-Age", "86400");
        r->status = HTTP_NO_CONTENT;
        return OK;
    }
    if (r->method_number != M_GET) {
        r->allowed = (AP_METHOD_BIT << M_GET) | (AP_METHOD_BIT << M_OPTIONS);
        return HTTP_METHOD_NOT_ALLOWED;
    }

    servers = apr_array_make(r->pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(servers, const char *) = conf->issuer;
    prm.resource = conf->resource ? conf->resource : external_url(r, *pl->path ? pl->path : "/");
    prm.authorization_servers = servers;
    prm.scopes_supported = conf->scopes_supported;
    prm.bearer_methods = bearer_method_names(r->pool, bearer_methods_of(conf));
    prm.extra = conf->resource_metadata;
    body = mcp_prm_json(r->pool, &prm);
    if (body == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;

    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "public, max-age=3600");
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only)
        ap_rputs(body, r);
    return OK;
}

/* ----------------------------------------------------------------------- */
/* Startup                                                                  */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    cache_provider = NULL;
    cache_instance = NULL;
    cache_provider_name = NULL;
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
                                      int index)
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
        protected_location_t *pl;

        if (own == NULL || own->auth_type_mcp != 1)
            continue;
        conf = effective_conf(p, s, sections, i);
        if (conf->issuer == NULL && !issuer_set_below(sections, i)) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "MCPAUTH0020: AuthType MCP in <%s %s> needs MCPAuthIssuer",
                         is_location ? "Location" : "Directory", cd->d ? cd->d : "?");
            return 0;
        }
        if (is_location && conf->issuer && cd->r == NULL && cd->d && cd->d[0] == '/') {
            pl = apr_array_push(sconf->protected);
            pl->conf = conf;
            pl->path = location_path(p, conf);
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
        cache_provider_name = DEFAULT_CACHE_PROVIDER;
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
                     cache_provider_name);
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
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "MCPAUTH0025: %d protected location(s), shared cache %s", protected,
                 cache_provider_name);
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
    mcp_docstore_create(&docstore, pchild, shared_cache.instance ? &shared_cache : NULL);
    discovery_hits = apr_hash_make(pchild);
    apr_thread_mutex_create(&discovery_mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(metadata_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    ap_register_output_filter(JSON_ERROR_FILTER, json_error_filter, NULL, AP_FTYPE_CONTENT_SET);
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
