/*
 * mod_mcp_auth: httpd as an OAuth 2.0 resource server in front of MCP servers.
 *
 * This file is the module: its record, the hooks it registers, and the
 * request path of "AuthType MCP" (the token check, the Require providers
 * and the error filter that turns refusals into Bearer challenges).
 * Configuration, URLs, challenges, the well-known endpoints and the status
 * page are httpd glue in modules/httpd/; the work that needs no request
 * (JWT, JWKS, fetching, the shared cache) is the engine in modules/engine/.
 * See modules/README for which way calls go.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <ap_provider.h>
#include <mod_auth.h>
#include <mod_core.h>
#include <mod_status.h>

#include "mcp_fetch.h"
#include "mcp_jwt.h"
#include "mcp_scope.h"

#include "mcp_audit_log.h"
#include "mcp_body.h"
#include "mcp_cache_guard.h"
#include "mcp_challenges.h"
#include "mcp_config.h"
#include "mcp_cors.h"
#include "mcp_endpoints.h"
#include "mcp_identity.h"
#include "mcp_locations.h"
#include "mcp_metrics_page.h"
#include "mcp_outcome.h"
#include "mcp_presentation.h"
#include "mcp_relay_key.h"
#include "mcp_request_keys.h"
#include "mcp_sender_binding.h"
#include "mcp_respond.h"
#include "mcp_list_output.h"
#include "mcp_rules.h"
#include "mcp_session.h"
#include "mcp_shared_cache.h"
#include "mcp_status_page.h"
#include "mcp_token_check.h"
#include "mcp_token_exchange.h"
#include "mcp_wellknown.h"

module AP_MODULE_DECLARE_DATA mcp_auth_module;

#define NOTE_SCOPE_NEEDED "scope_needed.mcp_auth"
#define JSON_ERROR_FILTER "MCP_AUTH_JSON_ERROR"
static ap_filter_rec_t *json_error_filter_handle; /* added by registration, not by name */

static int curl_ready;

/* ----------------------------------------------------------------------- */
/* Authentication                                                           */

/* What this request's token came to; worked out once per request and policy. */
typedef enum { OUTCOME_NONE, OUTCOME_VALID, OUTCOME_INVALID, OUTCOME_MALFORMED, OUTCOME_UNAVAILABLE } outcome_e;

typedef struct auth_state {
    const mcp_dir_conf_t *conf;   /* the policy the token was judged by */
    mcp_presented_t presented;    /* the token as the request carried it */
    outcome_e outcome;
    mcp_jwt_t *jwt;
    const char *user;       /* sub; becomes r->user in the authentication phase */
    const char *why;
    const char *error;      /* for INVALID: the challenge's error (default invalid_token) */
    int exchange_failed;    /* no token for the backend could be had: the status sent */
    const mcp_dir_conf_t *exchanged_for; /* a token for the backend was set under this policy */
    mcp_count_t kind;       /* what the token check came to, for the metrics */
    mcp_metrics_clock_t *clock; /* the module's time on the request chain */
    mcp_metrics_clock_t own_clock;
} auth_state_t;

static int is_mcp_request(request_rec *r)
{
    const char *type = ap_auth_type(r);

    return type != NULL && strcasecmp(type, MCP_AUTH_TYPE) == 0;
}

/* A request for one of the gateway's own endpoints (registration, say)
 * under an AuthType MCP location (one that protects "/"): it is how a
 * client gets a token, so no token is asked of it. The location's other
 * Require rules still apply. */
static int is_endpoint_request(request_rec *r)
{
    return mcp_endpoint_request(r) != NULL;
}

/* The state of this request, or of the request it was derived from
 * (internal redirects and subrequests: the token left the request when the
 * first of them was judged). */
static auth_state_t *state_of(request_rec *r)
{
    for (; r; r = r->prev ? r->prev : r->main) {
        auth_state_t *st = ap_get_module_config(r->request_config, &mcp_auth_module);
        if (st)
            return st;
    }
    return NULL;
}

