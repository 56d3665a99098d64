/* The gateway's decision on a request, and who made it, kept for the audit
 * log (mcp_audit_log): recorded where the module decides, read back when
 * the request is logged. */
#ifndef MCP_OUTCOME_H
#define MCP_OUTCOME_H

#include <httpd.h>

#include "mcp_jwt.h"

#define MCP_ALLOWED "allowed"
#define MCP_REFUSED "refused"

/* The decision on r and why (one word), replacing an earlier one: each
 * step of the request path decides after the one before it. A token
 * refused while the location's mode may still let the request through
 * anonymously is recorded as refused; mcp_outcome_passed corrects it. */
void mcp_outcome_set(request_rec *r, const char *decision, const char *reason);

/* A refusal by a configured rule (an MCPAuth*Rule, MCPAuthDefault deny,
 * a Require line), rule as the configuration says it. */
void mcp_outcome_refused_by(request_rec *r, const char *reason, const char *rule);

/* A Require line of the module's that denied r (Require mcp-claim): named
 * as the rule if the request ends refused by Require, which another branch
 * of a <RequireAny> may yet prevent. */
void mcp_outcome_require_denied(request_rec *r, const char *line);

/* The caller a valid token names: its sub, and client_id (RFC 9068 §2.2),
 * else azp (OpenID Connect). */
void mcp_outcome_caller(request_rec *r, const mcp_jwt_t *jwt, const char *sub);

/* r passed authorization (its fixups run): a token refused earlier on r
 * was let through anonymously (a refusal by the MCP rules, whose answer
 * the handler sends, is recorded there, after this). */
void mcp_outcome_passed(request_rec *r);

typedef struct mcp_outcome {
    request_rec *judged;   /* the request decided on: r, or one r derives from; NULL: none */
    const char *decision, *reason, *rule, *subject, *client_id;
} mcp_outcome_t;

/* What the gateway decided on r, or on the request r was derived from (an
 * ErrorDocument, an internal redirect, a fast redirect's subrequest).
 * Allowed by the module but stopped before its handler with 401 or 403 is
 * a refusal by a Require line of another provider (Require expr, user). */
void mcp_outcome_of(request_rec *r, mcp_outcome_t *out);

#endif
