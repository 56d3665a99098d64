/* Authorization inside MCP on the request side: the rule directives, the
 * POSTed JSON-RPC request read once within a limit and judged, and the
 * answers to what the rules refuse. */

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "mcp_metrics_page.h"
#include "mcp_era.h"
#include "mcp_field.h"
#include "mcp_jsonrpc.h"
#include "mcp_policy.h"
#include "mcp_scope.h"
#include "mcp_body.h"
#include "mcp_challenges.h"
#include "mcp_httpd.h"
#include "mcp_list_output.h"
#include "mcp_outcome.h"
#include "mcp_respond.h"
#include "mcp_rules.h"
#include "mcp_session.h"

APLOG_USE_MODULE(mcp_auth);

/* The JSON-RPC answer to a denied request, for mcp_rules_handler. */
#define NOTE_ANSWER "answer.mcp_auth.rpc"
/* The id of a single JSON-RPC request read, as JSON text. */
#define NOTE_ID "id.mcp_auth.rpc"
/* The first rule that denied a call or asked for more scope, for the
 * audit log; unset for a URI no rule may judge. */
#define NOTE_RULE "rule.mcp_auth.rpc"

/* JSON-RPC 2.0 §5.1 */
#define RPC_PARSE_ERROR (-32700)
#define RPC_INVALID_REQUEST (-32600)
#define RPC_INVALID_PARAMS (-32602)
/* MCP 2025-11-25, resources: "Resource not found" */
#define RPC_RESOURCE_NOT_FOUND (-32002)

const char *mcp_rules_directive(cmd_parms *cmd, void *confv, int argc, char *const argv[])
{
    mcp_dir_conf_t *conf = confv;
    mcp_rule_t *rule = apr_palloc(cmd->pool, sizeof(*rule));
    const char *why = mcp_rule_parse(cmd->pool, (mcp_kind_t)(intptr_t)cmd->info, argc, argv, rule);

    if (why)
        return apr_psprintf(cmd->pool, "%s: %s", cmd->directive->directive, why);
    if (conf->mcp_rules == NULL)
        conf->mcp_rules = apr_array_make(cmd->pool, 4, sizeof(mcp_rule_t *));
    rule->id = conf->mcp_rules->nelts;
    APR_ARRAY_PUSH(conf->mcp_rules, mcp_rule_t *) = rule;
    return NULL;
}

const char *mcp_rules_default_directive(cmd_parms *cmd, void *confv, const char *arg)
{
    mcp_dir_conf_t *conf = confv;

    if (strcasecmp(arg, "allow") == 0) {
        conf->default_deny = 0;
        conf->default_rule = NULL;
    }
    else if (strcasecmp(arg, "deny") == 0) {
        conf->default_deny = 1;
        /* counted and shown like a rule */
        conf->default_rule = apr_pcalloc(cmd->pool, sizeof(mcp_rule_t));
        conf->default_rule->deny = 1;
        conf->default_rule->counter = -1;
        conf->default_rule->text = "deny";
    }
    else {
        return apr_psprintf(cmd->pool, "MCPAuthDefault: '%s' is neither allow nor deny", arg);
    }
    return NULL;
}

static int has_rules(const mcp_dir_conf_t *conf)
{
    return (conf->mcp_rules && conf->mcp_rules->nelts) || conf->default_deny == 1;
}

const char *mcp_rules_describe(apr_pool_t *pool, const mcp_rule_t *rule)
{
    static const char *const directive[MCP_KIND_COUNT] = { "MCPAuthToolRule", "MCPAuthPromptRule",
                                                           "MCPAuthResourceRule" };

    if (rule->pattern == NULL)
        return "MCPAuthDefault deny";
    return apr_pstrcat(pool, directive[rule->kind], " ", rule->text, NULL);
}

