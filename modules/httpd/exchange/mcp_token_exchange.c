/* MCPAuthTokenExchange as a request needs it: the directive, the client's
 * copy of the target header removed, and the trade at the IdP with its
 * answers kept (sealed) in the shared cache, one trade per token and
 * target in flight across the fleet. */

#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_core.h>

#include "mcp_cache.h"
#include "mcp_client_auth.h"
#include "mcp_discovery.h"
#include "mcp_dpop.h"
#include "mcp_field.h"
#include "mcp_fetch.h"
#include "mcp_flight.h"
#include "mcp_jsonrpc.h"
#include "mcp_url.h"
#include "mcp_challenges.h"
#include "mcp_httpd.h"
#include "mcp_idp_client.h"
#include "mcp_metrics_page.h"
#include "mcp_identity.h"
#include "mcp_outcome.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_rules.h"
#include "mcp_shared_cache.h"
#include "mcp_token_exchange.h"

APLOG_USE_MODULE(mcp_auth);

/* After a trade that could not reach the IdP, how long others fail at
 * once instead of each waiting its timeout on an IdP that is down (per
 * endpoint, client and target). */
#define FAILED_REST apr_time_from_sec(2)
/* How long a refusal is remembered for the same token and target: a client
 * that retries at once costs the IdP nothing. */
#define REFUSAL_KEPT_SECONDS 5
/* JSON-RPC's implementation-defined server error range (-32000 to -32099):
 * the one code of the gateway's refusals to trade. */
#define RPC_NO_BACKEND_TOKEN (-32003)

/* Headers a token must never be written into: they frame the request or
 * carry MCP or other credentials the backend reads otherwise. */
static const char *const unfit_headers[] = {
    "Host", "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Transfer-Encoding",
    "Connection", "Upgrade", "TE", "Trailer", "Keep-Alive", "Expect", "Range", "Proxy-Authorization", "Cookie",
    "Origin", "Accept", "Accept-Encoding", "DPoP", "Forwarded", "Via", "X-Forwarded-For", "X-Forwarded-Host",
    "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Prefix", "X-Forwarded-Ssl",
    "X-Forwarded-User", "X-Real-IP", "X-Client-IP", "True-Client-IP", "X-Original-URL", "X-Rewrite-URL",
    "X-HTTP-Method-Override", "Max-Forwards", "Remote-User", "Mcp-Session-Id", "Mcp-Protocol-Version",
    "Mcp-Method", "Mcp-Name", "Last-Event-ID", NULL
};

/* An absolute URI (RFC 3986 §4.3): a scheme, no fragment; resource
 * indicators and token type identifiers are such URIs (RFC 8707 §2,
 * RFC 8693 §3). */
static int is_absolute_uri(const char *s)
{
    const char *colon = strchr(s, ':'), *p;

    if (colon == NULL || colon == s || !apr_isalpha(*s) || strchr(s, '#') || strpbrk(s, " \t\r\n\"<>\\"))
        return 0;
    for (p = s; p < colon; p++) {
        if (!apr_isalnum(*p) && *p != '+' && *p != '-' && *p != '.')
            return 0;
    }
    return colon[1] != '\0';
}

/* RFC 6749 §3.3: scope tokens are NQCHAR (printable ASCII without '"' and
 * '\'), separated by single spaces. */
