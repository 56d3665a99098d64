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

static json_t *strings(const char *a, const char *b)
{
    json_t *arr = json_array();

    json_array_append_new(arr, json_string(a));
    if (b)
        json_array_append_new(arr, json_string(b));
    return arr;
}

/* What the IdP offers that the relay does not pass on. Its clients are
 * public ("none"), so no JWT client authentication (RFC 8414 §2) at any
 * endpoint; its authorize request carries no request object, claims or
 * ACR values (OpenID Connect Discovery 1.0 §3). */
static const char *const not_relayed[] = {
    "token_endpoint_auth_signing_alg_values_supported",
    "revocation_endpoint_auth_methods_supported", "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint_auth_methods_supported", "introspection_endpoint_auth_signing_alg_values_supported",
    "request_parameter_supported", "require_request_uri_registration", "request_object_signing_alg_values_supported",
    "request_object_encryption_alg_values_supported", "request_object_encryption_enc_values_supported",
    "claims_parameter_supported", "acr_values_supported", NULL
};

char *mcp_facade_metadata(apr_pool_t *pool, const char *idp_json, const mcp_facade_t *f,
                          const char **err)
{
    json_t *doc = json_loads(idp_json, JSON_REJECT_DUPLICATES, NULL);
    const char *const *name;
    char *out;

    if (!json_is_object(doc)) {
        json_decref(doc);
        *err = "the IdP metadata is not a JSON object";
        return NULL;
    }
    if (f->issuer) {
        /* RFC 8414 §3.3: clients compare this with the PRM's authorization
         * server, and RFC 9207 §2.4 the iss of every authorization response,
         * which the relay writes itself */
        json_object_set_new(doc, "issuer", json_string(f->issuer));
        json_object_set_new(doc, "authorization_endpoint", json_string(f->authorization_endpoint));
        json_object_set_new(doc, "token_endpoint", json_string(f->token_endpoint));
        json_object_set_new(doc, "registration_endpoint", json_string(f->registration_endpoint));
        json_object_set_new(doc, "authorization_response_iss_parameter_supported", json_true());
        json_object_set_new(doc, "response_types_supported", strings("code", NULL));
        json_object_set_new(doc, "grant_types_supported", strings("authorization_code", "refresh_token"));
        json_object_set_new(doc, "code_challenge_methods_supported", strings("S256", NULL));
        json_object_set_new(doc, "token_endpoint_auth_methods_supported", strings("none", NULL));
        for (name = not_relayed; *name; name++)
            json_object_del(doc, *name);
        /* absent would mean supported (OpenID Connect Discovery 1.0 §3) */
        json_object_set_new(doc, "request_uri_parameter_supported", json_false());
        json_object_del(doc, "response_modes_supported");
        json_object_del(doc, "pushed_authorization_request_endpoint");
        json_object_del(doc, "require_pushed_authorization_requests");
        json_object_del(doc, "device_authorization_endpoint");
        /* the IdP would not know the relay's client ids there, and mTLS
         * aliases would take clients around the relay */
        json_object_del(doc, "revocation_endpoint");
        json_object_del(doc, "introspection_endpoint");
        json_object_del(doc, "mtls_endpoint_aliases");
        /* the relay redeems codes with its own request, without the client's
         * DPoP proof (made for the gateway's token endpoint, it must not be
         * replayed to the IdP's): its tokens are bearer tokens, and a client
         * that sends a proof gets token_type Bearer (RFC 9449 §5) */
        json_object_del(doc, "dpop_signing_alg_values_supported");
        json_object_del(doc, "tls_client_certificate_bound_access_tokens");
        if (f->client_metadata_documents)
            json_object_set_new(doc, "client_id_metadata_document_supported", json_true());
        else
            json_object_del(doc, "client_id_metadata_document_supported");
    }
    out = dump(pool, doc);
    json_decref(doc);
    return out;
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

static int names_api(const char *word, const apr_array_header_t *apis)
{
    const char *slash = strrchr(word, '/');
    apr_size_t n;
    int i;

    if (slash == NULL || slash == word)
        return 0;
    n = (apr_size_t)(slash - word);
    for (i = 0; apis && i < apis->nelts; i++) {
        const char *api = APR_ARRAY_IDX(apis, i, const char *);
        apr_size_t m = strlen(api);

        /* "api://APP" and "api://APP/" name one API */
        if (m && api[m - 1] == '/')
            m--;
        if (m == n && strncmp(word, api, n) == 0)
            return 1;
    }
    return 0;
}

const char *mcp_entra_foreign_scope(apr_pool_t *pool, const char *list, const apr_array_header_t *apis)
{
    static const char *const oidc[] = { "openid", "profile", "email", "offline_access" };
    char *copy = apr_pstrdup(pool, list ? list : ""), *word, *state = NULL;
    size_t i;

    for (word = apr_strtok(copy, " ", &state); word; word = apr_strtok(NULL, " ", &state)) {
        int own = names_api(word, apis);

        for (i = 0; !own && i < sizeof(oidc) / sizeof(oidc[0]); i++)
            own = strcmp(word, oidc[i]) == 0;
        if (!own)
            return word;
    }
    return NULL;
}
