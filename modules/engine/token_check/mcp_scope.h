/* OAuth scopes (RFC 6749 §3.3): as the configuration names them and as a
 * token grants them. */
#ifndef MCP_SCOPE_H
#define MCP_SCOPE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
int mcp_scope_is_token(const char *s);

/* Whether word is one of the space-separated words of list. */
int mcp_scope_list_has(const char *list, const char *word);

/* Whether every word of the space-separated list asked is in granted (an
 * empty or NULL asked is covered by anything). */
int mcp_scope_list_covers(apr_pool_t *pool, const char *granted, const char *asked);

/* list with its words separated by one space each, or NULL when it has
 * none: a scope of blanks is no scope at all (the IdP's default), never a
 * scope of its own. *valid is 0 when a word is not a scope-token. */
const char *mcp_scope_list_normal(apr_pool_t *pool, const char *list, int *valid);

/* list with the scopes (of const char *) it lacks appended, space-separated. */
const char *mcp_scope_list_add(apr_pool_t *pool, const char *list, const apr_array_header_t *scopes);

/* Whether verified claims grant every scope (of const char *): the "scope"
 * string (RFC 9068 §2.2.3) or "scp", an array or a string (Entra, Okta). */
int mcp_claims_grant_scopes(json_t *claims, const apr_array_header_t *scopes);

#endif
