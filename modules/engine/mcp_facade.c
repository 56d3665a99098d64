#include <stdlib.h>
#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <jansson.h>

#include "mcp_facade.h"

static char *dump(apr_pool_t *pool, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy = text ? apr_pstrdup(pool, text) : NULL;

    free(text);
    return copy;
}

/* Auth0 and Okta bind tokens to an API through "audience", not RFC 8707. */
static void add_audience(apr_pool_t *pool, json_t *doc, const char *resource)
{
    const char *ep = json_string_value(json_object_get(doc, "authorization_endpoint"));

    if (ep == NULL || resource == NULL)
        return;
    json_object_set_new(doc, "authorization_endpoint",
                        json_string(apr_pstrcat(pool, ep, strchr(ep, '?') ? "&" : "?", "audience=",
                                                apr_pescape_urlencoded(pool, resource), NULL)));
}

/* MCP clients refuse an AS whose metadata does not list S256 (2025-11-25);
 * Entra supports it without saying so. */
static void ensure_s256(json_t *doc)
{
    json_t *methods = json_object_get(doc, "code_challenge_methods_supported"), *m;
    size_t i;

    if (json_is_array(methods)) {
        json_array_foreach(methods, i, m) {
            if (json_is_string(m) && strcmp(json_string_value(m), "S256") == 0)
                return;
        }
        json_array_append_new(methods, json_string("S256"));
        return;
    }
    methods = json_array();
    json_array_append_new(methods, json_string("S256"));
    json_object_set_new(doc, "code_challenge_methods_supported", methods);
}

char *mcp_facade_metadata(apr_pool_t *pool, const char *idp_json, const mcp_facade_t *f,
                          const char **err)
{
    json_t *doc = json_loads(idp_json, JSON_REJECT_DUPLICATES, NULL);
    char *out;

    if (!json_is_object(doc)) {
        json_decref(doc);
        *err = "the IdP metadata is not a JSON object";
        return NULL;
    }
    if (f->issuer) {
        /* RFC 8414 §3.3: clients compare this with the PRM's authorization
         * server; RFC 9207's iss parameter would then name the IdP instead,
         * so the flag that promises it must go. */
        json_object_set_new(doc, "issuer", json_string(f->issuer));
        json_object_del(doc, "authorization_response_iss_parameter_supported");
    }
    if (f->provider == MCP_PROVIDER_AUTH0 || f->provider == MCP_PROVIDER_OKTA)
        add_audience(pool, doc, f->resource);
    if (f->provider == MCP_PROVIDER_ENTRA)
        ensure_s256(doc);
    if (f->authorization_endpoint)
        json_object_set_new(doc, "authorization_endpoint", json_string(f->authorization_endpoint));
    if (f->token_endpoint)
        json_object_set_new(doc, "token_endpoint", json_string(f->token_endpoint));
    if (f->registration_endpoint)
        json_object_set_new(doc, "registration_endpoint", json_string(f->registration_endpoint));
    out = dump(pool, doc);
    json_decref(doc);
    return out;
}

char *mcp_facade_local_registration(apr_pool_t *pool, const char *request_json, apr_size_t len,
                                    const char *client_id, long issued_at, const char **err)
{
    json_t *req = json_loadb(request_json, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *uris, *u, *resp;
    size_t i;
    char *out;

    if (!json_is_object(req)) {
        json_decref(req);
        *err = "invalid_client_metadata";
        return NULL;
    }
    uris = json_object_get(req, "redirect_uris");
    if (!json_is_array(uris) || json_array_size(uris) == 0) {
        json_decref(req);
        *err = "invalid_redirect_uri";
        return NULL;
    }
    json_array_foreach(uris, i, u) {
        if (!json_is_string(u)) {
            json_decref(req);
            *err = "invalid_redirect_uri";
            return NULL;
        }
    }
    resp = json_object();
    json_object_set_new(resp, "client_id", json_string(client_id));
    json_object_set_new(resp, "client_id_issued_at", json_integer(issued_at));
    json_object_set(resp, "redirect_uris", uris);
    json_object_set_new(resp, "token_endpoint_auth_method", json_string("none"));
    json_object_set_new(resp, "grant_types", json_pack("[ss]", "authorization_code", "refresh_token"));
    json_object_set_new(resp, "response_types", json_pack("[s]", "code"));
    if (json_is_string(json_object_get(req, "client_name")))
        json_object_set(resp, "client_name", json_object_get(req, "client_name"));
    out = dump(pool, resp);
    json_decref(resp);
    json_decref(req);
    return out;
}

const char *mcp_form_without_resource(apr_pool_t *pool, const char *form)
{
    apr_array_header_t *kept = apr_array_make(pool, 8, sizeof(const char *));
    char *copy = apr_pstrdup(pool, form ? form : ""), *part, *state = NULL;

    for (part = apr_strtok(copy, "&", &state); part; part = apr_strtok(NULL, "&", &state)) {
        if (strcmp(part, "resource") == 0 || strncmp(part, "resource=", 9) == 0)
            continue;
        APR_ARRAY_PUSH(kept, const char *) = part;
    }
    return apr_array_pstrcat(pool, kept, '&');
}

#define ENTRA_V1 "https://sts.windows.net/"
#define ENTRA_V2 "https://login.microsoftonline.com/"
#define ENTRA_V2_SUFFIX "/v2.0"

/* A tenant id: a GUID or a domain name, nothing that needs escaping. */
static int is_tenant(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
              || c == '.'))
            return 0;
    }
    return 1;
}

int mcp_entra_is_v1(const char *issuer)
{
    apr_size_t n = sizeof(ENTRA_V1) - 1, len = strlen(issuer);

    return len > n + 1 && strncmp(issuer, ENTRA_V1, n) == 0 && issuer[len - 1] == '/'
           && is_tenant(issuer + n, len - n - 1);
}

const char *mcp_entra_other_issuer(apr_pool_t *pool, const char *issuer)
{
    apr_size_t len = strlen(issuer), n2 = sizeof(ENTRA_V2) - 1, sfx = sizeof(ENTRA_V2_SUFFIX) - 1;

    if (mcp_entra_is_v1(issuer))
        return apr_pstrcat(pool, ENTRA_V2,
                           apr_pstrmemdup(pool, issuer + sizeof(ENTRA_V1) - 1,
                                          len - (sizeof(ENTRA_V1) - 1) - 1),
                           ENTRA_V2_SUFFIX, NULL);
    if (len > n2 + sfx && strncmp(issuer, ENTRA_V2, n2) == 0
        && strcmp(issuer + len - sfx, ENTRA_V2_SUFFIX) == 0 && is_tenant(issuer + n2, len - n2 - sfx))
        return apr_pstrcat(pool, ENTRA_V1, apr_pstrmemdup(pool, issuer + n2, len - n2 - sfx), "/", NULL);
    return NULL;
}
