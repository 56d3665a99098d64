/* The cache shared by all httpd processes (and, with redis/memcache, hosts),
 * reached through httpd's socache provider API. */
#ifndef MCP_CACHE_H
#define MCP_CACHE_H

#include <apr_global_mutex.h>
#include <apr_pools.h>
#include <httpd.h>
#include <ap_socache.h>

typedef struct mcp_cache mcp_cache_t;

/* Called when this process finds the store failing after it answered, or
 * answering after it failed (rv: the failure): once per outage, not per
 * request. */
typedef void (*mcp_cache_health_fn)(const mcp_cache_t *cache, int reachable, apr_status_t rv);

struct mcp_cache {
    const ap_socache_provider_t *provider;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;   /* only for providers that are not MP-safe */
    server_rec *server;
    mcp_cache_health_fn on_health; /* optional */
    apr_uint32_t unreachable;    /* this process's view: 1 while the store fails */
    apr_uint32_t rest_until;     /* while it fails: asked again from then (seconds) */
    apr_uint32_t probing;        /* a thread is asking it again */
};

/* Whether the store answered this process's last look (a miss is an answer). */
int mcp_cache_reachable(const mcp_cache_t *cache);

/* Object ids are a SHA-256 of the name plus a purpose suffix, starting with
 * the hash's first byte: shmcb picks the subcache by the first id byte, and
 * URLs would all start with 'h', hex digits with one of sixteen. */
const char *mcp_cache_id(apr_pool_t *pool, const char *purpose, const char *name);

/* APR_NOTFOUND on a miss. The value is copied into pool (up to max_len). */
apr_status_t mcp_cache_get(mcp_cache_t *cache, const char *id, apr_size_t max_len,
                           apr_pool_t *pool, unsigned char **value, apr_size_t *len);

apr_status_t mcp_cache_put(mcp_cache_t *cache, const char *id, apr_time_t expiry,
                           const unsigned char *value, apr_size_t len, apr_pool_t *pool);

/* What a claim found. */
typedef enum {
    MCP_CLAIM_HELD = 0,          /* someone else's marker is alive */
    MCP_CLAIM_WON = 1,           /* this caller set the marker: the work is its */
    MCP_CLAIM_UNAVAILABLE = -1   /* the store did not answer: nobody can tell */
} mcp_claim_t;

/* Sets a marker that lives ttl, unless one is already alive. A store that
 * fails is never read as someone else's claim: the caller decides what
 * single use or single flight means without it. With a provider shared
 * without the mutex (redis, memcache) a claim that finds no marker takes
 * about 20 ms more, to settle a race with claimants in other processes or
 * hosts. */
mcp_claim_t mcp_cache_claim(mcp_cache_t *cache, const char *id, apr_interval_time_t ttl,
                            apr_pool_t *pool);

/* Whether a marker mcp_cache_claim set is alive and was set less than age
 * ago (its claimant may not have started the work yet). */
int mcp_cache_marker_younger(mcp_cache_t *cache, const char *id, apr_interval_time_t age, apr_pool_t *pool);

/* Whether a marker set by mcp_cache_claim (or a short flag) is alive. */
int mcp_cache_marker_alive(mcp_cache_t *cache, const char *id, apr_pool_t *pool);
void mcp_cache_remove(mcp_cache_t *cache, const char *id, apr_pool_t *pool);

#endif
