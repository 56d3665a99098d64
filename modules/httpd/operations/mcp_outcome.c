/* Kept in r->notes: they live as long as the request, cost nothing where
 * no audit log reads them, and a fast redirect (mod_dir) carries a
 * subrequest's notes into its main request. An internal redirect starts
 * with none: mcp_outcome_of looks back along r->prev. */

#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <jansson.h>

#include "mcp_outcome.h"

/* The module's notes are named word first ("decision.mcp_auth", not
 * "mcp_auth.decision"): an APR table compares the first four characters of
 * a name as one number before it compares strings, and with every name
 * starting "mcp_" each lookup compared strings with each of the module's
 * notes. */
#define NOTE_DECISION "decision.mcp_auth"
#define NOTE_REASON "reason.mcp_auth"
#define NOTE_RULE "rule.mcp_auth"
#define NOTE_SUBJECT "subject.mcp_auth"
#define NOTE_CLIENT_ID "client_id.mcp_auth"
#define NOTE_PASSED "passed.mcp_auth"
#define NOTE_REQUIRE "require_denied.mcp_auth"

void mcp_outcome_set(request_rec *r, const char *decision, const char *reason)
{
    apr_table_setn(r->notes, NOTE_DECISION, decision);
    apr_table_setn(r->notes, NOTE_REASON, reason);
    apr_table_unset(r->notes, NOTE_RULE);
}

void mcp_outcome_refused_by(request_rec *r, const char *reason, const char *rule)
{
    mcp_outcome_set(r, MCP_REFUSED, reason);
    if (rule)
        apr_table_setn(r->notes, NOTE_RULE, rule);
}

void mcp_outcome_require_denied(request_rec *r, const char *line)
{
    apr_table_setn(r->notes, NOTE_REQUIRE, line);
}

void mcp_outcome_caller(request_rec *r, const mcp_jwt_t *jwt, const char *sub)
{
    json_t *client = mcp_jwt_claim(r->pool, jwt, "client_id");

    if (!json_is_string(client))
        client = mcp_jwt_claim(r->pool, jwt, "azp");
    apr_table_setn(r->notes, NOTE_SUBJECT, sub);
    /* the claims stay until the request's pool goes, after the log */
    if (json_is_string(client))
        apr_table_setn(r->notes, NOTE_CLIENT_ID, json_string_value(client));
}

void mcp_outcome_passed(request_rec *r)
{
    const char *decision = apr_table_get(r->notes, NOTE_DECISION);

    /* a request derived within the same location was judged before it */
    if (decision == NULL)
        return;
    if (strcmp(decision, MCP_REFUSED) == 0)
        mcp_outcome_set(r, MCP_ALLOWED, "anonymous");
    apr_table_setn(r->notes, NOTE_PASSED, "1");
}

void mcp_outcome_of(request_rec *r, mcp_outcome_t *out)
{
    request_rec *q;

    memset(out, 0, sizeof(*out));
    for (q = r; q; q = q->prev ? q->prev : q->main) {
        if ((out->decision = apr_table_get(q->notes, NOTE_DECISION)) != NULL)
            break;
    }
    if (q == NULL)
        return;
    out->judged = q;
    out->reason = apr_table_get(q->notes, NOTE_REASON);
    out->rule = apr_table_get(q->notes, NOTE_RULE);
    out->subject = apr_table_get(q->notes, NOTE_SUBJECT);
    out->client_id = apr_table_get(q->notes, NOTE_CLIENT_ID);
    if (strcmp(out->decision, MCP_ALLOWED) == 0 && apr_table_get(q->notes, NOTE_PASSED) == NULL
        && (q->status == HTTP_UNAUTHORIZED || q->status == HTTP_FORBIDDEN)) {
        out->decision = MCP_REFUSED;
        out->reason = "require";
        out->rule = apr_table_get(q->notes, NOTE_REQUIRE);
    }
}
