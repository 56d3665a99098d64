/* Configuration: per-directory records, their merge, the directive table,
 * and accessors that fill in defaults. Unset values are -1 / 0 / NULL, as
 * in mod_md, so that an inner section overrides only what it sets. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_io.h>
#include <apr_network_io.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>

#include "mcp_client_auth.h"
#include "mcp_discovery.h"
#include "mcp_metadata.h"
#include "mcp_policy.h"
#include "mcp_scope.h"
#include "mcp_token.h"
#include "mcp_config.h"
#include "mcp_rules.h"
#include "mcp_httpd.h"
#include "mcp_relay_key.h"
#include "mcp_shared_cache.h"
#include "mcp_token_exchange.h"

const char *const mcp_provider_names[] = { "generic", "keycloak", "auth0", "okta", "entra",
                                              "authentik", NULL };

/* A record no directive has touched: what every section starts from. */
static const mcp_dir_conf_t unset_conf = {
    .metrics_slot = -1, .auth_type_mcp = -1, .in_url_space = -1,
    .refresh_min = -1, .refresh_max = -1, .min_refetch = -1, .max_stale = -1,
    .connect_timeout = -1, .fetch_timeout = -1, .fetch_max_bytes = -1,
    .clock_skew = -1, .mode = MODE_UNSET, .provider = PROVIDER_UNSET,
    .client_metadata_documents = -1, .client_metadata_private = -1, .consent_lifetime = -1,
    .trust_forwarded = -1, .forwarded_header = -1, .default_deny = -1,
    .max_request_body = -1, .read_requests = -1, .session_binding = -1,
    .dpop = -1, .dpop_nonce = -1, .dpop_proof_lifetime = -1,
    .token_format = -1, .introspection_max = -1, .introspection_negative = -1,
};

void *mcp_config_create_dir(apr_pool_t *p, char *dir)
{
    mcp_dir_conf_t *conf = apr_pmemdup(p, &unset_conf, sizeof(*conf));

    conf->location = dir;
    return conf;
}

/* Nothing set but the section's name. Records are made by copying unset_conf
 * and then setting fields, so equal bytes mean equal fields; a difference in
 * padding alone only costs the full merge. The name must stay first. */
_Static_assert(APR_OFFSETOF(mcp_dir_conf_t, location) == 0
                   && APR_OFFSETOF(mcp_dir_conf_t, metrics_slot) == sizeof(const char *),
               "is_unset compares every field after the location");

static int is_unset(const mcp_dir_conf_t *conf)
{
    const apr_size_t from = APR_OFFSETOF(mcp_dir_conf_t, metrics_slot);

    return memcmp((const char *)conf + from, (const char *)&unset_conf + from, sizeof(*conf) - from) == 0;
}

#define MERGE_PTR(field) conf->field = add->field ? add->field : base->field
#define MERGE_INT(field, unset) conf->field = add->field != (unset) ? add->field : base->field

void *mcp_config_merge_dir(apr_pool_t *p, void *basev, void *addv)
{
    mcp_dir_conf_t *base = basev, *add = addv;
    mcp_dir_conf_t *conf;

    /* httpd merges every matching section on every request, and the sections
     * around a protected location (<Directory />, the document root) usually
     * set nothing of ours: then the merge is the location's own record. */
    if (add->location && is_unset(base))
        return add;
    conf = apr_pcalloc(p, sizeof(*conf));

    MERGE_PTR(location);
    MERGE_INT(metrics_slot, -1);
    MERGE_INT(auth_type_mcp, -1);
    MERGE_INT(in_url_space, -1);
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
    MERGE_PTR(client_secret);
    MERGE_INT(client_metadata_documents, -1);
    MERGE_INT(client_metadata_private, -1);
    MERGE_INT(consent_lifetime, -1);
    MERGE_INT(trust_forwarded, -1);
    MERGE_INT(forwarded_header, -1);
    conf->trusted_proxies = add->trust_forwarded != -1 ? add->trusted_proxies : base->trusted_proxies;
    MERGE_PTR(cors_origins);
    MERGE_PTR(mcp_rules);
    MERGE_INT(default_deny, -1);
    conf->default_rule = add->default_deny != -1 ? add->default_rule : base->default_rule;
    MERGE_INT(max_request_body, -1);
    MERGE_INT(read_requests, -1);
    MERGE_INT(session_binding, -1);
    MERGE_INT(dpop, -1);
    MERGE_INT(dpop_nonce, -1);
    MERGE_INT(dpop_proof_lifetime, -1);
    MERGE_PTR(introspection);
    MERGE_PTR(introspection_client);
    MERGE_INT(token_format, -1);
    MERGE_INT(introspection_max, -1);
    if (add->introspection_max != -1)
        conf->introspection_negative = add->introspection_negative;
    else
        conf->introspection_negative = base->introspection_negative;
    MERGE_PTR(exchange);
    MERGE_PTR(exchange_client);
    return conf;
}

