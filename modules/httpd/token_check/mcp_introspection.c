/* Introspection as a request needs it: where to ask (the configured URL or
 * the issuer's introspection_endpoint), as which client, and the shared
 * cache in front, so that each token costs the IdP one question per
 * MCPAuthIntrospectionCache period across the whole fleet. */

#include <string.h>

#include <apr_strings.h>
#include <jansson.h>
#include <httpd.h>
#include <http_log.h>

#include "mcp_cache.h"
#include "mcp_client_auth.h"
#include "mcp_dpop.h"
#include "mcp_fetch.h"
#include "mcp_flight.h"
#include "mcp_url.h"
#include "mcp_httpd.h"
#include "mcp_idp_client.h"
#include "mcp_introspection.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_shared_cache.h"

APLOG_USE_MODULE(mcp_auth);

/* Answers are small; a larger record is not ours. */
#define RECORD_MAX_LEN (64 * 1024)
/* After a failed question, how long others fail at once instead of asking
 * an IdP that is down (each would wait its timeout). */
#define FAILED_REST apr_time_from_sec(2)

int mcp_introspects(const mcp_dir_conf_t *conf, const char *token, apr_size_t len)
{
    switch (mcp_token_format_of(conf)) {
    case MCP_TOKEN_FORMAT_OPAQUE:
        return 1;
    case MCP_TOKEN_FORMAT_AUTO:
        return !mcp_token_is_jws_shaped(token, len);
    default:
        return 0;
    }
}

static const char *endpoint_of(request_rec *r, const mcp_dir_conf_t *conf, const char **why)
{
    int discovery = conf->introspection == NULL || strcmp(conf->introspection, MCP_INTROSPECTION_DISCOVERY) == 0;

    return mcp_idp_endpoint(r, conf, discovery ? NULL : conf->introspection,
                            APR_OFFSETOF(mcp_discovery_t, introspection_endpoint), "introspection_endpoint", why);
}

/* Whether a 400 answer is RFC 6749 §5.2's refusal of the gateway's client
 * (which concerns every token) rather than of this token's request. */
static int refuses_client(request_rec *r, const mcp_fetch_result_t *res)
{
    json_t *doc = json_loadb(res->body, res->len, 0, NULL);
    const char *error = json_string_value(json_object_get(doc, "error"));
    int client = error && (strcmp(error, "invalid_client") == 0 || strcmp(error, "unauthorized_client") == 0);

    json_decref(doc);
    return client;
}

/* One question to the IdP (RFC 7662 §2.1), as the configured client. */
static mcp_introspect_status_t ask(request_rec *r, const mcp_dir_conf_t *conf, const char *endpoint,
                                   const char *token, apr_size_t len, json_t **claims, const char **why)
{
    mcp_fetch_result_t res;
    const char *err = NULL;
    mcp_introspect_status_t status;

    if (mcp_idp_post(r, conf, conf->introspection_client, endpoint, "introspection",
                     mcp_introspect_request(r->pool, token, len), &res, why) != APR_SUCCESS)
        return MCP_INTROSPECT_BROKEN;
    if ((res.status == 400 && !refuses_client(r, &res)) || res.status == 413) {
        /* a refusal of this token's request (its size, its characters): an
         * answer about the token, not a failing endpoint, which anyone could
         * otherwise bring about with a token of their making */
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0070: introspection at %s answered HTTP %ld for a "
                      "token: taken as not active", mcp_url_redacted(r->pool, endpoint), res.status);
        return MCP_INTROSPECT_INACTIVE;
    }
    if (res.status != 200) {
        /* 401/403: the IdP does not take the gateway's client (RFC 7662 §2.3) */
        *why = apr_psprintf(r->pool, "introspection at %s answered HTTP %ld%s", mcp_url_redacted(r->pool, endpoint),
                            res.status,
                            res.status == 400 || res.status == 401 || res.status == 403
                                ? ": check MCPAuthIntrospectionClient" : "");
        return MCP_INTROSPECT_BROKEN;
    }
    status = mcp_introspect_parse(r->pool, res.body, res.len, conf->issuer, claims, &err);
    if (status == MCP_INTROSPECT_BROKEN)
        *why = apr_pstrcat(r->pool, "introspection at ", mcp_url_redacted(r->pool, endpoint), ": ", err, NULL);
    return status;
}

/* What a waiting request read: the answer, when there is one. */
typedef struct kept_answer {
    apr_pool_t *pool;
    mcp_introspect_status_t status;
    json_t *claims;
} kept_answer_t;

