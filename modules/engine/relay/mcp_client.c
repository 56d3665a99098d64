/* The relay stores nothing per client: what it must know comes back to it
 * inside the client id, sealed, or is fetched from the client's metadata
 * document. So every check here is on data that arrives with the request. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <jansson.h>

#include <cjose/base64.h>
#include <cjose/util.h>
#include <openssl/evp.h>

#include "mcp_client.h"

#define MAX_REDIRECT_URIS 16
#define MAX_URI_LEN 2048
#define MAX_NAME_LEN 200

static char *dump(apr_pool_t *pool, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *copy = text ? apr_pstrdup(pool, text) : NULL;

    free(text);
    json_decref(doc);
    return copy;
}

static int is_loopback_host(const char *host)
{
    return strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0
           || (strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == strlen(host));
}

/* Schemes a browser or the OS would run rather than hand to an app. */
static int is_dangerous_scheme(const char *scheme)
{
    static const char *const bad[] = { "javascript", "data", "file", "vbscript", "about", "blob",
                                       "filesystem", "ftp", "ws", "wss", "mailto", "tel", NULL };
    int i;

    for (i = 0; bad[i]; i++) {
        if (strcasecmp(scheme, bad[i]) == 0)
            return 1;
    }
    return 0;
}

int mcp_client_redirect_uri_ok(apr_pool_t *pool, const char *uri, const char **why)
{
    apr_uri_t u;
    const char *p;

    *why = NULL;
    if (strlen(uri) > MAX_URI_LEN)
        *why = "too long";
    for (p = uri; *why == NULL && *p; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '\\')
            *why = "contains spaces or control characters";
    }
    if (*why == NULL && strchr(uri, '#'))
        *why = "has a fragment";
    if (*why == NULL && (apr_uri_parse(pool, uri, &u) != APR_SUCCESS || u.scheme == NULL))
        *why = "is not an absolute URI";
    if (*why)
        return 0;
    for (p = u.scheme; *p; p++) {
        if (!apr_isalnum(*p) && *p != '+' && *p != '-' && *p != '.') {
            *why = "has an invalid scheme";
            return 0;
        }
    }
    if (u.user || u.password)
        *why = "has user information";
    else if (strcasecmp(u.scheme, "https") == 0)
        *why = u.hostname && *u.hostname ? NULL : "has no host";
    else if (strcasecmp(u.scheme, "http") == 0)
        *why = u.hostname && is_loopback_host(u.hostname) ? NULL : "uses http to a host that is not loopback";
    else if (is_dangerous_scheme(u.scheme))
        *why = "uses a scheme that is not for redirects";
    return *why == NULL;
}

/* Reads redirect_uris (a non-empty array of acceptable URIs) into out. */
static const char *take_redirect_uris(apr_pool_t *pool, json_t *doc, mcp_client_t *out, const char **desc)
{
    json_t *uris = json_object_get(doc, "redirect_uris"), *u;
    size_t i;
    const char *why;

    if (!json_is_array(uris) || json_array_size(uris) == 0 || json_array_size(uris) > MAX_REDIRECT_URIS) {
        *desc = "redirect_uris must be an array of 1 to 16 URIs";
        return "invalid_redirect_uri";
    }
    out->redirect_uris = apr_array_make(pool, (int)json_array_size(uris), sizeof(const char *));
    json_array_foreach(uris, i, u) {
        const char *s = json_string_value(u);

        if (s == NULL || !mcp_client_redirect_uri_ok(pool, s, &why)) {
            *desc = s ? apr_psprintf(pool, "redirect URI %" APR_SIZE_T_FMT " %s", (apr_size_t)(i + 1), why) : "redirect_uris must be strings";
            return "invalid_redirect_uri";
        }
        APR_ARRAY_PUSH(out->redirect_uris, const char *) = apr_pstrdup(pool, s);
    }
    return NULL;
}

static const char *take_name(apr_pool_t *pool, json_t *doc, mcp_client_t *out, const char **desc)
{
    json_t *name = json_object_get(doc, "client_name");

    if (name == NULL)
        return NULL;
    if (!json_is_string(name) || json_string_length(name) > MAX_NAME_LEN) {
        *desc = "client_name must be a string of at most 200 characters";
        return "invalid_client_metadata";
    }
    out->client_name = apr_pstrdup(pool, json_string_value(name));
    return NULL;
}

/* OpenID Connect Registration §2 application_type, which MCP 2026-07-28
 * asks clients to send. A web app's redirect URIs are https to a host that
 * is not loopback. A native app's are loopback http, a private-use scheme
 * or a claimed https URI (RFC 8252 §7.1-7.3: clients such as VS Code list
 * both kinds), all of which mcp_client_redirect_uri_ok already bounds. */
