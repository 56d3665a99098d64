/* The shared cache: the socache provider MCPAuthCache names (shmcb by
 * default), created anew for each configuration generation so that a
 * graceful restart starts from fresh documents. */

#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <util_mutex.h>

#include "mcp_cache.h"
#include "mcp_httpd.h"
#include "mcp_shared_cache.h"

APLOG_USE_MODULE(mcp_auth);

/* The default shared cache: anonymous shared memory. shmcb splits it into
 * subcaches by the object-size hint; these numbers give 16 subcaches of
 * 1.5 MiB (a key set at the full 1 MiB fetch cap fits in one) with about 125
 * entries each, so dozens of key sets and their small markers never push
 * each other out. Untouched pages cost no memory. */
#define DEFAULT_CACHE_PROVIDER "shmcb"
#define DEFAULT_CACHE_SIZE (24 * 1024 * 1024)
#define CACHE_AVG_OBJECT (12 * 1024)

/* A shmcb store of small entries beside a shmcb shared cache. */
typedef struct side_store {
    const char *name;       /* for the log, the runtime file and the mutex */
    apr_size_t size;
    apr_size_t avg_object;
    mcp_cache_t cache;
    int active;             /* this generation uses it (the shared cache is shmcb) */
} side_store_t;

/* Where the cache is this host's memory (shmcb), two kinds of small
 * entries get stores of their own beside the documents, since shmcb pushes
 * out its oldest entries when a subcache fills:
 *   once           single-use records (DPoP proofs; the relay's states,
 *                  codes and rotated refresh tokens): a record pushed out
 *                  is a replay let through, so nothing anonymous writes
 *                  here; about a hundred thousand records, many minutes of
 *                  a busy gateway's proofs
 *   unchecked      what any client can cause to be written: answers about
 *                  opaque tokens and their in-flight markers (for any token
 *                  a client makes up), the relay's records of used states
 *                  (anyone gets a state from its authorize endpoint); tens
 *                  of thousands of entries, and a flood of them pushes out
 *                  neither key sets nor the records of used proofs, codes
 *                  and refresh tokens
 *   exchanged      tokens the IdP issued for MCP servers (MCPAuthTokenExchange),
 *                  sealed, kept until shortly before they expire: about
 *                  40,000 of a kilobyte (the markers of their trades are in
 *                  unchecked), and they never push out key sets or
 *                  single-use records
 * A restart starts them empty, as it does the shared cache. With redis or
 * memcache (a fleet) everything must be where every host sees it: the
 * shared cache itself. */
static side_store_t once_store = { "once", 16 * 1024 * 1024, 128, { 0 }, 0 };
static side_store_t unchecked_store = { "unchecked", 16 * 1024 * 1024, 512, { 0 }, 0 };
static side_store_t exchanged_store = { "exchanged", 64 * 1024 * 1024, 1536, { 0 }, 0 };

static const ap_socache_provider_t *cache_provider;
static ap_socache_instance_t *cache_instance;
static const char *cache_provider_name;
static mcp_cache_t shared_cache;
static mcp_docstore_t *docstore;
static mcp_docstore_t *client_docstore;

/* Client metadata documents kept per process at most: their URLs are the
 * clients' choice, so their number must not be. */
#define CLIENT_DOCS_PER_PROCESS 256

const char *mcp_shared_cache_directive(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *sep, *name, *args;

    if (err)
        return err;
    sep = strchr(arg, ':');
    name = sep ? apr_pstrmemdup(cmd->pool, arg, (apr_size_t)(sep - arg)) : arg;
    args = sep ? sep + 1 : NULL;
    cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (cache_provider == NULL)
        return apr_psprintf(cmd->pool, "MCPAuthCache: unknown socache provider '%s' "
                            "(load mod_socache_%s first)", name, name);
    err = cache_provider->create(&cache_instance, args, cmd->temp_pool, cmd->pool);
    if (err)
        return apr_psprintf(cmd->pool, "MCPAuthCache: %s", err);
    cache_provider_name = name;
    return NULL;
}

int mcp_shared_cache_pre_config(apr_pool_t *pconf)
{
    cache_provider = NULL;
    cache_instance = NULL;
    cache_provider_name = NULL;
    return ap_mutex_register(pconf, MCP_CACHE_MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static void log_no_provider(server_rec *s)
{
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                 "MCPAUTH0021: the shared cache needs mod_socache_shmcb "
                 "(a2enmod socache_shmcb) or an MCPAuthCache provider");
}

int mcp_shared_cache_available(server_rec *s)
{
    if (cache_provider == NULL
        && ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, DEFAULT_CACHE_PROVIDER,
                              AP_SOCACHE_PROVIDER_VERSION) == NULL) {
        log_no_provider(s);
        return 0;
    }
    return 1;
}

