/* The gateway's own IdP client (for CIMD clients where the IdP registers
 * clients but knows nothing of metadata documents) is registered once per
 * site and location for every process and host that shares the cache,
 * and kept there sealed (its secret is the gateway's). Many MCP clients
 * then share one IdP client, so they go through the consent page. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <jansson.h>

#include "mcp_cache.h"
#include "mcp_seal.h"
#include "mcp_discovery.h"
#include "mcp_docstore.h"
#include "mcp_url.h"
#include "mcp_endpoints.h"
#include "mcp_httpd.h"
#include "mcp_presentation.h"
#include "mcp_relay.h"
#include "mcp_relay_idp.h"
#include "mcp_relay_seal.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_shared_cache.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

#define GATEWAY_CLIENT_LIFETIME (365 * 86400) /* seconds the registration is kept in the cache */
#define REGISTERING_TTL apr_time_from_sec(30)
#define WAIT_STEP apr_time_from_msec(100)

int mcp_relay_post(request_rec *r, const mcp_dir_conf_t *conf, mcp_post_t *post, mcp_fetch_result_t *res)
{
    mcp_doc_policy_t policy;
    const char *err = NULL;

    mcp_doc_policy_of(conf, &policy);
    post->accept = "application/json";
    post->forwarded_for = mcp_forwarded_for(r);
    post->len = strlen(post->body);
    if (mcp_fetch_post(r->pool, post, &policy.fetch, res, &err) != APR_SUCCESS || res->status < 200) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0031: POST %s failed: %s",
                      mcp_url_redacted(r->pool, post->url), err);
        return 0;
    }
    return 1;
}

const char *mcp_relay_register_at_idp(request_rec *r, const protected_location_t *pl, const char *payload,
                                      const char *bearer, const char **id, const char **secret, int *status,
                                      const char **answer)
{
    const mcp_discovery_t *d;
    const char *err = NULL;
    mcp_post_t post;
    mcp_fetch_result_t res;
    json_t *doc;

    d = mcp_idp_metadata(r, pl->conf, &err);
    if (d == NULL || d->registration_endpoint == NULL) {
        *status = d ? HTTP_NOT_FOUND : HTTP_SERVICE_UNAVAILABLE;
        return d ? "the authorization server offers no dynamic client registration" : err;
    }
    if (payload == NULL) {
        *status = HTTP_BAD_REQUEST;
        return "the registration request is not a JSON object";
    }
    memset(&post, 0, sizeof(post));
    post.url = d->registration_endpoint;
    post.content_type = "application/json";
    post.authorization = bearer;
    post.body = payload;
    if (!mcp_relay_post(r, pl->conf, &post, &res)) {
        *status = HTTP_BAD_GATEWAY;
        return "the authorization server did not answer";
    }
    doc = json_loadb(res.body, res.len, 0, NULL);
    if (res.status / 100 != 2 || !json_is_string(json_object_get(doc, "client_id"))) {
        /* the IdP's refusal goes back as it came */
        *status = res.status / 100 == 2 ? HTTP_BAD_GATEWAY : (int)res.status;
        *answer = res.status / 100 == 2 ? NULL : apr_pstrmemdup(r->pool, res.body, res.len);
        json_decref(doc);
        return "the authorization server did not register the client";
    }
    *id = mcp_relay_member(r->pool, doc, "client_id");
    *secret = mcp_relay_member(r->pool, doc, "client_secret");
    json_decref(doc);
    return NULL;
}

int mcp_relay_idp_registers(request_rec *r, const mcp_dir_conf_t *conf)
{
    const char *err = NULL;
    const mcp_discovery_t *d = mcp_idp_metadata(r, conf, &err);

    return d && d->registration_endpoint;
}

/* ---- the gateway's own client ---- */

static const char *gateway_client_payload(request_rec *r, const protected_location_t *pl)
{
    json_t *doc = json_pack("{s:s, s:[s], s:[ss], s:[s], s:s, s:s}",
                            "client_name", apr_pstrcat(r->pool, "MCP gateway ", mcp_resource_of(r, pl->conf), NULL),
                            "redirect_uris", mcp_endpoint_url(r, pl, MCP_ENDPOINT_CALLBACK),
                            "grant_types", "authorization_code", "refresh_token",
                            "response_types", "code",
                            "token_endpoint_auth_method", "client_secret_basic",
                            "application_type", "web");
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    const char *out = text ? apr_pstrdup(r->pool, text) : NULL;

    free(text);
    json_decref(doc);
    return out;
}