static int is_scope(const char *s)
{
    for (; *s; s++) {
        if ((*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\') && *s != ' ')
            return 0;
    }
    return 1;
}

static const char *add_scope(cmd_parms *cmd, mcp_exchange_conf_t *x, const char *value)
{
    const char *scope;
    char *word, *last;
    char *copy = apr_pstrdup(cmd->temp_pool, value);

    if (!is_scope(value))
        return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: '%s' is no scope (RFC 6749, section 3.3)", value);
    for (word = apr_strtok(copy, " ", &last); word; word = apr_strtok(NULL, " ", &last)) {
        scope = x->target.scope ? apr_pstrcat(cmd->pool, x->target.scope, " ", word, NULL)
                                : apr_pstrdup(cmd->pool, word);
        x->target.scope = scope;
    }
    return NULL;
}

static const char *push_uri(cmd_parms *cmd, apr_array_header_t **list, const char *key, const char *value,
                            int uri)
{
    if (uri && !is_absolute_uri(value))
        return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: %s='%s' is not an absolute URI without a fragment",
                            key, value);
    if (!uri && strpbrk(value, "\t\r\n"))
        return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: %s='%s' holds a control character", key, value);
    if (*list == NULL)
        *list = apr_array_make(cmd->pool, 2, sizeof(const char *));
    APR_ARRAY_PUSH(*list, const char *) = value;
    return NULL;
}

static const char *set_header(cmd_parms *cmd, mcp_exchange_conf_t *x, const char *value)
{
    int i;

    if (!mcp_is_header_token(value))
        return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: header='%s' is not a valid header name", value);
    for (i = 0; unfit_headers[i]; i++) {
        if (mcp_field_names_alike(value, unfit_headers[i]))
            return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: refusing to put a token in the %s header", value);
    }
    x->header = value;
    return NULL;
}

static const char *set_option(cmd_parms *cmd, mcp_exchange_conf_t *x, const char *key, const char *value)
{
    if (strcasecmp(key, "audience") == 0)
        return push_uri(cmd, &x->target.audiences, key, value, 0);
    if (strcasecmp(key, "resource") == 0)
        return push_uri(cmd, &x->target.resources, key, value, 1);
    if (strcasecmp(key, "scope") == 0)
        return add_scope(cmd, x, value);
    if (strcasecmp(key, "header") == 0)
        return set_header(cmd, x, value);
    if (strcasecmp(key, "grant") == 0) {
        if (strcasecmp(value, "token-exchange") == 0)
            x->target.grant = MCP_EXCHANGE_GRANT_TOKEN_EXCHANGE;
        else if (strcasecmp(value, "on-behalf-of") == 0)
            x->target.grant = MCP_EXCHANGE_GRANT_ON_BEHALF_OF;
        else
            return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: grant='%s' is neither token-exchange nor "
                                "on-behalf-of", value);
        x->grant_set = 1;
        return NULL;
    }
    if (strcasecmp(key, "endpoint") == 0) {
        if (!mcp_is_http_url(value))
            return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: endpoint='%s' is not an absolute http(s) URL",
                                value);
        x->endpoint = value;
        return NULL;
    }
    if (strcasecmp(key, "subject-token-type") == 0) {
        if (!is_absolute_uri(value))
            return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: subject-token-type='%s' is not a URI", value);
        x->target.subject_token_type = value;
        return NULL;
    }
    return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: unknown option '%s' (use audience, resource, scope, "
                        "grant, header, endpoint or subject-token-type)", key);
}

const char *mcp_token_exchange_directive(cmd_parms *cmd, void *confv, int argc, char *const argv[])
{
    mcp_dir_conf_t *conf = confv;
    mcp_exchange_conf_t *x = apr_pcalloc(cmd->pool, sizeof(*x));
    const char *err;
    int i = 0;

    if (argc == 0)
        return "MCPAuthTokenExchange takes Off, On, or [On] KEY=VALUE options";
    if (argc == 1 && strcasecmp(argv[0], "Off") == 0) {
        conf->exchange = x;
        return NULL;
    }
    if (strcasecmp(argv[0], "On") == 0)
        i = 1;
    x->on = 1;
    x->header = "Authorization";
    for (; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');

        if (eq == NULL || eq == argv[i] || eq[1] == '\0')
            return apr_psprintf(cmd->pool, "MCPAuthTokenExchange: '%s' is not KEY=VALUE (Off and On come alone "
                                "or first)", argv[i]);
        err = set_option(cmd, x, apr_pstrmemdup(cmd->temp_pool, argv[i], (apr_size_t)(eq - argv[i])), eq + 1);
        if (err)
            return err;
    }
    conf->exchange = x;
    return NULL;
}