void *mcp_config_create_server(apr_pool_t *p, server_rec *s)
{
    mcp_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->protected = apr_array_make(p, 2, sizeof(protected_location_t));
    conf->token_cache_bytes = -1;
    return conf;
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

static const char *add_scope(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (!mcp_scope_is_token(arg))
        return apr_psprintf(cmd->pool, "MCPAuthScopesSupported: '%s' is not a valid scope token", arg);
    push_string(cmd->pool, &conf->scopes_supported, arg);
    return NULL;
}

int mcp_is_header_token(const char *s)
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
    if (!mcp_is_header_token(header))
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

    if (!mcp_is_header_token(arg) && strchr(arg, '/') == NULL)
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

static const char *set_dpop(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "off") == 0)
        conf->dpop = MCP_DPOP_OFF;
    else if (strcasecmp(arg, "allowed") == 0)
        conf->dpop = MCP_DPOP_ALLOWED;
    else if (strcasecmp(arg, "required") == 0)
        conf->dpop = MCP_DPOP_REQUIRED;
    else
        return apr_psprintf(cmd->pool, "MCPAuthDPoP: unknown value '%s' (use off, allowed or required)", arg);
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

    for (i = 0; mcp_provider_names[i]; i++) {
        if (strcasecmp(arg, mcp_provider_names[i]) == 0) {
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

/* The secret of the static IdP client, read from a file (as root, while
 * the configuration is read) so that it is in no configuration file. */
/* A file of secret text (a client secret, a PEM private key), up to 16 KiB,
 * trailing blanks and line ends cut; NULL with *err. */
static const char *read_secret_file(cmd_parms *cmd, const char *arg, apr_size_t *len, const char **err)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_file_t *f;
    char *buf = apr_palloc(cmd->temp_pool, 16 * 1024 + 1);
    apr_size_t n = 16 * 1024;
    apr_status_t rv;

    if (path == NULL || apr_file_open(&f, path, APR_FOPEN_READ, 0, cmd->temp_pool) != APR_SUCCESS) {
        *err = apr_psprintf(cmd->pool, "%s: cannot read '%s'", cmd->directive->directive, arg);
        return NULL;
    }
    rv = apr_file_read_full(f, buf, n, &n);
    apr_file_close(f);
    if (rv != APR_SUCCESS && rv != APR_EOF) {
        *err = apr_psprintf(cmd->pool, "%s: cannot read '%s'", cmd->directive->directive, arg);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (n == 0 || strlen(buf) != n) {
        *err = apr_psprintf(cmd->pool, "%s: '%s' holds no usable secret", cmd->directive->directive, arg);
        return NULL;
    }
    *len = n;
    return apr_pstrmemdup(cmd->pool, buf, n);
}

static const char *set_client_secret(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    apr_size_t len;
    const char *err = NULL;

    conf->client_secret = read_secret_file(cmd, arg, &len, &err);
    return conf->client_secret ? NULL : err;
}

static const char *set_introspection(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "discovery") != 0 && !mcp_is_http_url(arg))
        return apr_psprintf(cmd->pool, "MCPAuthIntrospection: '%s' is neither discovery nor an absolute http(s) URL",
                            arg);
    conf->introspection = strcasecmp(arg, "discovery") == 0 ? MCP_INTROSPECTION_DISCOVERY : arg;
    return NULL;
}

/* CLIENT-ID FILE [kid=KID] [aud=issuer|endpoint]: FILE holds the client's
 * secret (client_secret_basic) or its PEM private key (private_key_jwt).
 * cmd->info: where the client goes in the record. */