void mcp_rules_number(apr_pool_t *pool, apr_array_header_t *protected)
{
    int i, k;

    for (i = 0; i < protected->nelts; i++) {
        const protected_location_t *pl = &APR_ARRAY_IDX(protected, i, protected_location_t);
        const mcp_dir_conf_t *conf = pl->conf;
        int location = mcp_metrics_slot_of(pl->section);

        /* a location's rules may be another's too (inherited): counted
         * once, under the first; by their text, so a restart keeps counts */
        for (k = 0; conf->mcp_rules && k < conf->mcp_rules->nelts; k++) {
            mcp_rule_t *rule = APR_ARRAY_IDX(conf->mcp_rules, k, mcp_rule_t *);

            if (rule->counter < 0)
                rule->counter = mcp_metrics_rule(location, mcp_rules_describe(pool, rule));
        }
        if (conf->default_rule && conf->default_rule->counter < 0)
            conf->default_rule->counter = mcp_metrics_rule(location, mcp_rules_describe(pool, conf->default_rule));
    }
}

json_t *mcp_rules_status(apr_pool_t *pool, const apr_array_header_t *protected)
{
    json_t *list = json_array();
    int i, k;

    for (i = 0; i < protected->nelts; i++) {
        const protected_location_t *pl = &APR_ARRAY_IDX(protected, i, protected_location_t);
        json_t *rules;

        if (!has_rules(pl->conf))
            continue;
        rules = json_array();
        for (k = 0; pl->conf->mcp_rules && k <= pl->conf->mcp_rules->nelts; k++) {
            const mcp_rule_t *rule = k < pl->conf->mcp_rules->nelts
                                         ? APR_ARRAY_IDX(pl->conf->mcp_rules, k, const mcp_rule_t *)
                                         : pl->conf->default_rule;

            if (rule)
                json_array_append_new(rules, json_pack("{s:s, s:I}", "rule", mcp_rules_describe(pool, rule),
                                                       "refused", (json_int_t)mcp_metrics_rule_count(rule->counter)));
        }
        if (pl->conf->mcp_rules == NULL && pl->conf->default_rule)
            json_array_append_new(rules, json_pack("{s:s, s:I}", "rule", "MCPAuthDefault deny", "refused",
                                                   (json_int_t)mcp_metrics_rule_count(pl->conf->default_rule->counter)));
        json_array_append_new(list, json_pack("{s:s, s:o}", "location", pl->path ? pl->path : pl->conf->location,
                                              "rules", rules));
    }
    return list;
}

/* A refusal of the request as a whole: status, and a JSON-RPC error to id
 * (NULL: the request could not be read) as its body. */
static int refuse(request_rec *r, int status, const char *id, int code, const char *message)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0050: MCP request refused (%d): %s", status, message);
    mcp_metrics_refused(mcp_metrics_slot_of(mcp_conf_of(r)), MCP_REFUSAL_MCP_REQUEST);
    mcp_outcome_set(r, MCP_REFUSED, code == RPC_PARSE_ERROR || code == RPC_INVALID_REQUEST ? "invalid_mcp_request"
                                                                                          : "header_mismatch");
    ap_custom_response(r, status, (char *)mcp_rpc_error(r->pool, id, code, message));
    apr_table_setn(r->notes, MCP_NOTE_JSON_ERROR, "1");
    return status;
}

/* What a server answers for a tool, prompt or resource it does not have:
 * a hidden one must look the same. The 2025 era as its specification's
 * examples (2025-11-25 server/tools "Error Handling", server/resources
 * "Error Handling"); 2026-07-28 as the MCP SDK v2 server, whose
 * resource-not-found is -32602 with the URI as data (2026-07-28 changelog). */
