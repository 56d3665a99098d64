#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>

#include "mcp_cache.h"
#include "mcp_facade.h"
#include "mcp_scope.h"
#include "mcp_httpd.h"
#include "mcp_relay_bounds.h"
#include "mcp_relay_seal.h"
#include "mcp_shared_cache.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

/* RFC 8707: the one resource this authorization server front issues
 * tokens for is its location's. A client naming another would use the
 * gateway's IdP client (shared, in static mode) to mint tokens for any
 * audience the IdP allows it; a trailing slash is the only difference
 * tolerated. NULL when resource is absent or this one. */
const char *mcp_relay_foreign_resource(request_rec *r, const mcp_dir_conf_t *conf, const char *resource)
{
    const char *own = mcp_resource_of(r, conf);
    apr_size_t a, b;

    if (resource == NULL)
        return NULL;
    a = strlen(resource);
    b = strlen(own);
    if (a && resource[a - 1] == '/')
        a--;
    if (b && own[b - 1] == '/')
        b--;
    if (a == b && strncmp(resource, own, a) == 0)
        return NULL;
    return apr_psprintf(r->pool, "tokens are issued here for %s only", own);
}

/* The request's scope, normalised (mcp_scope_list_normal) in p too, so that
 * what the user approves, what is sealed and what the IdP is asked for are
 * one list; a scope of blanks is none. */
const char *mcp_relay_scope_of(request_rec *r, apr_table_t *p, int *valid)
{
    const char *scope = mcp_scope_list_normal(r->pool, apr_table_get(p, "scope"), valid);

    if (scope)
        apr_table_setn(p, "scope", scope);
    else
        apr_table_unset(p, "scope");
    return scope;
}

/* Why the IdP must not be asked for scope, or NULL. Entra names the API in
 * the scope (RFC 8707 resource it refuses): only this location's API, so
 * that an approval for it never yields a token for another (MCP
 * authorization, "Token Audience Binding"). */
const char *mcp_relay_foreign_scope(request_rec *r, const mcp_dir_conf_t *conf, const char *scope, int valid)
{
    const char *word;

    if (!valid)
        return "scope is not a space-separated list of scope tokens";
    if (mcp_provider_of(conf) == MCP_PROVIDER_ENTRA
        && (word = mcp_entra_foreign_scope(r->pool, scope, mcp_audiences_of(r, conf))) != NULL)
        return apr_psprintf(r->pool, "scope %s is not one of this server's API", word);
    return NULL;
}