static const char *set_idp_client(cmd_parms *cmd, void *confv, int argc, char *const argv[])
{
    const char *name = cmd->directive->directive, *err = NULL, *text;
    mcp_idp_client_t *client = apr_pcalloc(cmd->pool, sizeof(*client));
    apr_size_t len;
    int i;

    if (argc < 2)
        return apr_pstrcat(cmd->pool, name, " takes CLIENT-ID FILE [kid=KEY-ID] [aud=issuer|endpoint]", NULL);
    if (*argv[0] == '\0' || strpbrk(argv[0], " \t\r\n:"))
        return apr_psprintf(cmd->pool, "%s: '%s' is not a usable client id", name, argv[0]);
    for (i = 2; i < argc; i++) {
        if (strncmp(argv[i], "kid=", 4) == 0 && argv[i][4])
            client->kid = argv[i] + 4;
        else if (strcmp(argv[i], "aud=issuer") == 0 || strcmp(argv[i], "aud=endpoint") == 0)
            client->aud_endpoint = strcmp(argv[i], "aud=endpoint") == 0;
        else
            return apr_psprintf(cmd->pool, "%s: '%s' is neither kid=KEY-ID nor aud=issuer|endpoint", name, argv[i]);
    }
    text = read_secret_file(cmd, argv[1], &len, &err);
    if (text == NULL)
        return err;
    client->client_id = argv[0];
    if (strncmp(text, "-----BEGIN", 10) == 0) {
        client->key = mcp_client_key_read(cmd->pool, text, len, &err);
        if (client->key == NULL)
            return apr_psprintf(cmd->pool, "%s: %s: %s", name, argv[1], err);
    }
    else if (client->kid || client->aud_endpoint) {
        return apr_pstrcat(cmd->pool, name, ": kid= and aud= go with a private key (private_key_jwt), not a secret",
                           NULL);
    }
    else {
        client->secret = text;
    }
    *(const mcp_idp_client_t **)((char *)confv + (int)(long)cmd->info) = client;
    return NULL;
}

static const char *set_token_format(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "jwt") == 0)
        conf->token_format = MCP_TOKEN_FORMAT_JWT;
    else if (strcasecmp(arg, "opaque") == 0)
        conf->token_format = MCP_TOKEN_FORMAT_OPAQUE;
    else if (strcasecmp(arg, "auto") == 0)
        conf->token_format = MCP_TOKEN_FORMAT_AUTO;
    else
        return apr_psprintf(cmd->pool, "MCPAuthTokenFormat: unknown format '%s' (use jwt, opaque or auto)", arg);
    return NULL;
}

static const char *set_introspection_cache(cmd_parms *cmd, void *confv, const char *max, const char *negative)
{
    mcp_dir_conf_t *conf = confv;
    long a = 0, b = 0;
    const char *err = parse_count(cmd, max, 0, 86400, &a);

    if (err == NULL && negative)
        err = parse_count(cmd, negative, 0, 3600, &b);
    if (err)
        return err;
    conf->introspection_max = (int)a;
    conf->introspection_negative = negative ? (int)b : -1;
    return NULL;
}

static const char *set_flag(cmd_parms *cmd, void *confv, int on)
{
    *(int *)((char *)confv + (int)(long)cmd->info) = on;
    return NULL;
}

/* On, Off, or the addresses of the proxies whose forwarding headers count
 * (as mod_remoteip's RemoteIPInternalProxy: ADDR or ADDR/BITS). */
static const char *add_trusted_proxy(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;
    char *addr = apr_pstrdup(cmd->pool, arg), *mask = strchr(addr, '/');
    apr_ipsubnet_t *subnet;

    if (strcasecmp(arg, "On") == 0 || strcasecmp(arg, "Off") == 0) {
        if (conf->trusted_proxies || conf->trust_forwarded != -1)
            return "MCPAuthTrustForwarded: On or Off stand alone, without addresses";
        conf->trust_forwarded = strcasecmp(arg, "On") == 0;
        return NULL;
    }
    if (conf->trust_forwarded != -1 && conf->trusted_proxies == NULL)
        return "MCPAuthTrustForwarded: On or Off stand alone, without addresses";
    if (mask)
        *mask++ = '\0';
    if (apr_ipsubnet_create(&subnet, addr, mask, cmd->pool) != APR_SUCCESS)
        return apr_psprintf(cmd->pool, "MCPAuthTrustForwarded: '%s' is not On, Off, an IP address "
                            "or ADDRESS/BITS", arg);
    if (conf->trusted_proxies == NULL)
        conf->trusted_proxies = apr_array_make(cmd->pool, 2, sizeof(apr_ipsubnet_t *));
    APR_ARRAY_PUSH(conf->trusted_proxies, apr_ipsubnet_t *) = subnet;
    conf->trust_forwarded = 1;
    return NULL;
}

static const char *set_forwarded_header(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "X-Forwarded") == 0)
        conf->forwarded_header = MCP_FORWARDED_X;
    else if (strcasecmp(arg, "Forwarded") == 0)
        conf->forwarded_header = MCP_FORWARDED_RFC7239;
    else
        return apr_psprintf(cmd->pool, "MCPAuthForwardedHeader: '%s' is not X-Forwarded or Forwarded", arg);
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