static int usable(void *baton, const unsigned char *value, apr_size_t len)
{
    kept_answer_t *kept = baton;

    kept->status = mcp_introspect_record_read(kept->pool, (const char *)value, len, &kept->claims);
    return kept->status != MCP_INTROSPECT_BROKEN;
}

/* Kept until the token expires, and no longer than the configured maximum
 * (a revoked token is taken that long at most); refusals briefly. An active
 * answer whose exp is past or near is kept as long as a refusal: its claims
 * are checked on every request (expired, or within the clock skew), and a
 * client that retries with it must not cost the IdP a question each time. */
static void record(request_rec *r, const mcp_dir_conf_t *conf, mcp_cache_t *cache, const char *id,
                   mcp_introspect_status_t status, json_t *claims)
{
    apr_time_t now = apr_time_now(), until;
    apr_time_t briefly = now + apr_time_from_sec(mcp_introspection_negative_of(conf));
    json_t *exp = claims ? json_object_get(claims, "exp") : NULL;
    const char *text;

    if (cache == NULL)
        return;
    if (status == MCP_INTROSPECT_ACTIVE) {
        apr_time_t most = now + apr_time_from_sec(mcp_introspection_max_of(conf));

        until = most;
        if (json_is_number(exp) && json_number_value(exp) < (double)apr_time_sec(until)) {
            until = apr_time_from_sec((apr_time_t)json_number_value(exp));
            if (until < briefly)
                until = briefly < most ? briefly : most;
        }
    }
    else {
        until = briefly;
    }
    if (until <= now)
        return;
    text = mcp_introspect_record(r->pool, status == MCP_INTROSPECT_ACTIVE ? claims : NULL);
    if (text)
        mcp_cache_put(cache, id, until, (const unsigned char *)text, strlen(text), r->pool);
}

mcp_introspect_status_t mcp_introspect(request_rec *r, const mcp_dir_conf_t *conf, const char *token,
                                       apr_size_t len, json_t **claims, const char **why)
{
    const char *endpoint = endpoint_of(r, conf, why), *name;
    const char *client = conf->introspection_client ? conf->introspection_client->client_id : "";
    mcp_introspect_status_t status;
    mcp_doc_policy_t policy;
    mcp_flight_t flight;
    kept_answer_t kept = { r->pool, MCP_INTROSPECT_BROKEN, NULL };

    *claims = NULL;
    if (endpoint == NULL)
        goto broken;
    /* the record names a hash of the token, never the token, and the
     * periods answers are kept for: a location that keeps them shorter (or
     * not at all, so that a revocation counts at once) never takes one
     * another location keeps longer */
    name = apr_psprintf(r->pool, "%s %s %d/%d %s", endpoint, client, mcp_introspection_max_of(conf),
                        mcp_introspection_negative_of(conf), mcp_sha256_b64url(r->pool, token, len));
    mcp_doc_policy_of(conf, &policy);
    flight.cache = mcp_unchecked_cache();
    flight.markers = NULL;
    flight.record = mcp_cache_id(r->pool, "introspected", name);
    flight.marker = mcp_cache_id(r->pool, "introspecting", name);
    /* an endpoint that refuses one client (401) is no outage for the others */
    flight.failed = mcp_cache_id(r->pool, "introspection-failed", apr_pstrcat(r->pool, endpoint, " ", client, NULL));
    flight.patience = apr_time_from_msec(policy.fetch.timeout_ms);
    switch (mcp_flight_board(&flight, RECORD_MAX_LEN, usable, &kept, r->pool)) {
    case MCP_FLIGHT_ANSWERED:
        *claims = kept.claims;
        return kept.status;
    case MCP_FLIGHT_FAILED:
        *why = "the introspection endpoint failed moments ago (see the MCPAUTH0065 before this one)";
        goto broken;
    case MCP_FLIGHT_ASK:
        break;
    }
    status = ask(r, conf, endpoint, token, len, claims, why);
    if (status != MCP_INTROSPECT_BROKEN)
        record(r, conf, flight.cache, flight.record, status, *claims);
    mcp_flight_land(&flight, status == MCP_INTROSPECT_BROKEN, FAILED_REST, r->pool);
    if (status != MCP_INTROSPECT_BROKEN)
        return status;
broken:
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0065: cannot introspect the token for %s: %s", r->uri, *why);
    return MCP_INTROSPECT_BROKEN;
}