static const char *check_application_type(apr_pool_t *pool, json_t *doc, mcp_client_t *out, const char **desc)
{
    json_t *t = json_object_get(doc, "application_type");
    int i;

    if (t == NULL)
        return NULL;
    if (!json_is_string(t) || (strcmp(json_string_value(t), "web") != 0 && strcmp(json_string_value(t), "native") != 0)) {
        *desc = "application_type must be \"web\" or \"native\"";
        return "invalid_client_metadata";
    }
    out->application_type = strcmp(json_string_value(t), "native") == 0 ? "native" : "web";
    for (i = 0; *out->application_type == 'w' && out->redirect_uris && i < out->redirect_uris->nelts; i++) {
        apr_uri_t u;

        if (apr_uri_parse(pool, APR_ARRAY_IDX(out->redirect_uris, i, const char *), &u) != APR_SUCCESS
            || u.scheme == NULL || strcasecmp(u.scheme, "https") != 0 || u.hostname == NULL
            || is_loopback_host(u.hostname)) {
            *desc = apr_psprintf(pool, "redirect URI %d does not suit a web application (https to a host that "
                                 "is not loopback; a native one says application_type \"native\")", i + 1);
            return "invalid_redirect_uri";
        }
    }
    return NULL;
}

/* The grant and response types the relay serves; a client asking for
 * others is refused rather than registered for what will not work. */
static const char *check_types(json_t *doc, const char **desc)
{
    json_t *grants = json_object_get(doc, "grant_types"), *types = json_object_get(doc, "response_types"), *v;
    size_t i;

    json_array_foreach(grants, i, v) {
        const char *g = json_string_value(v);
        if (g == NULL || (strcmp(g, "authorization_code") != 0 && strcmp(g, "refresh_token") != 0)) {
            *desc = "only the authorization_code and refresh_token grants are served";
            return "invalid_client_metadata";
        }
    }
    json_array_foreach(types, i, v) {
        if (!json_is_string(v) || strcmp(json_string_value(v), "code") != 0) {
            *desc = "only the code response type is served";
            return "invalid_client_metadata";
        }
    }
    return NULL;
}

const char *mcp_client_from_registration(apr_pool_t *pool, const char *json, apr_size_t len,
                                         mcp_client_t *out, const char **desc)
{
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    const char *err;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(doc)) {
        json_decref(doc);
        *desc = "the registration request is not a JSON object";
        return "invalid_client_metadata";
    }
    if ((err = take_redirect_uris(pool, doc, out, desc)) == NULL && (err = take_name(pool, doc, out, desc)) == NULL
        && (err = check_types(doc, desc)) == NULL)
        err = check_application_type(pool, doc, out, desc);
    json_decref(doc);
    return err;
}

const char *mcp_client_from_metadata_document(apr_pool_t *pool, const char *url, const char *json,
                                              apr_size_t len, mcp_client_t *out, const char **desc)
{
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
    const char *err = NULL;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(doc))
        err = "invalid_client", *desc = "the client metadata document is not a JSON object";
    else if (!json_is_string(json_object_get(doc, "client_id"))
             || strcmp(json_string_value(json_object_get(doc, "client_id")), url) != 0)
        err = "invalid_client", *desc = "the client metadata document's client_id is not its own URL";
    else if ((err = take_redirect_uris(pool, doc, out, desc)) == NULL && (err = take_name(pool, doc, out, desc)) == NULL
             && (err = check_types(doc, desc)) == NULL)
        err = check_application_type(pool, doc, out, desc);
    /* a document cannot make a public client confidential here */
    if (err == NULL && json_object_get(doc, "client_secret"))
        err = "invalid_client", *desc = "a client metadata document must not carry a client_secret";
    json_decref(doc);
    if (err == NULL)
        out->metadata_url = apr_pstrdup(pool, url);
    return err;
}

int mcp_client_has_redirect_uri(const mcp_client_t *client, const char *uri)
{
    int i;

    for (i = 0; uri && client->redirect_uris && i < client->redirect_uris->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(client->redirect_uris, i, const char *), uri) == 0)
            return 1;
    }
    return 0;
}

static json_t *uris_json(const mcp_client_t *client)
{
    json_t *a = json_array();
    int i;

    for (i = 0; client->redirect_uris && i < client->redirect_uris->nelts; i++)
        json_array_append_new(a, json_string(APR_ARRAY_IDX(client->redirect_uris, i, const char *)));
    return a;
}

