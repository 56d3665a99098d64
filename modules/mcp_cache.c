#include <string.h>

#include <apr_strings.h>
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

static apr_status_t get_locked(mcp_cache_t *cache, const char *id, apr_size_t max_len,
                               apr_pool_t *pool, unsigned char **value, apr_size_t *len)
{
    unsigned char *buf = apr_palloc(pool, max_len + 1);
    unsigned int buf_len = (unsigned int)max_len;
    apr_status_t rv;

    rv = cache->provider->retrieve(cache->instance, cache->server, (const unsigned char *)id,
                                   (unsigned int)strlen(id), buf, &buf_len, pool);
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
    rv = cache->provider->store(cache->instance, cache->server, (const unsigned char *)id,
                                (unsigned int)strlen(id), expiry, (unsigned char *)value,
                                (unsigned int)len, pool);
    unlock(cache);
    return rv;
}

int mcp_cache_claim(mcp_cache_t *cache, const char *id, apr_interval_time_t ttl,
                    apr_pool_t *pool)
{
    unsigned char *old;
    apr_size_t old_len;
    apr_status_t rv;
    unsigned char mark = '1';
    int claimed = 0;

    lock(cache);
    rv = get_locked(cache, id, 16, pool, &old, &old_len);
    if (APR_STATUS_IS_NOTFOUND(rv)) {
        claimed = cache->provider->store(cache->instance, cache->server,
                                         (const unsigned char *)id, (unsigned int)strlen(id),
                                         apr_time_now() + ttl, &mark, 1, pool)
                  == APR_SUCCESS;
    }
    unlock(cache);
    return claimed;
}

void mcp_cache_remove(mcp_cache_t *cache, const char *id, apr_pool_t *pool)
{
    lock(cache);
    cache->provider->remove(cache->instance, cache->server, (const unsigned char *)id,
                            (unsigned int)strlen(id), pool);
    unlock(cache);
}