static const char *not_found(request_rec *r, const mcp_rpc_call_t *call, const char *target, int modern)
{
    switch (call->kind) {
    case MCP_KIND_TOOL:
        return mcp_rpc_error(r->pool, call->id, RPC_INVALID_PARAMS,
                             modern ? apr_psprintf(r->pool, "Tool %s not found", target)
                                    : apr_pstrcat(r->pool, "Unknown tool: ", target, NULL));
    case MCP_KIND_PROMPT:
        return mcp_rpc_error(r->pool, call->id, RPC_INVALID_PARAMS,
                             modern ? apr_psprintf(r->pool, "Prompt %s not found", target)
                                    : apr_pstrcat(r->pool, "Unknown prompt: ", target, NULL));
    default:
        /* the SDK servers' answer to completing an unknown template */
        if (strcmp(call->method, "completion/complete") == 0)
            return mcp_rpc_error(r->pool, call->id, RPC_INVALID_PARAMS,
                                 apr_psprintf(r->pool, "Resource template %s not found", target));
        if (modern)
            return mcp_rpc_error_with(r->pool, call->id, RPC_INVALID_PARAMS,
                                      apr_pstrcat(r->pool, "Resource not found: ", target, NULL), "uri", target);
        return mcp_rpc_error(r->pool, call->id, RPC_RESOURCE_NOT_FOUND, "Resource not found");
    }
}

/* Strings joined with ",", in time and memory linear in their length: a
 * batch may hold many thousand messages. */
static const char *joined(apr_pool_t *p, const apr_array_header_t *items)
{
    return apr_array_pstrcat(p, items, ',');
}

/* The answer to a denied message, or to a batch with a denied element:
 * every request of the batch gets an error (one denial denies all), and
 * notifications none ("" when there is no request to answer). denied[i] is
 * the target of calls[i] that was denied, or NULL. */
static const char *denial(request_rec *r, const apr_array_header_t *calls, int batch, const char *const *denied,
                          int modern)
{
    apr_array_header_t *answers;
    int i;

    if (!batch)
        return APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).id
                   ? not_found(r, &APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), denied[0], modern) : "";
    answers = apr_array_make(r->pool, calls->nelts, sizeof(const char *));
    for (i = 0; i < calls->nelts; i++) {
        const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);

        if (c->method == NULL || c->id == NULL)
            continue;
        APR_ARRAY_PUSH(answers, const char *) =
            denied[i] ? not_found(r, c, denied[i], 0)
                      : mcp_rpc_error(r->pool, c->id, RPC_INVALID_REQUEST,
                                      "Request refused: its batch holds a request that is not allowed");
    }
    return answers->nelts ? apr_pstrcat(r->pool, "[", joined(r->pool, answers), "]", NULL) : "";
}

/* MCP_METHOD, MCP_TOOL and MCP_PROTOCOL_VERSION for the log and for
 * Require expr: one value per message of a batch, joined with ",". */
static void set_env(request_rec *r, const apr_array_header_t *calls, const mcp_rpc_headers_t *h)
{
    apr_array_header_t *methods = apr_array_make(r->pool, calls->nelts, sizeof(const char *));
    apr_array_header_t *targets = apr_array_make(r->pool, calls->nelts, sizeof(const char *));
    const char *version = mcp_era_version(calls, h);
    int i;

    for (i = 0; i < calls->nelts; i++) {
        const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);

        if (c->method)
            APR_ARRAY_PUSH(methods, const char *) = c->method;
        if (c->targets)
            apr_array_cat(targets, c->targets);
    }
    if (methods->nelts)
        apr_table_setn(r->subprocess_env, "MCP_METHOD", joined(r->pool, methods));
    if (targets->nelts)
        apr_table_setn(r->subprocess_env, "MCP_TOOL", joined(r->pool, targets));
    if (version)
        apr_table_setn(r->subprocess_env, "MCP_PROTOCOL_VERSION", version);
}

/* A session exists only in the 2025 era: 2026-07-28 servers ignore the
 * header, so a leftover one names nothing. */
static void set_session_env(request_rec *r, const apr_table_t *headers, int modern)
{
    const char *session = apr_table_get(headers, "Mcp-Session-Id");

    if (session && !modern)
        apr_table_setn(r->subprocess_env, "MCP_SESSION", session);
}