/* Whether a directive stands in a <Location> or <LocationMatch> (or in an
 * <If> inside one): only there is the section's path a URL path. In
 * <Directory>, <Files>, <Proxy> and .htaccess it is a file name or another
 * server's URL, which must never name the resource. */
static int in_url_space(const cmd_parms *cmd)
{
    const ap_directive_t *d;

    for (d = cmd->directive->parent; d; d = d->parent) {
        if (strcasecmp(d->directive, "<Location") == 0 || strcasecmp(d->directive, "<LocationMatch") == 0)
            return 1;
        if (strcasecmp(d->directive, "<If") != 0 && strcasecmp(d->directive, "<ElseIf") != 0
            && strcasecmp(d->directive, "<Else") != 0)
            return 0;
    }
    return 0;
}

/* AuthType belongs to mod_authn_core. We look at it on the way past
 * (DECLINE_CMD hands it on) so that a location that says "AuthType MCP"
 * without an issuer fails at startup instead of at the first request. */
static const char *note_auth_type(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    conf->auth_type_mcp = strcasecmp(arg, MCP_AUTH_TYPE) == 0;
    conf->in_url_space = in_url_space(cmd);
    return DECLINE_CMD;
}

/* Per process; set once for the whole server. */
static const char *set_token_cache_size(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    return parse_count(cmd, arg, 0, 1024L * 1024 * 1024, &mcp_server_conf_of(cmd->server)->token_cache_bytes);
}

static const char *set_max_request_body(cmd_parms *cmd, void *confv, const char *arg)
{
    return parse_count(cmd, arg, 1024, 64L * 1024 * 1024, &((mcp_dir_conf_t *)confv)->max_request_body);
}

#define DIR_CMD(name, fn, info, take, help) \
    AP_INIT_##take(name, fn, (void *)(info), OR_AUTHCFG | ACCESS_CONF, help)

