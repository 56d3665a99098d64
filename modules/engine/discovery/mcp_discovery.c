#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_uri.h>
#include <jansson.h>

#include "mcp_discovery.h"

int mcp_is_http_url(const char *s)
{
    apr_uri_t uri;
    apr_pool_t *pool;
    int ok;

    if (s == NULL || apr_pool_create(&pool, NULL) != APR_SUCCESS)
        return 0;
    ok = apr_uri_parse(pool, s, &uri) == APR_SUCCESS && uri.scheme && uri.hostname
         && *uri.hostname && (strcasecmp(uri.scheme, "http") == 0 || strcasecmp(uri.scheme, "https") == 0)
         && uri.fragment == NULL;
    apr_pool_destroy(pool);
    return ok;
}

const char *mcp_discovery_url_rfc8414(apr_pool_t *pool, const char *issuer)
{
    const char *scheme_end = strstr(issuer, "://");
    const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
    apr_size_t origin_len = path ? (apr_size_t)(path - issuer) : strlen(issuer);
    apr_size_t path_len = path ? strlen(path) : 0;

    if (path_len && path[path_len - 1] == '/')
        path_len--; /* RFC 8414 §3.1: a terminating "/" is removed first */
    return apr_pstrcat(pool, apr_pstrmemdup(pool, issuer, origin_len),
                       "/.well-known/oauth-authorization-server",
                       path ? apr_pstrmemdup(pool, path, path_len) : "", NULL);
}

const char *mcp_discovery_url_oidc(apr_pool_t *pool, const char *issuer)
{
    apr_size_t len = strlen(issuer);

    if (len && issuer[len - 1] == '/')
        len--;
    return apr_pstrcat(pool, apr_pstrmemdup(pool, issuer, len),
                       "/.well-known/openid-configuration", NULL);
}

static const char *http_member(apr_pool_t *pool, json_t *doc, const char *name)
{
    const char *v = json_string_value(json_object_get(doc, name));

    return mcp_is_http_url(v) ? apr_pstrdup(pool, v) : NULL;
}

void *mcp_discovery_parse(apr_pool_t *pool, const char *body, apr_size_t len,
                          const void *ctx, const char **err)
{
    const char *expected_issuer = ctx;
    mcp_discovery_t *d;
    json_t *doc;
    const char *issuer, *jwks_uri;

    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        *err = "metadata is not a JSON object";
        return NULL;
    }
    issuer = json_string_value(json_object_get(doc, "issuer"));
    jwks_uri = json_string_value(json_object_get(doc, "jwks_uri"));
    if (issuer == NULL || strcmp(issuer, expected_issuer) != 0) {
        *err = apr_psprintf(pool, "metadata names issuer \"%s\", not the configured one",
                            issuer ? issuer : "");
        json_decref(doc);
        return NULL;
    }
    if (!mcp_is_http_url(jwks_uri)) {
        *err = "metadata has no usable jwks_uri";
        json_decref(doc);
        return NULL;
    }
    d = apr_pcalloc(pool, sizeof(*d));
    d->issuer = apr_pstrdup(pool, issuer);
    d->jwks_uri = apr_pstrdup(pool, jwks_uri);
    d->authorization_endpoint = http_member(pool, doc, "authorization_endpoint");
    d->token_endpoint = http_member(pool, doc, "token_endpoint");
    d->registration_endpoint = http_member(pool, doc, "registration_endpoint");
    d->introspection_endpoint = http_member(pool, doc, "introspection_endpoint");
    d->iss_parameter = json_is_true(json_object_get(doc, "authorization_response_iss_parameter_supported"));
    d->json = apr_pstrmemdup(pool, body, len);
    json_decref(doc);
    return d;
}
