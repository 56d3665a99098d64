/* Authorization inside MCP: rules over tool and prompt names and resource
 * URIs, first match wins, each requiring allow, deny, scopes and/or claims
 * of the caller's token. */
#ifndef MCP_POLICY_H
#define MCP_POLICY_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "mcp_jwt.h"

typedef enum {
    MCP_KIND_TOOL,       /* tools/call params.name, tools/list entries' name */
    MCP_KIND_PROMPT,     /* prompts/get params.name, prompts/list entries' name */
    MCP_KIND_RESOURCE,   /* resources/read and /subscribe params.uri, list entries' uri or uriTemplate */
    MCP_KIND_COUNT
} mcp_kind_t;

typedef struct mcp_claim_req {
    const char *name;
    const char *value;
} mcp_claim_req_t;

typedef struct mcp_rule {
    mcp_kind_t kind;
    const char *pattern;            /* an exact name, or a glob with * and ? */
    int allow, deny;                /* the bare requirements */
    apr_array_header_t *scopes;     /* of const char *: all must be granted */
    apr_array_header_t *claims;     /* of mcp_claim_req_t: all must hold */
    const char *text;               /* as configured, for the status page and the log */
    int id;                         /* its place among a location's rules, from 0 */
    int counter;                    /* its refusal counter (mcp_count_numbered), -1 none */
} mcp_rule_t;

typedef enum {
    MCP_VERDICT_ALLOW,
    MCP_VERDICT_DENY,
    MCP_VERDICT_SCOPE               /* only scopes are missing: a step-up may help */
} mcp_verdict_t;

/* The kind a directive's word names ("tool", "prompt", "resource"). */
const char *mcp_kind_name(mcp_kind_t kind);

/* Parses "PATTERN REQUIREMENT..." where a requirement is allow, deny,
 * "scope S..." (up to the next keyword) or "claim NAME VALUE". NULL, or
 * why the words are not a rule. */
const char *mcp_rule_parse(apr_pool_t *pool, mcp_kind_t kind, int argc, char *const argv[], mcp_rule_t *rule);

/* Whether a glob (only * and ? are special) matches name whole. */
int mcp_glob_matches(const char *pattern, const char *name);

/* The verdict of rules (of mcp_rule_t *, in configuration order) on name
 * for a caller with jwt (NULL: anonymous). The first rule of kind whose
 * pattern matches decides; none decides default_deny ? DENY : ALLOW.
 * *matched is that rule (or NULL); for SCOPE, *scopes lists every scope
 * the rule needs, space-separated. */
mcp_verdict_t mcp_policy_decide(apr_pool_t *pool, const apr_array_header_t *rules, int default_deny,
                                mcp_kind_t kind, const char *name, const mcp_jwt_t *jwt,
                                const mcp_rule_t **matched, const char **scopes);

/* A resource URI as a server may read it after normalising it (WHATWG URL
 * as Node's new URL() applies it, then fileURLToPath's decoding): lower-case
 * scheme and special host, no userinfo, numeric IPv4 hosts in dotted
 * decimal, no default or empty port, "localhost" dropped from file URLs,
 * backslashes as slashes in special URLs, tabs, newlines and outer spaces
 * gone, escapes of unreserved characters and of bytes beyond ASCII decoded,
 * dot segments resolved. NULL for a special URL (http, https, ws, wss, ftp,
 * file) whose host holds anything beyond ASCII, raw or escaped: the parser
 * maps it by UTS #46 first, and no spelling of it can be judged.
 * mcp_policy_decide judges resources by both spellings, and denies one
 * without a normal form wherever rules speak of resources. */
const char *mcp_resource_uri_normalized(apr_pool_t *pool, const char *uri);

/* Whether any rule is of kind. */
int mcp_policy_has_kind(const apr_array_header_t *rules, mcp_kind_t kind);

#endif
