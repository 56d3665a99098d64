/* Every value an item writes goes through mcp_logjson: mod_log_config
 * writes an item's output as it is, and its own items escape as \xhh,
 * which would break a JSON line on the first name with a quote in it. A
 * value the request does not have is null, never "-". */

#include <string.h>
#include <strings.h>

#include <apr_optional.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <ap_expr.h>
#include <httpd.h>
#include <http_config.h>
#include <mod_log_config.h>

#include "mcp_logjson.h"
#include "mcp_audit_log.h"
#include "mcp_config.h"
#include "mcp_outcome.h"

/* A letter no module of httpd's uses for a log item. */
#define ITEM_TAG "M"

/* The request's start in UTC, to the millisecond (RFC 3339). */
static const char *start_time(request_rec *r)
{
    apr_time_exp_t t;

    apr_time_exp_gmt(&t, r->request_time);
    return apr_psprintf(r->pool, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                        t.tm_hour, t.tm_min, t.tm_sec, t.tm_usec / 1000);
}

/* What the module read from the MCP request (mcp_rules sets these before
 * Require runs), on the request the gateway judged. */
static const char *read_from_request(const mcp_outcome_t *o, const char *var)
{
    return o->judged ? apr_table_get(o->judged->subprocess_env, var) : NULL;
}

static const char *item_value(request_rec *r, const char *name)
{
    mcp_outcome_t o;

    if (strcmp(name, "time") == 0)
        return start_time(r);
    if (strcmp(name, "client") == 0)
        return r->useragent_ip;
    mcp_outcome_of(r, &o);
    if (strcmp(name, "decision") == 0)
        return o.decision;
    if (strcmp(name, "reason") == 0)
        return o.reason;
    if (strcmp(name, "rule") == 0)
        return o.rule;
    if (strcmp(name, "subject") == 0)
        return o.subject;
    if (strcmp(name, "client_id") == 0)
        return o.client_id;
    if (strcmp(name, "location") == 0)
        return o.judged ? mcp_conf_of(o.judged)->location : NULL;
    if (strcmp(name, "method") == 0)
        return read_from_request(&o, "MCP_METHOD");
    if (strcmp(name, "tool") == 0)
        return read_from_request(&o, "MCP_TOOL");
    if (strcmp(name, "version") == 0)
        return read_from_request(&o, "MCP_PROTOCOL_VERSION");
    if (strcmp(name, "session") == 0)
        return read_from_request(&o, "MCP_SESSION");
    return NULL; /* a name this module does not know */
}

/* mod_log_config hands over the final request of an internal redirect
 * chain (or the first, with %<{...}M); the outcome is looked up from
 * there. */
static const char *log_item(request_rec *r, char *arg)
{
    return mcp_logjson_cstring(r->pool, item_value(r, arg ? arg : ""));
}

static const char *decision_var(ap_expr_eval_ctx_t *ctx, const void *data)
{
    mcp_outcome_t o;

    if (ctx->r == NULL)
        return NULL;
    mcp_outcome_of(ctx->r, &o);
    return o.decision;
}

static int expr_lookup(ap_expr_lookup_parms *parms)
{
    if (parms->type != AP_EXPR_FUNC_VAR || strcasecmp(parms->name, "MCP_DECISION") != 0)
        return DECLINED;
    *parms->func = decision_var;
    *parms->data = NULL;
    return OK;
}

void mcp_audit_log_pre_config(apr_pool_t *pconf)
{
    APR_OPTIONAL_FN_TYPE(ap_register_log_handler) *register_item = APR_RETRIEVE_OPTIONAL_FN(ap_register_log_handler);

    if (register_item)
        register_item(pconf, (char *)ITEM_TAG, log_item, 0);
}

void mcp_audit_log_register(apr_pool_t *p)
{
    ap_hook_expr_lookup(expr_lookup, NULL, NULL, APR_HOOK_MIDDLE);
}
