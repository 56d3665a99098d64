/* The cache every process (and, with redis or memcache, every host) shares:
 * chosen by MCPAuthCache, set up at startup, holding the IdP documents. */
#ifndef MCP_SHARED_CACHE_H
#define MCP_SHARED_CACHE_H

#include <httpd.h>
#include <http_config.h>

#include "mcp_cache.h"
#include "mcp_docstore.h"

#define MCP_CACHE_MUTEX_TYPE "mcp-auth-cache"

/* MCPAuthCache PROVIDER[:ARGS] */
const char *mcp_shared_cache_directive(cmd_parms *cmd, void *dummy, const char *arg);

/* pre_config: forgets the previous generation's choice, registers the mutex. */
int mcp_shared_cache_pre_config(apr_pool_t *pconf);

/* apachectl -t: whether a provider is available; logs why not. */
int mcp_shared_cache_available(server_rec *s);

/* post_config: creates the cache for this configuration generation; 0 after
 * logging why it cannot. */
int mcp_shared_cache_init(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* child_init: attaches the mutex and creates this process's docstores. */
void mcp_shared_cache_child_init(apr_pool_t *pchild, server_rec *s);

/* The provider's name ("shmcb", "redis", ...), or NULL before startup. */
const char *mcp_shared_cache_name(void);

/* The cache itself, for single-use markers; NULL before child_init. */
mcp_cache_t *mcp_shared_cache(void);

/* Who can bring about a single-use record: only a request that passed a
 * check (a valid token and proof, a code or refresh token the relay
 * issued), or anyone (a state the relay's authorize endpoint hands out):
 * the two are kept apart, so that a flood of the second never pushes out
 * the first. */
typedef enum { MCP_ONCE_AFTER_CHECK, MCP_ONCE_ANYONE } mcp_once_t;

/* Marks name (never a secret: hash one first) used for lifetime seconds,
 * for every process and host that shares the cache; *id is its record, for
 * mcp_give_back. A store that does not answer is never read as "used": the
 * caller refuses for now instead. */
mcp_claim_t mcp_use_once(request_rec *r, mcp_once_t after, const char *kind, const char *name, long lifetime,
                         const char **id);

/* Forgets a record mcp_use_once(MCP_ONCE_AFTER_CHECK) made: the name may be
 * used again. */
void mcp_give_back(request_rec *r, const char *id);

/* Where single-use records live: a store of their own beside a shmcb
 * shared cache (nothing else writes there), else the shared cache. */
mcp_cache_t *mcp_once_cache(void);

/* Where what any client can cause lives (introspection answers, records
 * of used relay states): likewise a store of its own beside a shmcb shared
 * cache, else the shared cache. */
mcp_cache_t *mcp_unchecked_cache(void);

/* Where exchanged tokens live (sealed): a store of their own beside a
 * shmcb shared cache, else the shared cache. */
mcp_cache_t *mcp_exchanged_cache(void);

/* This process's view of the IdP documents (JWKS, discovery). */
mcp_docstore_t *mcp_shared_docstore(void);

/* This process's view of client metadata documents (CIMD), kept apart and
 * bounded: clients choose their URLs. */
mcp_docstore_t *mcp_shared_client_docstore(void);

#endif