char *mcp_client_to_json(apr_pool_t *pool, const mcp_client_t *client)
{
    json_t *doc = json_object();

    json_object_set_new(doc, "v", json_integer(1));
    if (client->idp_client_id)
        json_object_set_new(doc, "cid", json_string(client->idp_client_id));
    if (client->idp_client_secret)
        json_object_set_new(doc, "cs", json_string(client->idp_client_secret));
    json_object_set_new(doc, "ru", uris_json(client));
    if (client->client_name)
        json_object_set_new(doc, "cn", json_string(client->client_name));
    if (client->application_type)
        json_object_set_new(doc, "at", json_string(client->application_type));
    return dump(pool, doc);
}

static const char *optional_string(apr_pool_t *pool, json_t *doc, const char *name)
{
    const char *s = json_string_value(json_object_get(doc, name));

    return s ? apr_pstrdup(pool, s) : NULL;
}

int mcp_client_from_json(apr_pool_t *pool, const char *json, apr_size_t len, mcp_client_t *out)
{
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL), *uris, *u;
    size_t i;

    memset(out, 0, sizeof(*out));
    uris = json_object_get(doc, "ru");
    if (!json_is_object(doc) || json_integer_value(json_object_get(doc, "v")) != 1 || !json_is_array(uris)) {
        json_decref(doc);
        return 0;
    }
    out->idp_client_id = optional_string(pool, doc, "cid");
    out->idp_client_secret = optional_string(pool, doc, "cs");
    out->client_name = optional_string(pool, doc, "cn");
    out->application_type = optional_string(pool, doc, "at");
    out->redirect_uris = apr_array_make(pool, (int)json_array_size(uris), sizeof(const char *));
    json_array_foreach(uris, i, u) {
        if (json_is_string(u))
            APR_ARRAY_PUSH(out->redirect_uris, const char *) = apr_pstrdup(pool, json_string_value(u));
    }
    json_decref(doc);
    return 1;
}

char *mcp_client_registration_response(apr_pool_t *pool, const char *client_id, const mcp_client_t *client,
                                       long issued_at)
{
    json_t *doc = json_object();

    json_object_set_new(doc, "client_id", json_string(client_id));
    json_object_set_new(doc, "client_id_issued_at", json_integer(issued_at));
    json_object_set_new(doc, "redirect_uris", uris_json(client));
    json_object_set_new(doc, "token_endpoint_auth_method", json_string("none"));
    json_object_set_new(doc, "grant_types", json_pack("[ss]", "authorization_code", "refresh_token"));
    json_object_set_new(doc, "response_types", json_pack("[s]", "code"));
    if (client->client_name)
        json_object_set_new(doc, "client_name", json_string(client->client_name));
    if (client->application_type)
        json_object_set_new(doc, "application_type", json_string(client->application_type));
    return dump(pool, doc);
}

char *mcp_client_idp_registration(apr_pool_t *pool, const char *json, apr_size_t len, const char *callback)
{
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    static const char *const passed[] = { "client_name", "client_uri", "grant_types", "response_types",
                                          "token_endpoint_auth_method", "scope", "application_type",
                                          "software_id", "software_version", "contacts" };
    json_t *out = json_object();
    size_t i;

    /* what describes the client passes; its auth method (none, for MCP
     * clients) too: PKCE carries the client's proof through the relay to the
     * IdP. Nothing that makes the IdP fetch a URL the client chose
     * (sector_identifier_uri, jwks_uri, request_uris) or send users
     * anywhere but the gateway (post_logout_redirect_uris) */
    for (i = 0; i < sizeof(passed) / sizeof(passed[0]); i++) {
        json_t *v = json_object_get(doc, passed[i]);

        if (v)
            json_object_set(out, passed[i], v);
    }
    json_object_set_new(out, "redirect_uris", json_pack("[s]", callback));
    json_decref(doc);
    return dump(pool, out);
}

int mcp_client_pkce_s256_matches(const char *verifier, const char *challenge)
{
    unsigned char md[32];
    unsigned int n = 0;
    char *b64 = NULL;
    size_t b64_len = 0;
    cjose_err err;
    int ok;

    /* RFC 7636 §4.1: 43 to 128 unreserved characters */
    if (verifier == NULL || challenge == NULL || strlen(verifier) < 43 || strlen(verifier) > 128
        || strspn(verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != strlen(verifier))
        return 0;
    if (!EVP_Digest(verifier, strlen(verifier), md, &n, EVP_sha256(), NULL)
        || !cjose_base64url_encode(md, n, &b64, &b64_len, &err))
        return 0;
    ok = strlen(challenge) == b64_len && memcmp(b64, challenge, b64_len) == 0;
    cjose_get_dealloc()(b64);
    return ok;
}