/* The rule the audit log names: the first that denied a call, else the
 * first that asked for more scope (NULL: a URI no rule may judge). */
static void note_rule(request_rec *r, const mcp_rule_t *rule, int denial, int *noted_denial)
{
    if (*noted_denial || (!denial && (rule == NULL || apr_table_get(r->notes, NOTE_RULE))))
        return;
    *noted_denial = denial;
    if (rule)
        apr_table_setn(r->notes, NOTE_RULE, mcp_rules_describe(r->pool, rule));
    else
        apr_table_unset(r->notes, NOTE_RULE);
}

/* The rules that denied calls, counted only when their answer is sent: a
 * Require line may refuse the request first. */
#define DENYING_RULES "mcp_auth.denying_rules"

static void remember_denial(request_rec *r, int counter)
{
    void *found = NULL;
    apr_array_header_t *counters;

    apr_pool_userdata_get(&found, DENYING_RULES, r->pool);
    if ((counters = found) == NULL) {
        counters = apr_array_make(r->pool, 2, sizeof(int));
        apr_pool_userdata_setn(counters, DENYING_RULES, NULL, r->pool);
    }
    APR_ARRAY_PUSH(counters, int) = counter;
}

static void count_denials(request_rec *r)
{
    void *found = NULL;
    const apr_array_header_t *counters;
    int i;

    apr_pool_userdata_get(&found, DENYING_RULES, r->pool);
    for (i = 0; (counters = found) != NULL && i < counters->nelts; i++)
        mcp_metrics_rule_refused(APR_ARRAY_IDX(counters, i, int));
    mcp_metrics_refused(mcp_metrics_slot_of(mcp_conf_of(r)), MCP_REFUSAL_RULE);
}

/* Judges every target of calls; fills denied (per call, the first denied
 * target) and *needed (every scope a step-up would need). 1 if any call
 * was denied. */
static int judge_calls(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt,
                       const apr_array_header_t *calls, const char **denied, const char **needed)
{
    int i, k, any_denied = 0, noted_denial = 0;

    for (i = 0; i < calls->nelts; i++) {
        const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);

        for (k = 0; c->kind >= 0 && c->targets && k < c->targets->nelts && !denied[i]; k++) {
            const char *target = APR_ARRAY_IDX(c->targets, k, const char *), *scopes;
            const mcp_rule_t *rule;

            switch (mcp_policy_decide(r->pool, conf->mcp_rules, conf->default_deny == 1, (mcp_kind_t)c->kind,
                                      target, jwt, &rule, &scopes)) {
            case MCP_VERDICT_ALLOW:
                continue;
            case MCP_VERDICT_SCOPE: {
                /* one challenge for the whole request: every scope any call needs */
                char *words = apr_pstrdup(r->pool, scopes), *w, *state = NULL;

                for (w = apr_strtok(words, " ", &state); w; w = apr_strtok(NULL, " ", &state))
                    if (!mcp_scope_list_has(*needed, w))
                        *needed = **needed ? apr_pstrcat(r->pool, *needed, " ", w, NULL) : w;
                break;
            }
            case MCP_VERDICT_DENY:
                denied[i] = target;
                any_denied = 1;
                break;
            }
            if (rule == NULL && conf->default_deny == 1)
                rule = conf->default_rule;
            if (rule && denied[i])
                remember_denial(r, rule->counter);
            else if (rule)
                mcp_metrics_rule_refused(rule->counter); /* the 403 below answers it */
            note_rule(r, rule, denied[i] != NULL, &noted_denial);
            if (APLOGrinfo(r)) /* a batch may hold thousands of denied calls */
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0051: %s %s for %s: %s (%s)", c->method,
                              mcp_loggable(r, target),
                              mcp_loggable(r, jwt ? mcp_jwt_claim_string(r->pool, jwt, "sub") : "anonymous"),
                              denied[i] ? "denied" : "needs more scope",
                              rule ? mcp_rules_describe(r->pool, rule) : "not a canonical resource URI");
        }
    }
    return any_denied;
}