static apr_status_t destroy_cache(void *data)
{
    server_rec *s = data;

    if (cache_provider && cache_instance)
        cache_provider->destroy(cache_instance, s);
    cache_instance = NULL;
    return APR_SUCCESS;
}

/* Once per outage and process: a networked store (redis, memcache) that
 * stops answering is not contention, and the administrator needs to know
 * what the gateway does meanwhile. */
static void log_cache_health(const mcp_cache_t *cache, int reachable, apr_status_t rv)
{
    if (reachable)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, cache->server,
                     "MCPAUTH0058: the shared cache (%s) answers again", cache_provider_name);
    else
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, cache->server,
                     "MCPAUTH0057: the shared cache (%s) does not answer: until it does, each process "
                     "fetches key sets itself and the relay refuses logins and token requests",
                     cache_provider_name);
}


static apr_status_t destroy_side_store(void *data)
{
    side_store_t *store = data;

    if (store->cache.provider && store->cache.instance)
        store->cache.provider->destroy(store->cache.instance, store->cache.server);
    memset(&store->cache, 0, sizeof(store->cache));
    store->active = 0;
    return APR_SUCCESS;
}

/* Made anew for each configuration generation as the shared cache is
 * (httpd unloads and loads the modules again on a restart: nothing of
 * theirs may outlive the generation). 0 after logging why it cannot be
 * made. */
static int side_store_init(side_store_t *store, apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    struct ap_socache_hints hints = { 72, 0, 0 };
    ap_socache_instance_t *instance = NULL;
    const char *err;
    apr_status_t rv;

    memset(&store->cache, 0, sizeof(store->cache));
    store->active = strcmp(cache_provider_name, DEFAULT_CACHE_PROVIDER) == 0;
    if (!store->active)
        return 1;
    hints.avg_obj_size = store->avg_object;
    err = cache_provider->create(&instance,
                                 apr_psprintf(ptemp, "%s(%" APR_SIZE_T_FMT ")",
                                              ap_runtime_dir_relative(ptemp, apr_pstrcat(ptemp, "mcp_auth_",
                                                                                         store->name, NULL)),
                                              store->size),
                                 ptemp, pconf);
    if (err == NULL && (cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE)) {
        rv = ap_global_mutex_create(&store->cache.mutex, NULL, MCP_CACHE_MUTEX_TYPE, store->name, s, pconf, 0);
        if (rv != APR_SUCCESS)
            err = "cannot create its mutex";
    }
    if (err == NULL
        && (rv = cache_provider->init(instance, apr_pstrcat(ptemp, "mcp-auth-", store->name, NULL), &hints, s, pconf))
               != APR_SUCCESS)
        err = "cannot initialise it";
    if (err) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MCPAUTH0069: the %s store: %s", store->name, err);
        store->active = 0;
        return 0;
    }
    store->cache.provider = cache_provider;
    store->cache.instance = instance;
    store->cache.server = s;
    store->cache.on_health = log_cache_health;
    apr_pool_cleanup_register(pconf, store, destroy_side_store, apr_pool_cleanup_null);
    return 1;
}

int mcp_shared_cache_init(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    static const struct ap_socache_hints hints = { 72, CACHE_AVG_OBJECT, 0 };
    const char *err;
    apr_status_t rv;

    if (cache_provider == NULL) {
        cache_provider = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, DEFAULT_CACHE_PROVIDER,
                                            AP_SOCACHE_PROVIDER_VERSION);
        if (cache_provider == NULL) {
            log_no_provider(s);
            return 0;
        }
        err = cache_provider->create(
            &cache_instance,
            apr_psprintf(ptemp, "%s(%d)", ap_runtime_dir_relative(ptemp, "mcp_auth_cache"),
                         DEFAULT_CACHE_SIZE),
            ptemp, pconf);
        if (err) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "MCPAUTH0022: shared cache: %s", err);
            return 0;
        }
        cache_provider_name = DEFAULT_CACHE_PROVIDER;
    }
    shared_cache.mutex = NULL;
    if (cache_provider->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&shared_cache.mutex, NULL, MCP_CACHE_MUTEX_TYPE, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "MCPAUTH0023: cannot create the cache mutex");
            return 0;
        }
    }
    rv = cache_provider->init(cache_instance, "mcp-auth", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "MCPAUTH0024: cannot initialise the %s cache",
                     cache_provider_name);
        return 0;
    }
    apr_pool_cleanup_register(pconf, s, destroy_cache, apr_pool_cleanup_null);
    shared_cache.provider = cache_provider;
    shared_cache.instance = cache_instance;
    shared_cache.server = s;
    shared_cache.on_health = log_cache_health;
    shared_cache.unreachable = 0;
    shared_cache.rest_until = 0;
    shared_cache.probing = 0;
    return side_store_init(&once_store, pconf, ptemp, s) && side_store_init(&unchecked_store, pconf, ptemp, s)
           && side_store_init(&exchanged_store, pconf, ptemp, s);
}