/* The registration kept in the cache, or 0. */
static int kept_client(request_rec *r, mcp_cache_t *cache, const char *record, const char **id, const char **secret)
{
    unsigned char *raw;
    apr_size_t len;
    json_t *doc;

    if (mcp_cache_get(cache, record, MCP_SEAL_MAX_LEN, r->pool, &raw, &len) != APR_SUCCESS)
        return 0;
    doc = mcp_relay_unseal_json(r, "gateway-client", (const char *)raw);
    *id = mcp_relay_member(r->pool, doc, "i");
    *secret = mcp_relay_member(r->pool, doc, "s");
    json_decref(doc);
    /* a public client at the IdP was kept with an empty secret */
    if (*secret && !**secret)
        *secret = NULL;
    return *id != NULL;
}

static int gateway_client(request_rec *r, const protected_location_t *pl, const char **id, const char **secret,
                          const char **why)
{
    mcp_cache_t *cache = mcp_shared_cache();
    const char *binding = mcp_relay_purpose(r, "gateway-client");
    const char *record = mcp_cache_id(r->pool, "relay-gateway-client", binding);
    const char *registering = mcp_cache_id(r->pool, "relay-gateway-client-registering", binding);
    const char *answer = NULL, *sealed, *err;
    apr_time_t until;
    mcp_claim_t claim;
    int status;

    if (cache == NULL) {
        *why = "the gateway has no shared cache to keep its client at the identity provider in";
        return 0;
    }
    if (kept_client(r, cache, record, id, secret))
        return 1;
    claim = mcp_cache_claim(cache, registering, REGISTERING_TTL, r->pool);
    if (claim == MCP_CLAIM_UNAVAILABLE) {
        *why = "the gateway's shared cache does not answer";
        return 0;
    }
    if (claim == MCP_CLAIM_HELD) {
        /* another process or host registers it right now */
        for (until = apr_time_now() + REGISTERING_TTL; apr_time_now() < until; apr_sleep(WAIT_STEP)) {
            if (kept_client(r, cache, record, id, secret))
                return 1;
            if (!mcp_cache_marker_alive(cache, registering, r->pool))
                break;
        }
        *why = "the gateway's client at the identity provider is being registered; try again";
        return kept_client(r, cache, record, id, secret);
    }
    err = mcp_relay_register_at_idp(r, pl, gateway_client_payload(r, pl), NULL, id, secret, &status, &answer);
    if (err == NULL) {
        sealed = mcp_relay_seal_json(r, "gateway-client", json_pack("{ssss}", "i", *id, "s", *secret ? *secret : ""));
        if (*secret && !**secret)
            *secret = NULL;
        if (sealed == NULL || mcp_cache_put(cache, record, apr_time_now() + apr_time_from_sec(GATEWAY_CLIENT_LIFETIME),
                                            (const unsigned char *)sealed, strlen(sealed), r->pool) != APR_SUCCESS)
            err = "the gateway cannot keep its client at the identity provider in its shared cache";
        else
            ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "MCPAUTH0062: registered the gateway's own client %s at "
                          "the identity provider for %s (for clients with metadata documents)",
                          mcp_loggable(r, *id), mcp_resource_of(r, pl->conf));
    }
    mcp_cache_remove(cache, registering, r->pool);
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0063: cannot register the gateway's own client at the "
                      "identity provider: %s%s%s", err, answer ? ": " : "", answer ? mcp_loggable(r, answer) : "");
        *why = "the gateway has no client at the identity provider";
        return 0;
    }
    return 1;
}

int mcp_relay_idp_client(request_rec *r, const protected_location_t *pl, const mcp_client_t *client,
                         const char **id, const char **secret, const char **why)
{
    if (client->idp_client_id) {
        *id = client->idp_client_id;
        *secret = client->idp_client_secret;
        return 1;
    }
    if (pl->conf->client_id) {
        *id = pl->conf->client_id;
        *secret = pl->conf->client_secret;
        return 1;
    }
    if (client->metadata_url && mcp_relay_idp_registers(r, pl->conf))
        return gateway_client(r, pl, id, secret, why);
    *why = "the gateway has no client at the identity provider";
    return 0;
}