int mcp_token_exchange_on(const mcp_dir_conf_t *conf)
{
    return conf->exchange != NULL && conf->exchange->on;
}

/* The grant a location uses: on-behalf-of is how Entra exchanges. */
static mcp_exchange_target_t target_of(const mcp_dir_conf_t *conf)
{
    mcp_exchange_target_t target = conf->exchange->target;

    if (!conf->exchange->grant_set)
        target.grant = mcp_provider_of(conf) == MCP_PROVIDER_ENTRA ? MCP_EXCHANGE_GRANT_ON_BEHALF_OF
                                                                    : MCP_EXCHANGE_GRANT_TOKEN_EXCHANGE;
    return target;
}

const char *mcp_token_exchange_problem(apr_pool_t *pool, const mcp_dir_conf_t *conf)
{
    int i;

    if (!mcp_token_exchange_on(conf))
        return NULL;
    if (conf->exchange_client == NULL)
        return "MCPAuthTokenExchange needs MCPAuthTokenExchangeClient (the gateway's client at the IdP)";
    if (target_of(conf).grant == MCP_EXCHANGE_GRANT_ON_BEHALF_OF && conf->exchange->target.scope == NULL)
        return "MCPAuthTokenExchange grant=on-behalf-of needs scope= (the API's scope, e.g. api://ID/.default)";
    for (i = 0; conf->claim_headers && i < conf->claim_headers->nelts; i++) {
        const char *claim_header = APR_ARRAY_IDX(conf->claim_headers, i, claim_header_t).header;

        if (mcp_field_names_alike(claim_header, conf->exchange->header))
            return apr_psprintf(pool, "MCPAuthTokenExchange header=%s is also an MCPAuthClaimHeader: one of them "
                                "would overwrite the other", conf->exchange->header);
    }
    return NULL;
}

void mcp_token_exchange_scrub(request_rec *r, const mcp_dir_conf_t *conf)
{
    if (mcp_token_exchange_on(conf))
        mcp_headers_scrub(r, &conf->exchange->header, 1);
}

/* One trade at the IdP, as the configured client. *unreachable: no
 * connection could be made (refused, connect timeout): the IdP is down for
 * everyone, whoever's token was to be sent. */
static mcp_exchange_status_t ask(request_rec *r, const mcp_dir_conf_t *conf, const mcp_exchange_target_t *target,
                                 const char *endpoint, const char *token, apr_size_t len, mcp_exchanged_t *answer,
                                 int *unreachable, const char **why)
{
    mcp_fetch_result_t res;
    const char *err = NULL;
    long now = (long)apr_time_sec(apr_time_now());
    mcp_exchange_status_t status;

    memset(answer, 0, sizeof(*answer));
    memset(&res, 0, sizeof(res));
    if (mcp_idp_post(r, conf, conf->exchange_client, endpoint, "the token endpoint",
                     mcp_exchange_request(r->pool, target, token, len), &res, why) != APR_SUCCESS) {
        *unreachable = res.unreachable;
        return MCP_EXCHANGE_BROKEN;
    }
    status = mcp_exchange_answer(r->pool, res.status, res.body, res.len, now, answer, &err);
    if (status == MCP_EXCHANGE_BROKEN)
        *why = apr_pstrcat(r->pool, "the token endpoint ", mcp_url_redacted(r->pool, endpoint), ": ", err, NULL);
    return status;
}

/* What a request read from the cache, when it can use it. */
typedef struct kept_trade {
    request_rec *r;
    const char *token, *name;
    apr_size_t len;
    mcp_exchange_status_t status;
    mcp_exchanged_t answer;
} kept_trade_t;

