#include <string.h>

#include <unistd.h>

#include <apr_atomic.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_portable.h>
#include <openssl/evp.h>

#include "mcp_cache.h"

const char *mcp_cache_id(apr_pool_t *pool, const char *purpose, const char *name)
{
    unsigned char md[32];
    size_t md_len = 0;
    char hex[65];
    size_t i;

    if (!EVP_Q_digest(NULL, "SHA256", NULL, name, strlen(name), md, &md_len))
        return apr_pstrcat(pool, purpose, ":", name, NULL);
    for (i = 0; i < md_len; i++)
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    /* shmcb picks the subcache by the first byte (up to 256 of them): a hex
     * digit would reach 10 and crowd six, and what a store holds would
     * shrink to a fraction of its size; the hash's own first byte spreads
     * ids over all (never NUL: ids are strings) */
    hex[0] = (char)(md[0] ? md[0] : 0x80);
    return apr_pstrcat(pool, hex, ":", purpose, NULL);
}

static void lock(mcp_cache_t *cache)
{
    if (cache->mutex)
        apr_global_mutex_lock(cache->mutex);
}

static void unlock(mcp_cache_t *cache)
{
    if (cache->mutex)
        apr_global_mutex_unlock(cache->mutex);
}

int mcp_cache_reachable(const mcp_cache_t *cache)
{
    return apr_atomic_read32((volatile apr_uint32_t *)&cache->unreachable) == 0;
}

/* While the store hangs (a stopped Redis, dropped packets: a failure that
 * took SLOW_FAILURE or more), one thread at a time asks it again, at most
 * every REST_SECONDS; the others are told "unavailable" at once. That costs
 * one wait per process and interval, not one per request. A store that
 * refuses at once is asked on every use, so its return is seen at once. */
#define REST_SECONDS 5
#define SLOW_FAILURE apr_time_from_msec(250)

static apr_uint32_t now_sec(void)
{
    return (apr_uint32_t)apr_time_sec(apr_time_now());
}

/* Whether to leave the store alone for now; 0: ask it (and then done_asking). */
static int resting(mcp_cache_t *cache)
{
    if (apr_atomic_read32(&cache->unreachable) == 0)
        return 0;
    if (now_sec() < apr_atomic_read32(&cache->rest_until))
        return 1;
    return apr_atomic_cas32(&cache->probing, 1, 0) != 0;
}

static void done_asking(mcp_cache_t *cache)
{
    if (apr_atomic_read32(&cache->probing))
        apr_atomic_set32(&cache->probing, 0);
}

static void set_health(mcp_cache_t *cache, int reachable, apr_status_t rv, apr_time_t asked_at)
{
    if (!reachable && apr_time_now() - asked_at >= SLOW_FAILURE)
        apr_atomic_set32(&cache->rest_until, now_sec() + REST_SECONDS);
    if (apr_atomic_cas32(&cache->unreachable, reachable ? 0 : 1, reachable ? 1 : 0) == (reachable ? 1u : 0u)
        && cache->on_health)
        cache->on_health(cache, reachable, rv);
}

/* What a look says of the store's health; the callback hears of a change
 * once, from whichever thread sees it first. A value larger than the
 * buffer is an answer. A miss proves nothing: apr_redis and apr_memcache
 * answer "not found" for every key while they hold their server for dead,
 * so only a hit or a successful store shows the store is back. */
static void note_retrieve(mcp_cache_t *cache, apr_status_t rv, apr_time_t asked_at)
{
    if (rv == APR_SUCCESS || APR_STATUS_IS_ENOSPC(rv))
        set_health(cache, 1, rv, asked_at);
    else if (!APR_STATUS_IS_NOTFOUND(rv))
        set_health(cache, 0, rv, asked_at);
}

/* A store refused for its size (shmcb) is the store answering. */
static apr_status_t store_locked(mcp_cache_t *cache, const char *id, apr_time_t expiry,
                                 const unsigned char *value, apr_size_t len, apr_pool_t *pool)
{
    apr_status_t rv;
    apr_time_t asked_at = apr_time_now();

    if (resting(cache))
        return APR_EGENERAL;
    rv = cache->provider->store(cache->instance, cache->server, (const unsigned char *)id,
                                (unsigned int)strlen(id), expiry, (unsigned char *)value, (unsigned int)len, pool);
    set_health(cache, rv == APR_SUCCESS || APR_STATUS_IS_ENOSPC(rv), rv, asked_at);
    done_asking(cache);
    return rv;
}

static apr_status_t get_locked(mcp_cache_t *cache, const char *id, apr_size_t max_len,
                               apr_pool_t *pool, unsigned char **value, apr_size_t *len)
{
    unsigned char *buf = apr_palloc(pool, max_len + 1);
    unsigned int buf_len = (unsigned int)max_len;
    apr_status_t rv;
    apr_time_t asked_at = apr_time_now();

    if (resting(cache))
        return APR_EGENERAL;
    rv = cache->provider->retrieve(cache->instance, cache->server, (const unsigned char *)id,
                                   (unsigned int)strlen(id), buf, &buf_len, pool);
    note_retrieve(cache, rv, asked_at);
    done_asking(cache);
    if (rv != APR_SUCCESS)
        return rv;
    buf[buf_len] = '\0';
    *value = buf;
    *len = buf_len;
    return APR_SUCCESS;
}