/* Reads a POSTed MCP request as the server will, or refuses it: OK with
 * *calls and *batch, else the status of a refusal already set up. */
static int read_request(request_rec *r, const mcp_dir_conf_t *conf, const apr_table_t *headers,
                        apr_array_header_t **calls, int *batch)
{
    const char *encoding = apr_table_get(headers, "Content-Encoding"), *body, *why;
    apr_size_t len;
    int read;

    if (encoding && strcasecmp(encoding, "identity") != 0)
        return refuse(r, HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, RPC_INVALID_REQUEST,
                      "compressed MCP requests are not accepted");
    if ((why = mcp_json_content_type_problem(apr_table_get(headers, "Content-Type"))) != NULL)
        return refuse(r, HTTP_UNSUPPORTED_MEDIA_TYPE, NULL, RPC_INVALID_REQUEST,
                      apr_pstrcat(r->pool, "MCP requests are application/json in UTF-8: ", why, NULL));
    read = mcp_read_client_body(r, mcp_max_request_body_of(conf), &body, &len);
    if (read < 0)
        return refuse(r, HTTP_REQUEST_ENTITY_TOO_LARGE, NULL, RPC_INVALID_REQUEST,
                      "the request body is larger than MCPAuthMaxRequestBody");
    if (read == 0)
        return refuse(r, HTTP_BAD_REQUEST, NULL, RPC_INVALID_REQUEST, "the request body could not be read whole");
    if ((why = mcp_rpc_read(r->pool, body, len, calls, batch)) != NULL)
        return refuse(r, HTTP_BAD_REQUEST, NULL, RPC_PARSE_ERROR, apr_pstrcat(r->pool, "Parse error: ", why, NULL));
    return OK;
}

/* The rules' verdict on calls: DECLINED when they may go on (with their
 * answers filtered where the rules speak of them), or a JSON-RPC denial
 * for mcp_rules_handler, else the status of a step-up challenge. */
static int judge(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt, const apr_array_header_t *calls,
                 int batch, int modern)
{
    const char **denied = apr_pcalloc(r->pool, sizeof(const char *) * (apr_size_t)calls->nelts), *needed = "";
    int i;

    if (judge_calls(r, conf, jwt, calls, denied, &needed)) {
        apr_table_setn(r->notes, NOTE_ANSWER, denial(r, calls, batch, denied, modern));
        return DECLINED;
    }
    if (*needed) {
        mcp_metrics_refused(mcp_metrics_slot_of(conf), jwt ? MCP_COUNT_INSUFFICIENT_SCOPE : MCP_COUNT_NO_TOKEN);
        if (jwt)
            mcp_outcome_refused_by(r, "insufficient_scope", apr_table_get(r->notes, NOTE_RULE));
        return jwt ? mcp_deny_insufficient_scope(r, conf, needed) : mcp_deny(r, conf, HTTP_UNAUTHORIZED, NULL, NULL);
    }
    /* answers of a kind the rules speak of lose what the caller may not
     * use, and become private to the caller */
    for (i = 0; i < calls->nelts; i++) {
        const mcp_rpc_call_t *c = &APR_ARRAY_IDX(calls, i, mcp_rpc_call_t);

        if (c->lists >= 0 && (conf->default_deny == 1 || mcp_policy_has_kind(conf->mcp_rules, (mcp_kind_t)c->lists))) {
            mcp_list_output_add(r, conf, jwt, 1);
            break;
        }
    }
    return DECLINED;
}

/* Whether the client sent a body, HEAD included (ap_request_has_body
 * leaves HEAD out: httpd never reads one, but a backend may). */
static int carries_body(const request_rec *r)
{
    const char *length = apr_table_get(r->headers_in, "Content-Length");

    return apr_table_get(r->headers_in, "Transfer-Encoding") != NULL
           || (length && strspn(length, "0") != strlen(length));
}