/* A token check's result: counted for the metrics, recorded for the audit log. */
static void tally(request_rec *r, auth_state_t *st, mcp_count_t kind)
{
    st->kind = kind;
    mcp_metrics_token(mcp_metrics_slot_of(st->conf), kind);
    if (kind == MCP_COUNT_ACCEPTED)
        mcp_outcome_set(r, MCP_ALLOWED, "valid_token");
    else
        mcp_outcome_set(r, MCP_REFUSED, mcp_count_name(kind));
}

/* Judges the presented token by conf's policy; sets the identity on
 * success. */
static void judge(request_rec *r, const mcp_dir_conf_t *conf, auth_state_t *st)
{
    mcp_presented_t *presented = &st->presented;
    mcp_count_t kind;

    if (presented->result != MCP_TOKEN_ABSENT)
        mcp_cache_guard_arm(r);
    /* where DPoP is off, "Authorization: DPoP" is a scheme not spoken here;
     * elsewhere a refusal, of a malformed presentation too, answers in it */
    if (presented->result != MCP_TOKEN_ABSENT && presented->dpop) {
        if (mcp_dpop_of(conf) != MCP_DPOP_OFF)
            apr_table_setn(r->notes, MCP_NOTE_DPOP_PRESENTED, "1");
        else if (presented->result == MCP_TOKEN_PRESENT)
            presented->result = MCP_TOKEN_ABSENT;
    }
    switch (presented->result) {
    case MCP_TOKEN_ABSENT:
        st->outcome = OUTCOME_NONE;
        tally(r, st, MCP_COUNT_NO_TOKEN);
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0003: no bearer token for %s", r->uri);
        return;
    case MCP_TOKEN_MALFORMED:
        st->outcome = OUTCOME_MALFORMED;
        st->why = presented->why;
        tally(r, st, MCP_COUNT_INVALID_REQUEST);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0004: malformed token presentation for %s: %s",
                      r->uri, presented->why);
        return;
    case MCP_TOKEN_PRESENT:
        break;
    }

    st->jwt = mcp_token_validate(r, conf, presented->token, presented->len, &st->why, &kind);
    if (st->jwt == NULL) {
        st->outcome = kind == MCP_COUNT_UNAVAILABLE ? OUTCOME_UNAVAILABLE : OUTCOME_INVALID;
        tally(r, st, kind);
        return;
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
        tally(r, st, MCP_COUNT_OTHER_CLAIM);
        return;
    }
    switch (mcp_sender_check(r, conf, presented, st->jwt, &st->why, &st->error)) {
    case MCP_SENDER_OK:
        break;
    case MCP_SENDER_UNAVAILABLE:
        st->outcome = OUTCOME_UNAVAILABLE;
        st->jwt = NULL;
        tally(r, st, MCP_COUNT_UNAVAILABLE);
        return;
    case MCP_SENDER_REFUSED:
    case MCP_SENDER_NONCE:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0064: rejected %s token for %s: %s (%s)",
                      presented->dpop ? "DPoP" : "bearer", r->uri, st->why, st->error);
        st->outcome = OUTCOME_INVALID;
        st->jwt = NULL;
        tally(r, st, MCP_COUNT_SENDER);
        return;
    }
    st->outcome = OUTCOME_VALID;
    tally(r, st, MCP_COUNT_ACCEPTED);
    mcp_outcome_caller(r, st->jwt, st->user);
    r->ap_auth_type = (char *)MCP_AUTH_TYPE;
    mcp_identity_set(r, conf, st->jwt);
    /* on every request: the escaped names are made only for a log that keeps the line */
    if (APLOGrdebug(r))
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0005: accepted token for %s (alg %s, kid %s)",
                      mcp_loggable(r, st->user), mcp_jwt_alg(st->jwt), mcp_loggable(r, mcp_jwt_kid(st->jwt)));
}

/* This request's state under conf. The first judgement finds and strips the
 * token; a request derived from it (ErrorDocument, other internal redirects,
 * subrequests) into a location with another policy is judged again, by that
 * policy, as httpd re-runs authentication when the configuration differs.
 * The token cache makes the second judgement cheap. Every path scrubs
 * client-supplied identity headers. */