apr_status_t mcp_cache_get(mcp_cache_t *cache, const char *id, apr_size_t max_len,
                           apr_pool_t *pool, unsigned char **value, apr_size_t *len)
{
    apr_status_t rv;

    lock(cache);
    rv = get_locked(cache, id, max_len, pool, value, len);
    unlock(cache);
    return rv;
}

apr_status_t mcp_cache_put(mcp_cache_t *cache, const char *id, apr_time_t expiry,
                           const unsigned char *value, apr_size_t len, apr_pool_t *pool)
{
    apr_status_t rv;

    lock(cache);
    rv = store_locked(cache, id, expiry, value, len, pool);
    unlock(cache);
    return rv;
}

/* The socache API has no atomic add-if-absent. Under the global mutex (shmcb,
 * dbm: one httpd instance) get-then-store is one step. Providers that run
 * without it (redis, memcache) are shared by every process of every instance
 * that names them, so two claimants can both see no marker: each writes a
 * token of its own, waits for the other writes of that moment to land, and
 * reads back. The last writer owns the work; the others step back. */
#define CLAIM_SETTLE apr_time_from_msec(20)
#define MARKER_MAX 64

static const char *claim_token(apr_pool_t *pool)
{
    unsigned char rnd[8] = { 0 };

    /* The random part tells apart processes of different hosts that share
     * a pid; a failed read leaves pid and time, which suffice on one host. */
    (void)apr_generate_random_bytes(rnd, sizeof(rnd));
    return apr_psprintf(pool, "%" APR_PID_T_FMT ".%lx.%" APR_TIME_T_FMT ".%02x%02x%02x%02x%02x%02x%02x%02x",
                        getpid(), (unsigned long)apr_os_thread_current(), apr_time_now(),
                        rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

static int store_marker(mcp_cache_t *cache, const char *id, apr_interval_time_t ttl,
                        const char *value, apr_pool_t *pool)
{
    return store_locked(cache, id, apr_time_now() + ttl, (const unsigned char *)value, strlen(value), pool)
           == APR_SUCCESS;
}

static mcp_claim_t found(apr_status_t rv)
{
    return rv == APR_SUCCESS || APR_STATUS_IS_ENOSPC(rv) ? MCP_CLAIM_HELD : MCP_CLAIM_UNAVAILABLE;
}

mcp_claim_t mcp_cache_claim(mcp_cache_t *cache, const char *id, apr_interval_time_t ttl,
                            apr_pool_t *pool)
{
    unsigned char *old;
    apr_size_t old_len;
    const char *mine;
    apr_status_t rv;
    mcp_claim_t claim;

    if (cache->mutex) {
        lock(cache);
        rv = get_locked(cache, id, MARKER_MAX, pool, &old, &old_len);
        claim = !APR_STATUS_IS_NOTFOUND(rv) ? found(rv)
                : store_marker(cache, id, ttl, claim_token(pool), pool) ? MCP_CLAIM_WON : MCP_CLAIM_UNAVAILABLE;
        unlock(cache);
        return claim;
    }

    rv = get_locked(cache, id, MARKER_MAX, pool, &old, &old_len);
    if (!APR_STATUS_IS_NOTFOUND(rv))
        return found(rv);
    mine = claim_token(pool);
    if (!store_marker(cache, id, ttl, mine, pool))
        return MCP_CLAIM_UNAVAILABLE;
    apr_sleep(CLAIM_SETTLE);
    rv = get_locked(cache, id, MARKER_MAX, pool, &old, &old_len);
    if (rv != APR_SUCCESS)
        return APR_STATUS_IS_NOTFOUND(rv) ? MCP_CLAIM_HELD : MCP_CLAIM_UNAVAILABLE;
    return old_len == strlen(mine) && memcmp(old, mine, old_len) == 0 ? MCP_CLAIM_WON : MCP_CLAIM_HELD;
}

int mcp_cache_marker_younger(mcp_cache_t *cache, const char *id, apr_interval_time_t age, apr_pool_t *pool)
{
    unsigned char *v;
    apr_size_t len;
    const char *at;
    apr_time_t made;

    if (mcp_cache_get(cache, id, MARKER_MAX, pool, &v, &len) != APR_SUCCESS)
        return 0;
    /* pid.thread.TIME.random, as claim_token wrote it */
    at = strchr((const char *)v, '.');
    at = at ? strchr(at + 1, '.') : NULL;
    if (at == NULL)
        return 0;
    made = (apr_time_t)apr_atoi64(at + 1);
    return made > 0 && apr_time_now() - made < age;
}

int mcp_cache_marker_alive(mcp_cache_t *cache, const char *id, apr_pool_t *pool)
{
    unsigned char *v;
    apr_size_t len;

    return mcp_cache_get(cache, id, MARKER_MAX, pool, &v, &len) == APR_SUCCESS;
}

void mcp_cache_remove(mcp_cache_t *cache, const char *id, apr_pool_t *pool)
{
    lock(cache);
    if (!resting(cache)) {
        cache->provider->remove(cache->instance, cache->server, (const unsigned char *)id,
                                (unsigned int)strlen(id), pool);
        done_asking(cache);
    }
    unlock(cache);
}
