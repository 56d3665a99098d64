/* Bearer challenges on the gateway's refusals (RFC 6750 §3, RFC 9728 §5.1,
 * MCP 2025-11-25 "Scope Selection Strategy" and step-up). */
#ifndef MCP_CHALLENGES_H
#define MCP_CHALLENGES_H

#include <httpd.h>

#include "mcp_config.h"

/* Notes are named word first (see mcp_outcome.c). Set on a request whose
 * error body is the module's JSON document, so that the error filter labels
 * it application/json. */
#define MCP_NOTE_JSON_ERROR "json_error.mcp_auth"

/* Set on a request that presented its token with a DPoP proof: its
 * refusals carry the error in the DPoP challenge. */
#define MCP_NOTE_DPOP_PRESENTED "dpop.mcp_auth"

/* Refuses the request with status: a WWW-Authenticate challenge naming the
 * metadata URL and the location's scopes, error and description when
 * given, and a JSON body unless an ErrorDocument is configured. Returns
 * status. */
int mcp_deny(request_rec *r, const mcp_dir_conf_t *conf, int status, const char *error,
             const char *description);

/* 403 insufficient_scope naming every scope in needed (space-separated):
 * MCP 2025-11-25 "Runtime insufficient scope", for a client to step up.
 * Returns the status. */
int mcp_deny_insufficient_scope(request_rec *r, const mcp_dir_conf_t *conf, const char *needed);

/* Turns the error response being built into 403 insufficient_scope naming
 * every scope in needed (space-separated). */
void mcp_challenge_insufficient_scope(request_rec *r, const mcp_dir_conf_t *conf,
                                      const char *needed);

/* A challenge that only says where the metadata is, for refusals that no
 * token can cure (a failed claim rule, say). */
void mcp_challenge_metadata_only(request_rec *r, const mcp_dir_conf_t *conf);

#endif