static auth_state_t *evaluate(request_rec *r, const mcp_dir_conf_t *conf)
{
    auth_state_t *earlier = state_of(r), *st;

    if (earlier && earlier->conf == conf)
        return earlier;
    st = apr_pcalloc(r->pool, sizeof(*st));
    st->conf = conf;
    /* a chain's time counts once, under the first location it met */
    st->clock = earlier ? earlier->clock : &st->own_clock;
    st->own_clock.slot = -1;
    ap_set_module_config(r->request_config, &mcp_auth_module, st);
    mcp_identity_scrub(r, conf);
    if (earlier) {
        /* the token an earlier location got for its backend is not this
         * one's (an ErrorDocument or a rewrite into another location) */
        if (earlier->exchanged_for)
            mcp_token_exchange_scrub(r, earlier->exchanged_for);
        st->presented = earlier->presented;
        /* a token came by a method this location may not accept */
        if (st->presented.result == MCP_TOKEN_PRESENT
            && !(st->presented.method & mcp_bearer_methods_of(conf)))
            st->presented.result = MCP_TOKEN_ABSENT;
    }
    else {
        mcp_find_token(r, mcp_bearer_methods_of(conf), &st->presented);
    }
    /* after the token left the request: it may have come in the header the
     * backend's own token goes in */
    mcp_token_exchange_scrub(r, conf);
    judge(r, conf, st);
    return st;
}

/* The refusal of a token that failed a check: 401 with the challenge of
 * its scheme (RFC 6750 §3.1, RFC 9449 §7.1). */
static int deny_invalid(request_rec *r, const mcp_dir_conf_t *conf, const auth_state_t *st)
{
    return mcp_deny(r, conf, HTTP_UNAUTHORIZED, st->error ? st->error : "invalid_token", st->why);
}

/* A check that cannot run now (its shared cache does not answer): 503, to
 * try again, rather than a 401 that would send the client to log in again. */
static int deny_unavailable(request_rec *r, const auth_state_t *st)
{
    apr_table_setn(r->err_headers_out, "Retry-After", "5");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    if (ap_response_code_string(r, ap_index_of_response(HTTP_SERVICE_UNAVAILABLE)) == NULL) {
        ap_custom_response(r, HTTP_SERVICE_UNAVAILABLE,
                           mcp_oauth_error_body(r->pool, "temporarily_unavailable", st->why));
        apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    }
    return HTTP_SERVICE_UNAVAILABLE;
}

/* The refusal of a request whose token does not do (none, malformed,
 * invalid, or one that cannot be checked now), counted by why. */
static int refuse(request_rec *r, const mcp_dir_conf_t *conf, const auth_state_t *st)
{
    mcp_metrics_refused(mcp_metrics_slot_of(conf), st->kind);
    switch (st->outcome) {
    case OUTCOME_MALFORMED:
        return mcp_deny(r, conf, HTTP_BAD_REQUEST, "invalid_request", st->why);
    case OUTCOME_INVALID:
        return deny_invalid(r, conf, st);
    case OUTCOME_UNAVAILABLE:
        return deny_unavailable(r, st);
    default:
        return mcp_deny(r, conf, HTTP_UNAUTHORIZED, NULL, NULL);
    }
}

/* The modes decide what happens before authorization:
 *   strict      no token or a bad one: 401
 *   optional    no token: anonymous; a bad one: 401
 *   permissive  no token or a bad one: anonymous (a bad token is still stripped)
 * A malformed presentation is 400 in every mode. Anonymous requests then meet
 * the Require rules: one that needs a user leads to check_authn's 401. */
