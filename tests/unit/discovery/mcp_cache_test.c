/* Unit tests of mcp_cache: marker claims in the shared cache (single flight
 * across processes and hosts), and the store's health as they see it. */

#include <string.h>

#include <apr_time.h>

#include <apr_strings.h>

#include "mcp_cache.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

/* A one-entry socache like redis: MP-safe (no mutex), no atomic add, and a
 * read into a buffer too small for the value fails. rival_writes makes
 * another claimant's write land right after ours. down: 1, connections
 * refused; 2, as apr_redis once it holds its server for dead: every read
 * "not found", every store failing. */
static struct {
    char id[128], value[128];
    int present, rival_writes, down, calls, slow;
} slot;

static apr_status_t slot_store(ap_socache_instance_t *i, server_rec *s, const unsigned char *id,
                               unsigned int idlen, apr_time_t expiry, unsigned char *data,
                               unsigned int datalen, apr_pool_t *p)
{
    slot.calls++;
    if (slot.down && slot.slow)
        apr_sleep(apr_time_from_msec(300));
    if (slot.down)
        return APR_ECONNREFUSED;
    if (idlen >= sizeof(slot.id) || datalen >= sizeof(slot.value))
        return APR_ENOSPC;
    memcpy(slot.id, id, idlen);
    slot.id[idlen] = '\0';
    memcpy(slot.value, data, datalen);
    slot.value[datalen] = '\0';
    slot.present = 1;
    if (slot.rival_writes) {
        slot.rival_writes--;
        strcpy(slot.value, "rival");
    }
    return APR_SUCCESS;
}

static apr_status_t slot_retrieve(ap_socache_instance_t *i, server_rec *s, const unsigned char *id,
                                  unsigned int idlen, unsigned char *data, unsigned int *datalen,
                                  apr_pool_t *p)
{
    size_t len = strlen(slot.value);

    slot.calls++;
    if (slot.down && slot.slow)
        apr_sleep(apr_time_from_msec(300));
    if (slot.down)
        return slot.down == 2 ? APR_NOTFOUND : APR_ECONNREFUSED;
    if (!slot.present || strlen(slot.id) != idlen || memcmp(slot.id, id, idlen) != 0)
        return APR_NOTFOUND;
    if (len > *datalen)
        return APR_ENOSPC;
    memcpy(data, slot.value, len);
    *datalen = (unsigned int)len;
    return APR_SUCCESS;
}

static apr_status_t slot_remove(ap_socache_instance_t *i, server_rec *s, const unsigned char *id,
                                unsigned int idlen, apr_pool_t *p)
{
    slot.present = 0;
    return APR_SUCCESS;
}

static int health_downs, health_ups;

static void count_health(const mcp_cache_t *cache, int reachable, apr_status_t rv)
{
    (void)cache;
    (void)rv;
    if (reachable)
        health_ups++;
    else
        health_downs++;
}

static void test_cache_claim(void)
{
    ap_socache_provider_t provider = { .name = "slot", .store = slot_store,
                                       .retrieve = slot_retrieve, .remove = slot_remove };
    mcp_cache_t cache = { .provider = &provider, .on_health = count_health };
    int i;

    memset(&slot, 0, sizeof(slot));
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_WON,
          "claim on an empty shared cache: this caller owns the work");
    CHECK(mcp_cache_marker_alive(&cache, "fetch", pool), "the claim's marker is seen as alive");
    CHECK(mcp_cache_marker_younger(&cache, "fetch", apr_time_from_sec(5), pool)
              && !mcp_cache_marker_younger(&cache, "fetch", 0, pool) && !mcp_cache_marker_younger(&cache, "none", apr_time_from_sec(5), pool),
          "a marker tells how long ago it was claimed");
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_HELD,
          "second claim while the marker lives: not owned");
    mcp_cache_remove(&cache, "fetch", pool);
    CHECK(!mcp_cache_marker_alive(&cache, "fetch", pool), "a removed marker is gone");
    slot.rival_writes = 1;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_HELD,
          "claim race on a cache without atomic add: the claimant whose write was overwritten steps back");
    CHECK(mcp_cache_marker_alive(&cache, "fetch", pool),
          "after a lost race the winner's marker stays, so waiters keep waiting");

    /* the store failing is not someone else's claim */
    mcp_cache_remove(&cache, "fetch", pool);
    CHECK(mcp_cache_reachable(&cache) && health_downs == 0, "a store that answers (hits, misses) is reachable");
    slot.down = 1;
    for (i = 0; i < 3; i++)
        CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE,
              "claim while the store refuses connections: unavailable, not held by someone else");
    CHECK(!mcp_cache_reachable(&cache) && health_downs == 1 && health_ups == 0,
          "the outage is reported once, however many looks fail");
    slot.calls = 0;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE && slot.calls == 1,
          "a store that refuses at once is asked again on every use (its return is seen at once)");
    slot.slow = 1;
    mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool);
    slot.calls = 0;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE && slot.calls == 0,
          "after a failure that hung, the store is left alone for 5 s (one wait, not one a request)");
    slot.slow = 0;
    cache.rest_until = 0;
    slot.down = 2;
    for (i = 0; i < 3; i++)
        CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_UNAVAILABLE
                  && !mcp_cache_marker_alive(&cache, "fetch", pool),
              "claim while the client library holds the server for dead (reads say 'not found'): unavailable");
    CHECK(!mcp_cache_reachable(&cache) && health_ups == 0, "and 'not found' is not taken for the store being back");
    slot.down = 0;
    cache.rest_until = 0;
    CHECK(mcp_cache_claim(&cache, "fetch", apr_time_from_sec(5), pool) == MCP_CLAIM_WON
              && mcp_cache_reachable(&cache) && health_ups == 1 && health_downs == 1,
          "the store back: the claim works and the recovery is reported once");
}

/* shmcb picks a subcache by an id's first byte: ids must spread over all
 * 256, or a store holds a fraction of what its size promises. */
static void test_cache_ids(void)
{
    int seen[256] = { 0 }, distinct = 0, most = 0, i;
    const char *id;

    for (i = 0; i < 8192; i++) {
        id = mcp_cache_id(pool, "dpop-proof", apr_psprintf(pool, "jkt jti-%d", i));
        seen[(unsigned char)id[0]]++;
    }
    for (i = 0; i < 256; i++) {
        distinct += seen[i] > 0;
        most = seen[i] > most ? seen[i] : most;
    }
    CHECK(distinct >= 250 && seen[0] == 0, "cache ids: first bytes spread over (nearly) all 256 values, never NUL");
    CHECK(most < 8192 / 256 * 3, "cache ids: no subcache takes a crowd");
    id = mcp_cache_id(pool, "purpose", "name");
    CHECK(strlen(id) == 64 + 1 + strlen("purpose") && strcmp(id + 65, "purpose") == 0
              && strcmp(id, mcp_cache_id(pool, "purpose", "name")) == 0
              && strcmp(id, mcp_cache_id(pool, "other", "name")) != 0,
          "cache ids: a string of the hash and the purpose, the same for the same name");
}

void mcp_cache_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_cache_ids();
    test_cache_claim();
    apr_pool_destroy(pool);
}