int mcp_rules_check(request_rec *r, const mcp_dir_conf_t *conf, const mcp_jwt_t *jwt)
{
    /* a subrequest acts for the request that made it: DirectoryIndex hands
     * it that request's method and body (a fast redirect) */
    const request_rec *acting = r;
    apr_table_t *headers;
    mcp_rpc_headers_t h;
    const char *why;
    apr_array_header_t *calls;
    int batch, modern, code, status;

    while (acting->main)
        acting = acting->main;
    headers = acting->headers_in;
    h.version = apr_table_get(headers, "MCP-Protocol-Version");
    h.method = apr_table_get(headers, "Mcp-Method");
    h.name = apr_table_get(headers, "Mcp-Name");
    if ((status = mcp_session_check(r, conf, jwt)) != DECLINED)
        return status;
    /* only a POST carries an MCP request: a body on another method (PUT,
     * "post", a GET with one) is never passed on unread; an ErrorDocument
     * turns a POST into a GET whose body headers stay behind */
    if (acting->method_number != M_POST && mcp_reads_requests(conf) && carries_body(acting)
        && !(acting->method_number == M_GET && !acting->header_only && r->prev))
        return refuse(r, HTTP_BAD_REQUEST, NULL, RPC_INVALID_REQUEST,
                      apr_pstrcat(r->pool, "MCP requests with a body are POSTs, not ", acting->method, NULL));
    if (acting->method_number != M_POST || !mcp_reads_requests(conf)) {
        /* only 2025-era requests are anything but POST */
        set_session_env(r, headers, acting->method_number == M_POST && mcp_version_is_modern(h.version));
        /* a GET stream may replay earlier answers (Last-Event-ID), lists too */
        if (acting->method_number == M_GET && has_rules(conf))
            mcp_list_output_add(r, conf, jwt, 0);
        return DECLINED;
    }
    if ((status = read_request(r, conf, headers, &calls, &batch)) != OK)
        return status;
    set_env(r, calls, &h);
    if (!batch && APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).id)
        apr_table_setn(r->notes, NOTE_ID, APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).id);
    modern = !batch && mcp_era_is_modern(&APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t), &h);
    set_session_env(r, headers, modern);
    /* MCP 2026-07-28 "Server Validation": 400 with -32020 to the request */
    if ((why = mcp_era_header_problem(r->pool, calls, batch, &h, &code)) != NULL)
        return refuse(r, HTTP_BAD_REQUEST, batch ? NULL : APR_ARRAY_IDX(calls, 0, mcp_rpc_call_t).id, code,
                      apr_pstrcat(r->pool, "Header mismatch: ", why, NULL));
    return has_rules(conf) ? judge(r, conf, jwt, calls, batch, modern) : DECLINED;
}

int mcp_rules_answer_pending(const request_rec *r)
{
    return apr_table_get(r->notes, NOTE_ANSWER) != NULL;
}

const char *mcp_rules_request_id(const request_rec *r)
{
    return apr_table_get(r->notes, NOTE_ID);
}

int mcp_rules_handler(request_rec *r)
{
    const char *answer = apr_table_get(r->notes, NOTE_ANSWER), *rule;

    if (answer == NULL || r->main)
        return DECLINED;
    /* here, not when judged: a Require line may refuse the request first */
    rule = apr_table_get(r->notes, NOTE_RULE);
    mcp_outcome_refused_by(r, rule ? "rule" : "noncanonical_uri", rule);
    count_denials(r);
    if (*answer == '\0') {
        /* notifications only: JSON-RPC 2.0 §4.1 answers none, and MCP's
         * Streamable HTTP takes them with 202 and no body, as a server does
         * one it has no handler for (a hidden tool looks the same) */
        r->status = HTTP_ACCEPTED;
        apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
        ap_set_content_length(r, 0);
        return OK;
    }
    return mcp_send_json(r, HTTP_OK, "no-store", answer);
}