static int decide_access(request_rec *r)
{
    mcp_dir_conf_t *conf;
    auth_state_t *st;
    int mode;

    if (is_endpoint_request(r))
        return DECLINED;
    conf = mcp_conf_of(r);
    if (conf->issuer == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MCPAUTH0002: AuthType MCP for %s without MCPAuthIssuer", r->uri);
        mcp_outcome_set(r, MCP_REFUSED, "misconfigured");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (conf->in_url_space == 0 && conf->resource == NULL) {
        /* a directory's path is no URL, and must not reach a client */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "MCPAUTH0029: AuthType MCP for %s is set in .htaccess or a <Directory> without "
                      "MCPAuthResource; set it to the URL clients use", r->uri);
        mcp_outcome_set(r, MCP_REFUSED, "misconfigured");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* a CORS preflight never carries credentials: answered here, unauthenticated */
    if (r->method_number == M_OPTIONS && apr_table_get(r->headers_in, "Origin")
        && apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        mcp_outcome_set(r, MCP_ALLOWED, "preflight");
        return mcp_cors_preflight(r, conf, 0, "GET, POST, DELETE, OPTIONS");
    }
    mcp_cors_headers(r, conf, 0);
    mode = mcp_mode_of(conf);
    st = evaluate(r, conf);
    switch (st->outcome) {
    case OUTCOME_MALFORMED:
        return refuse(r, conf, st);
    case OUTCOME_INVALID:
    case OUTCOME_UNAVAILABLE:
        if (mode == MODE_PERMISSIVE)
            break;
        return refuse(r, conf, st);
    case OUTCOME_NONE:
        if (mode == MODE_STRICT)
            return refuse(r, conf, st);
        break;
    case OUTCOME_VALID:
        break;
    }
    /* an anonymous request that Require lets through meets the rules too */
    return mcp_rules_check(r, conf, st->jwt);
}

/* Reached when the Require rules need a user: the token has been judged
 * already; an anonymous request gets the challenge. */
static int decide_authn(request_rec *r)
{
    mcp_dir_conf_t *conf;
    auth_state_t *st;

    if (is_endpoint_request(r)) {
        r->user = ""; /* no one, but Require valid-user is not about tokens here */
        return OK;
    }
    conf = mcp_conf_of(r);
    st = evaluate(r, conf);
    if (st->outcome == OUTCOME_VALID) {
        r->user = (char *)st->user;
        return OK;
    }
    return refuse(r, conf, st);
}

/* Authorization failed after our authentication (e.g. Require user ...):
 * the client still gets a proper Bearer challenge. */
static int note_auth_failure(request_rec *r, const char *auth_type)
{
    if (strcasecmp(auth_type, MCP_AUTH_TYPE) != 0)
        return DECLINED;
    /* a lack of scope is counted as such when its 403 is made */
    if (apr_table_get(r->notes, NOTE_SCOPE_NEEDED) == NULL)
        mcp_metrics_refused(mcp_metrics_slot_of(mcp_conf_of(r)), MCP_REFUSAL_REQUIRE);
    if (apr_table_get(r->err_headers_out, "WWW-Authenticate") == NULL)
        mcp_deny(r, mcp_conf_of(r), HTTP_UNAUTHORIZED, NULL, NULL);
    return OK;
}


/* ----------------------------------------------------------------------- */
/* Authorization: Require mcp-scope, Require mcp-claim                      */

/* RFC 6749 §3.3 / RFC 9068 §2.2.3 "scope", or "scp" (Entra, Okta). */
static int token_has_scopes(const mcp_jwt_t *jwt, const apr_array_header_t *scopes)
{
    return mcp_claims_grant_scopes(mcp_jwt_claims(jwt), scopes);
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
            all = mcp_scope_list_add(r->pool, all, rule);
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
        if (!mcp_scope_is_token(w))
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

/* The token a Require rule judges: NULL until authentication has run (httpd
 * then asks again, after it) or when the request is anonymous. */
static const mcp_jwt_t *authenticated_token(request_rec *r)
{
    auth_state_t *st = state_of(r);

    if (st == NULL || st->outcome != OUTCOME_VALID || r->user == NULL)
        return NULL;
    return st->jwt;
}

static authz_status check_scope(request_rec *r, const char *require_line, const void *parsed)
{
    const apr_array_header_t *scopes = parsed;
    const mcp_jwt_t *jwt = authenticated_token(r);

    if (is_endpoint_request(r))
        return AUTHZ_GRANTED;
    if (jwt == NULL)
        return AUTHZ_DENIED_NO_USER;
    if (token_has_scopes(jwt, scopes))
        return AUTHZ_GRANTED;
    note_needed_scopes(r, jwt);
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

static authz_status check_claim(request_rec *r, const char *require_line, const void *parsed)
{
    const claim_rule_t *rule = parsed;
    const mcp_jwt_t *jwt = authenticated_token(r);

    if (is_endpoint_request(r))
        return AUTHZ_GRANTED;
    if (jwt == NULL)
        return AUTHZ_DENIED_NO_USER;
    if (mcp_jwt_claim_holds(r->pool, jwt, rule->name, rule->value))
        return AUTHZ_GRANTED;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0007: %s: claim %s does not hold %s for %s",
                  mcp_loggable(r, r->user), rule->name, mcp_loggable(r, rule->value), r->uri);
    mcp_outcome_require_denied(r, apr_pstrcat(r->pool, "Require mcp-claim ", rule->name, " ", rule->value, NULL));
    return AUTHZ_DENIED;
}

static const authz_provider scope_provider = { check_scope, parse_scope_require };
static const authz_provider claim_provider = { check_claim, parse_claim_require };

static apr_status_t json_error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    ap_set_content_type(f->r, "application/json");
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* A failed Require mcp-scope: the 403 insufficient_scope challenge,
 * counted and recorded as that refusal. */
static void refuse_for_scope(request_rec *r, const char *needed)
{
    mcp_challenge_insufficient_scope(r, mcp_conf_of(r), needed);
    mcp_metrics_refused(mcp_metrics_slot_of(mcp_conf_of(r)), MCP_COUNT_INSUFFICIENT_SCOPE);
    mcp_outcome_refused_by(r, "insufficient_scope", apr_pstrcat(r->pool, "Require mcp-scope ", needed, NULL));
}

/* The scopes r lacked, when its answer is the refusal for them. */
static const char *scope_refused(request_rec *r)
{
    const char *needed = apr_table_get(r->notes, NOTE_SCOPE_NEEDED);

    return needed && (r->status == HTTP_UNAUTHORIZED || r->status == HTTP_FORBIDDEN) && is_mcp_request(r)
               ? needed : NULL;
}

/* Runs when httpd builds an error response. A failed Require mcp-scope
 * becomes 403 insufficient_scope here (behind a local ErrorDocument, on its
 * redirect: fix_up), and only in an error response: a denied branch of a
 * <RequireAny> that another branch allowed leaves no trace (RFC 6750 §3.1,
 * MCP 2025-11-25 "Runtime Insufficient Scope Errors"). mod_authz_core
 * answers 401 unless AuthzSendForbiddenOnFailure is on; a valid token
 * lacking scope is a 403 either way. */
static void insert_error_filter(request_rec *r)
{
    const char *needed = scope_refused(r);

    if (needed) {
        refuse_for_scope(r, needed);
    }
    else if (r->status == HTTP_FORBIDDEN && is_mcp_request(r)
             && apr_table_get(r->err_headers_out, "WWW-Authenticate") == NULL) {
        /* a denied Require (AuthzSendForbiddenOnFailure On) still tells the
         * client where the resource's metadata is */
        mcp_challenge_metadata_only(r, mcp_conf_of(r));
    }
    if (is_endpoint_request(r) && !apr_table_get(r->notes, MCP_NOTE_JSON_ERROR)) {
        mcp_endpoint_error_body(r);
        apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    }
    if (apr_table_get(r->notes, MCP_NOTE_JSON_ERROR))
        ap_add_output_filter_handle(json_error_filter_handle, NULL, r, r->connection);
}

/* Whether r goes on to the backend with a token of its own (MCPAuthTokenExchange),
 * traded for the client's only once authorization allowed the request: not
 * for a request the MCP rules answer, nor a subrequest (a lookup). An
 * ErrorDocument or a rewrite into such a location trades as well: its
 * backend is never called without one. */
static int exchanges_token(const request_rec *r, const mcp_dir_conf_t *conf, const auth_state_t *st)
{
    return st->outcome == OUTCOME_VALID && mcp_token_exchange_on(conf) && r->main == NULL
           && !mcp_rules_answer_pending(r);
}

/* A local ErrorDocument for a refusal for scope: httpd redirects to it
 * without building an error response, so the 403 is made on the redirect. */
static void refuse_on_error_document(request_rec *r)
{
    const char *needed;

    if (r->prev && r->main == NULL && (needed = scope_refused(r->prev)) != NULL
        && apr_table_get(r->subprocess_env, "REDIRECT_STATUS") != NULL) {
        refuse_for_scope(r->prev, needed);
        r->status = HTTP_FORBIDDEN;
    }
}

/* A request without our check: led out of an exchanging location (an
 * ErrorDocument, a rewrite), the token got for that location's backend
 * stays behind. */
static int fix_up_unchecked(request_rec *r)
{
    auth_state_t *st;

    if ((r->prev || r->main) && (st = state_of(r)) != NULL && st->exchanged_for)
        mcp_token_exchange_scrub(r, st->exchanged_for);
    return DECLINED;
}

/* Requests that reach the handler without our check (Require all granted
 * with another AuthType's module, say) still lose the token and any
 * client-supplied identity header. Authorized requests get the backend's
 * token here. For AuthType MCP (fixups asked). */
static int fix_up(request_rec *r)
{
    const mcp_dir_conf_t *conf = mcp_conf_of(r);
    auth_state_t *st;
    int status;

    refuse_on_error_document(r);
    if (conf->issuer == NULL || is_endpoint_request(r))
        return fix_up_unchecked(r);
    st = evaluate(r, conf);
    /* authorization granted without asking who it is (Require all granted):
     * the valid token's identity still goes along */
    if (st->outcome == OUTCOME_VALID && r->user == NULL)
        r->user = (char *)st->user;
    /* A request derived from an earlier one with the same configuration
     * (internal redirect, DirectoryIndex subrequest) skipped the access
     * phase, and starts with httpd's own filters: what the access phase
     * put on the earlier one is put on this one too. */
    if (st->presented.result != MCP_TOKEN_ABSENT)
        mcp_cache_guard_arm(r);
    mcp_cors_headers(r, conf, 0);
    mcp_body_inherit(r);
    mcp_outcome_passed(r);
    if (exchanges_token(r, conf, st)) {
        /* an error document of this very location after a failed trade
         * fails too (httpd then sends the first error as it is) */
        if (st->exchange_failed)
            return st->exchange_failed;
        /* httpd does not authorize a redirect within the same
         * configuration again: after a refusal here (an ErrorDocument
         * inside the location) it was never allowed, and gets no token */
        if (r->prev && r->prev->per_dir_config == r->per_dir_config
            && (r->prev->status == HTTP_UNAUTHORIZED || r->prev->status == HTTP_FORBIDDEN))
            return r->prev->status;
        if ((status = mcp_token_exchange(r, conf, st->presented.token, st->presented.len)) != OK) {
            st->exchange_failed = status;
            return status;
        }
        st->exchanged_for = conf;
    }
    return DECLINED;
}

/* ----------------------------------------------------------------------- */
/* The module's time on a request (mcp_auth_request_duration_seconds)       */

/* Two clock readings a phase; the sum is observed once, when the request
 * is logged: no allocation, no lock. */
static void clock_stop(request_rec *r, apr_time_t started)
{
    auth_state_t *st = state_of(r);

    if (st)
        mcp_metrics_clock_add(st->clock, st->conf, started);
}

static int timed(request_rec *r, int (*phase)(request_rec *))
{
    apr_time_t started = apr_time_now();
    int status = phase(r);

    clock_stop(r, started);
    return status;
}

/* The phases of AuthType MCP are timed; each asks for the AuthType once. */
static int check_access(request_rec *r)
{
    return is_mcp_request(r) ? timed(r, decide_access) : DECLINED;
}

static int check_authn(request_rec *r)
{
    return is_mcp_request(r) ? timed(r, decide_authn) : DECLINED;
}

static int fixups(request_rec *r)
{
    if (is_mcp_request(r))
        return timed(r, fix_up);
    refuse_on_error_document(r);
    return fix_up_unchecked(r);
}

/* Once per request the client sent, after every redirect of it. */
static int log_transaction(request_rec *r)
{
    auth_state_t *st;

    while (r->next)
        r = r->next;
    if ((st = state_of(r)) != NULL)
        mcp_metrics_clock_observe(st->clock);
    return DECLINED;
}

/* ----------------------------------------------------------------------- */
/* Startup                                                                  */

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    mcp_relay_key_pre_config();
    mcp_audit_log_pre_config(pconf);
    return mcp_shared_cache_pre_config(pconf);
}

/* apachectl -t runs no post_config: the same checks must fail it here. */
static void test_config(apr_pool_t *pconf, server_rec *s)
{
    if (mcp_locations_find(pconf, s) < 0 || !mcp_shared_cache_available(s))
        exit(1);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int protected = mcp_locations_find(pconf, s);
    server_rec *vs;

    if (protected < 0)
        return HTTP_INTERNAL_SERVER_ERROR;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK; /* the dry run of startup: no shared memory yet */

    if (!curl_ready) {
        mcp_fetch_global_init(); /* once, while the parent has no threads */
        curl_ready = 1;
    }
    if (!mcp_shared_cache_init(pconf, ptemp, s))
        return HTTP_INTERNAL_SERVER_ERROR;
    if (mcp_locations_need_sealing(s) && !mcp_relay_key_init(pconf, ptemp, s))
        return HTTP_INTERNAL_SERVER_ERROR;
    if (mcp_metrics_init(s))
        for (vs = s; vs; vs = vs->next)
            mcp_rules_number(ptemp, mcp_server_conf_of(vs)->protected);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 "MCPAUTH0025: %d protected location(s), shared cache %s", protected,
                 mcp_shared_cache_name());
    return OK;
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    mcp_shared_cache_child_init(pchild, s);
    mcp_request_keys_child_init(pchild);
    mcp_token_check_child_init(pchild, s);
}