const command_rec mcp_config_directives[] = {
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
            "The IdP client the gateway uses for every MCP client (asks users to consent per client)"),
    DIR_CMD("MCPAuthClientSecret", set_client_secret, NULL, TAKE1,
            "FILE holding the secret of the MCPAuthClientID client, for a confidential IdP client"),
    AP_INIT_FLAG("MCPAuthClientMetadataDocuments", set_flag,
                 (void *)APR_OFFSETOF(mcp_dir_conf_t, client_metadata_documents), OR_AUTHCFG | ACCESS_CONF,
                 "On (default): accept https client ids naming a Client ID Metadata Document"),
    AP_INIT_FLAG("MCPAuthClientMetadataAllowPrivate", set_flag,
                 (void *)APR_OFFSETOF(mcp_dir_conf_t, client_metadata_private), OR_AUTHCFG | ACCESS_CONF,
                 "On: fetch client metadata documents from loopback and private addresses too (default Off)"),
    DIR_CMD("MCPAuthConsentLifetime", set_seconds, APR_OFFSETOF(mcp_dir_conf_t, consent_lifetime), TAKE1,
            "Seconds a browser's approval of a client lasts (default 2592000, 30 days)"),
    DIR_CMD("MCPAuthTrustForwarded", add_trusted_proxy, NULL, ITERATE,
            "On, Off (default) or proxy addresses: build external URLs from the forwarding headers "
            "the proxy in front appended"),
    DIR_CMD("MCPAuthForwardedHeader", set_forwarded_header, NULL, TAKE1,
            "X-Forwarded (default: X-Forwarded-Host/-Proto) or Forwarded (RFC 7239): what the trusted proxy writes"),
    DIR_CMD("MCPAuthCORSOrigins", add_cors_origin, NULL, ITERATE,
            "* or origins allowed to call from browsers (default: * for discovery, none for MCP)"),
    DIR_CMD("MCPAuthResourceMetadata", set_resource_metadata, NULL, TAKE2,
            "FIELD JSON: add or override a protected resource metadata field"),
    DIR_CMD("MCPAuthToolRule", mcp_rules_directive, MCP_KIND_TOOL, TAKE_ARGV,
            "PATTERN allow|deny|scope S...|claim NAME VALUE...: who may see and call the tools PATTERN names"),
    DIR_CMD("MCPAuthPromptRule", mcp_rules_directive, MCP_KIND_PROMPT, TAKE_ARGV,
            "PATTERN allow|deny|scope S...|claim NAME VALUE...: who may see and get the prompts PATTERN names"),
    DIR_CMD("MCPAuthResourceRule", mcp_rules_directive, MCP_KIND_RESOURCE, TAKE_ARGV,
            "URI-PATTERN allow|deny|scope S...|claim NAME VALUE...: who may see and read the resources"),
    DIR_CMD("MCPAuthDefault", mcp_rules_default_directive, NULL, TAKE1,
            "allow (default) or deny: the answer where no MCPAuth*Rule matches"),
    DIR_CMD("MCPAuthMaxRequestBody", set_max_request_body, NULL, TAKE1,
            "Largest MCP request body read for the rules, in bytes (default 1048576)"),
    AP_INIT_FLAG("MCPAuthReadRequests", set_flag, (void *)APR_OFFSETOF(mcp_dir_conf_t, read_requests),
                 OR_AUTHCFG | ACCESS_CONF,
                 "On (default) or Off: read every POSTed MCP request and set MCP_METHOD, MCP_TOOL, "
                 "MCP_PROTOCOL_VERSION for Require and logs; rules need On"),
    AP_INIT_FLAG("MCPAuthSessionBinding", set_flag, (void *)APR_OFFSETOF(mcp_dir_conf_t, session_binding),
                 OR_AUTHCFG | ACCESS_CONF,
                 "On (default) or Off: an Mcp-Session-Id the server hands out serves only the user it was "
                 "handed to"),
    DIR_CMD("MCPAuthDPoP", set_dpop, NULL, TAKE1,
            "off, allowed (default) or required: tokens bound to a key, presented with a DPoP proof (RFC 9449)"),
    AP_INIT_FLAG("MCPAuthDPoPNonce", set_flag, (void *)APR_OFFSETOF(mcp_dir_conf_t, dpop_nonce),
                 OR_AUTHCFG | ACCESS_CONF,
                 "On or Off (default): DPoP proofs must carry a nonce the gateway handed out"),
    DIR_CMD("MCPAuthDPoPProofLifetime", set_seconds, APR_OFFSETOF(mcp_dir_conf_t, dpop_proof_lifetime), TAKE1,
            "Seconds a DPoP proof counts after it was made, besides MCPAuthClockSkew (default 60)"),
    DIR_CMD("MCPAuthIntrospection", set_introspection, NULL, TAKE1,
            "discovery (the IdP's introspection_endpoint) or a URL: check opaque tokens there (RFC 7662)"),
    DIR_CMD("MCPAuthIntrospectionClient", set_idp_client, APR_OFFSETOF(mcp_dir_conf_t, introspection_client), TAKE_ARGV,
            "CLIENT-ID FILE [kid=KEY-ID] [aud=issuer|endpoint]: the gateway's client at the introspection "
            "endpoint; FILE holds its secret (client_secret_basic) or PEM private key (private_key_jwt)"),
    DIR_CMD("MCPAuthTokenFormat", set_token_format, NULL, TAKE1,
            "jwt, opaque or auto: which tokens are introspected (default: auto with MCPAuthIntrospection, else jwt)"),
    DIR_CMD("MCPAuthIntrospectionCache", set_introspection_cache, NULL, TAKE12,
            "MAX [NEGATIVE] seconds an introspection answer is kept, active ones never past exp (default 60 5)"),
    DIR_CMD("MCPAuthTokenExchange", mcp_token_exchange_directive, NULL, TAKE_ARGV,
            "Off, On, or [On] audience=URI resource=URI scope=SCOPE grant=token-exchange|on-behalf-of header=NAME "
            "endpoint=URL subject-token-type=URI: trade the client's token at the IdP for one the MCP server "
            "gets (RFC 8693)"),
    DIR_CMD("MCPAuthTokenExchangeClient", set_idp_client, APR_OFFSETOF(mcp_dir_conf_t, exchange_client), TAKE_ARGV,
            "CLIENT-ID FILE [kid=KEY-ID] [aud=issuer|endpoint]: the gateway's client at the token endpoint for "
            "MCPAuthTokenExchange; FILE holds its secret or PEM private key"),
    AP_INIT_TAKE1("AuthType", note_auth_type, NULL, OR_AUTHCFG | ACCESS_CONF,
                  "noted by mod_mcp_auth, handled by mod_authn_core"),
    AP_INIT_TAKE1("MCPAuthCache", mcp_shared_cache_directive, NULL, RSRC_CONF,
                  "Shared cache as socache PROVIDER[:ARGS] (default shmcb)"),
    AP_INIT_TAKE1("MCPAuthRelayKey", mcp_relay_key_directive, NULL, RSRC_CONF,
                  "FILE with at least 32 bytes of secret that seal the relay's state, codes and client ids"),
    AP_INIT_TAKE1("MCPAuthTokenCacheSize", set_token_cache_size, NULL, RSRC_CONF,
                  "Bytes of verified token claims each process keeps (default 8388608; 0: none)"),
    { NULL }
};