static void side_store_child_init(side_store_t *store, apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!store->active || store->cache.mutex == NULL)
        return;
    rv = apr_global_mutex_child_init(&store->cache.mutex, apr_global_mutex_lockfile(store->cache.mutex), pchild);
    if (rv != APR_SUCCESS)
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "MCPAUTH0026: cache mutex child init failed");
}

void mcp_shared_cache_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (shared_cache.mutex) {
        rv = apr_global_mutex_child_init(&shared_cache.mutex,
                                         apr_global_mutex_lockfile(shared_cache.mutex), pchild);
        if (rv != APR_SUCCESS)
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "MCPAUTH0026: cache mutex child init failed");
    }
    side_store_child_init(&once_store, pchild, s);
    side_store_child_init(&unchecked_store, pchild, s);
    side_store_child_init(&exchanged_store, pchild, s);
    mcp_docstore_create(&docstore, pchild, shared_cache.instance ? &shared_cache : NULL);
    /* Client metadata documents stay in the process that fetched them: they
     * are named by anonymous requests, and their bodies (up to 64 KiB each)
     * in the shared cache would let anyone push out what must stay there
     * (key sets, single-use records, the gateway's own IdP client). */
    mcp_docstore_create(&client_docstore, pchild, NULL);
    mcp_docstore_limit(client_docstore, CLIENT_DOCS_PER_PROCESS);
}

const char *mcp_shared_cache_name(void)
{
    return cache_provider_name;
}

mcp_cache_t *mcp_shared_cache(void)
{
    return shared_cache.instance ? &shared_cache : NULL;
}

static mcp_cache_t *side_store_or_shared(side_store_t *store)
{
    return store->active && store->cache.instance ? &store->cache : mcp_shared_cache();
}

mcp_cache_t *mcp_once_cache(void)
{
    return side_store_or_shared(&once_store);
}

mcp_cache_t *mcp_unchecked_cache(void)
{
    return side_store_or_shared(&unchecked_store);
}

mcp_cache_t *mcp_exchanged_cache(void)
{
    return side_store_or_shared(&exchanged_store);
}

mcp_docstore_t *mcp_shared_docstore(void)
{
    return docstore;
}

mcp_docstore_t *mcp_shared_client_docstore(void)
{
    return client_docstore;
}

/* Single use (the relay's state, codes and refresh tokens, DPoP proofs)
 * is the gateway's own record, not only the IdP's (RFC 6749 §4.1.2,
 * §10.4; RFC 9449 §11.1). */
mcp_claim_t mcp_use_once(request_rec *r, mcp_once_t after, const char *kind, const char *name, long lifetime,
                         const char **id)
{
    mcp_cache_t *cache = after == MCP_ONCE_AFTER_CHECK ? mcp_once_cache() : mcp_unchecked_cache();
    mcp_claim_t claim;

    *id = mcp_cache_id(r->pool, kind, name ? name : "");
    if (cache == NULL)
        return MCP_CLAIM_WON;
    claim = mcp_cache_claim(cache, *id, apr_time_from_sec(lifetime), r->pool);
    if (claim == MCP_CLAIM_UNAVAILABLE)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MCPAUTH0059: %s refused: the shared cache that keeps "
                      "it single use does not answer (see MCPAUTH0057)", kind);
    return claim;
}

void mcp_give_back(request_rec *r, const char *id)
{
    mcp_cache_t *cache = mcp_once_cache();

    if (cache)
        mcp_cache_remove(cache, id, r->pool);
}