static void register_hooks(apr_pool_t *p)
{
    static const char *const before_proxy[] = { "mod_proxy.c", NULL };
    /* mod_ssl asks for a client certificate a location wants (renegotiation,
     * TLS 1.3 post-handshake) in its access hook: a certificate-bound token
     * is judged after it (RFC 8705 §3) */
    static const char *const after_ssl[] = { "mod_ssl.c", NULL };

    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_quick_handler(mcp_wellknown_handler, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(mcp_endpoint_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(mcp_endpoint_handler, NULL, before_proxy, APR_HOOK_FIRST);
    ap_hook_handler(mcp_rules_handler, NULL, before_proxy, APR_HOOK_FIRST);
    ap_hook_handler(mcp_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mcp_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, mcp_server_status_section, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_transaction, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_access(check_access, after_ssl, NULL, APR_HOOK_FIRST, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_check_authn(check_authn, NULL, NULL, APR_HOOK_MIDDLE, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "mcp-scope", AUTHZ_PROVIDER_VERSION,
                              &scope_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_register_auth_provider(p, AUTHZ_PROVIDER_GROUP, "mcp-claim", AUTHZ_PROVIDER_VERSION,
                              &claim_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_note_auth_failure(note_auth_failure, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(fixups, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_insert_error_filter(insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    json_error_filter_handle = ap_register_output_filter(JSON_ERROR_FILTER, json_error_filter, NULL,
                                                        AP_FTYPE_CONTENT_SET);
    mcp_body_register(p);
    mcp_list_output_register(p);
    mcp_session_register(p);
    mcp_cors_register(p);
    mcp_cache_guard_register(p);
    mcp_audit_log_register(p);
}

AP_DECLARE_MODULE(mcp_auth) = {
    STANDARD20_MODULE_STUFF,
    mcp_config_create_dir,
    mcp_config_merge_dir,
    mcp_config_create_server,
    NULL,
    mcp_config_directives,
    register_hooks
};