static int usable(void *baton, const unsigned char *value, apr_size_t len)
{
    kept_trade_t *kept = baton;

    kept->status = mcp_exchange_record_read(kept->r->pool, kept->token, kept->len, kept->name, (const char *)value,
                                            len, &kept->answer);
    /* a token past its end is no answer, whatever the store kept */
    return kept->status == MCP_EXCHANGE_REFUSED
           || (kept->status == MCP_EXCHANGE_ISSUED && kept->answer.expires_at > apr_time_sec(apr_time_now()));
}

static void keep(request_rec *r, mcp_cache_t *cache, const kept_trade_t *trade, const char *id)
{
    long now = (long)apr_time_sec(apr_time_now());
    long until = trade->status == MCP_EXCHANGE_ISSUED ? mcp_exchange_reuse_until(now, trade->answer.expires_at)
                                                      : now + REFUSAL_KEPT_SECONDS;
    const char *record;

    if (cache == NULL || until <= now)
        return;
    record = mcp_exchange_record(r->pool, trade->token, trade->len, trade->name, trade->status, &trade->answer);
    if (record)
        mcp_cache_put(cache, id, apr_time_from_sec(until), (const unsigned char *)record, strlen(record), r->pool);
}

/* The answer a client gets when there is no token for the backend: a
 * JSON-RPC error to its request (MCP clients show its message), in an
 * HTTP error that says whether to try again. */
static int no_token(request_rec *r, int status, const char *message, const char *error)
{
    mcp_metrics_refused(mcp_metrics_slot_of(mcp_conf_of(r)), status == HTTP_SERVICE_UNAVAILABLE
                                                                 ? MCP_REFUSAL_EXCHANGE_UNAVAILABLE
                                                                 : MCP_REFUSAL_EXCHANGE_REFUSED);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    /* the message carries the IdP's error code, which may hold markup */
    apr_table_setn(r->err_headers_out, "X-Content-Type-Options", "nosniff");
    if (status == HTTP_SERVICE_UNAVAILABLE)
        apr_table_setn(r->err_headers_out, "Retry-After", "5");
    if (ap_response_code_string(r, ap_index_of_response(status)) == NULL) {
        ap_custom_response(r, status, (char *)mcp_rpc_error_with(r->pool, mcp_rules_request_id(r),
                                                                 RPC_NO_BACKEND_TOKEN, message, "error", error));
        apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    }
    return status;
}

static int refused(request_rec *r, const mcp_exchanged_t *answer, int remembered)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "MCPAUTH0072: the IdP refused a token for the MCP server (%s) to %s for %s%s%s%s",
                  mcp_loggable(r, answer->error), mcp_loggable(r, r->user), r->uri,
                  answer->description ? ": " : "", answer->description ? mcp_loggable(r, answer->description) : "",
                  remembered ? " (its answer moments ago)" : "");
    mcp_outcome_set(r, MCP_REFUSED, "exchange_refused");
    return no_token(r, HTTP_FORBIDDEN,
                    apr_psprintf(r->pool, "The identity provider refused a token for the MCP server (%s)",
                                 answer->error),
                    answer->error);
}

static int unavailable(request_rec *r, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0073: no token for the MCP server at %s: %s", r->uri, why);
    mcp_outcome_set(r, MCP_REFUSED, "exchange_unavailable");
    return no_token(r, HTTP_SERVICE_UNAVAILABLE,
                    "The identity provider is unavailable: no token for the MCP server; try again",
                    "temporarily_unavailable");
}

static int forward(request_rec *r, const mcp_dir_conf_t *conf, const char *token)
{
    const char *header = conf->exchange->header;

    apr_table_setn(r->headers_in, header,
                   strcasecmp(header, "Authorization") == 0 ? apr_pstrcat(r->pool, "Bearer ", token, NULL) : token);
    return OK;
}

int mcp_token_exchange(request_rec *r, const mcp_dir_conf_t *conf, const char *token, apr_size_t len)
{
    mcp_exchange_target_t target;
    const char *why = mcp_token_exchange_problem(r->pool, conf), *endpoint, *client;
    kept_trade_t trade = { r, token, NULL, len, MCP_EXCHANGE_BROKEN, { 0 } };
    mcp_doc_policy_t policy;
    mcp_flight_t flight;
    int unreachable = 0;

    if (why) {
        /* set where startup does not look: below the AuthType MCP section */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0071: %s: %s", r->uri, why);
        mcp_outcome_set(r, MCP_REFUSED, "misconfigured");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    target = target_of(conf);
    client = conf->exchange_client->client_id;
    endpoint = mcp_idp_endpoint(r, conf, conf->exchange->endpoint, APR_OFFSETOF(mcp_discovery_t, token_endpoint),
                                "token_endpoint", &why);
    if (endpoint == NULL)
        return unavailable(r, why);
    /* the record is named by a hash of the token and everything asked;
     * its content is sealed under a key only the token gives */
    trade.name = apr_pstrcat(r->pool, endpoint, " ", client, " ", mcp_exchange_target_describe(r->pool, &target),
                             NULL);
    mcp_doc_policy_of(conf, &policy);
    flight.cache = mcp_exchanged_cache();
    /* markers apart: in shmcb a removed entry holds its slot until it
     * cycles out, and each would cost a kept token its place */
    flight.markers = mcp_unchecked_cache();
    flight.record = mcp_cache_id(r->pool, "exchanged",
                                 apr_pstrcat(r->pool, trade.name, " ", mcp_sha256_b64url(r->pool, token, len), NULL));
    flight.marker = mcp_cache_id(r->pool, "exchanging", flight.record);
    /* per target too: an IdP that fails to issue for one audience (its
     * upstream broken, say) keeps issuing for the others */
    flight.failed = mcp_cache_id(r->pool, "exchange-failed", trade.name);
    flight.patience = apr_time_from_msec(policy.fetch.timeout_ms);
    switch (mcp_flight_board(&flight, MCP_EXCHANGE_RECORD_MAX_LEN, usable, &trade, r->pool)) {
    case MCP_FLIGHT_ANSWERED:
        return trade.status == MCP_EXCHANGE_ISSUED ? forward(r, conf, trade.answer.token)
                                                   : refused(r, &trade.answer, 1);
    case MCP_FLIGHT_FAILED:
        return unavailable(r, "the token endpoint could not be reached moments ago (see the MCPAUTH0073 before this "
                              "one)");
    case MCP_FLIGHT_ASK:
        break;
    }
    trade.status = ask(r, conf, &target, endpoint, token, len, &trade.answer, &unreachable, &why);
    if (trade.status != MCP_EXCHANGE_BROKEN)
        keep(r, flight.cache, &trade, flight.record);
    /* only an IdP that cannot be reached rests the others: each would wait
     * its connect timeout. Any failure after the request went out (a bad
     * answer, a read timeout, a dropped connection) may be about this one
     * user's token: the next user's trade is asked anew. */
    mcp_flight_land(&flight, unreachable, FAILED_REST, r->pool);
    switch (trade.status) {
    case MCP_EXCHANGE_ISSUED:
        if (trade.answer.expires_at)
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0074: the IdP issued a token for the MCP server to "
                          "%s (expires in %ld s)", mcp_loggable(r, r->user),
                          trade.answer.expires_at - (long)apr_time_sec(apr_time_now()));
        else
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0074: the IdP issued a token for the MCP server to "
                          "%s (no lifetime given: used for this request only)", mcp_loggable(r, r->user));
        return forward(r, conf, trade.answer.token);
    case MCP_EXCHANGE_REFUSED:
        return refused(r, &trade.answer, 0);
    default:
        return unavailable(r, why);
    }
}
