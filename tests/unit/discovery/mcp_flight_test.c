/* Unit tests of mcp_flight: one question in flight across processes, the
 * others waiting for its answer or failing fast after a failure. */

#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "mcp_flight.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

/* A small socache of a few entries (no expiry: the test removes what it
 * wants gone). after_reads makes "another process" land its question
 * once that many reads have happened: its answer kept (or its failure
 * marked) and its marker removed. */
#define ENTRIES 8
static struct {
    char id[ENTRIES][80], value[ENTRIES][80];
    int used[ENTRIES];
    int reads, after_reads, other_fails;
} store;

static int find(const unsigned char *id, unsigned int idlen)
{
    int i;

    for (i = 0; i < ENTRIES; i++) {
        if (store.used[i] && strlen(store.id[i]) == idlen && memcmp(store.id[i], id, idlen) == 0)
            return i;
    }
    return -1;
}

static void put(const char *id, const char *value)
{
    int i = find((const unsigned char *)id, (unsigned int)strlen(id));

    for (i = i >= 0 ? i : 0; i < ENTRIES && store.used[i] && strcmp(store.id[i], id) != 0; i++)
        ;
    if (i == ENTRIES)
        return;
    apr_cpystrn(store.id[i], id, sizeof(store.id[i]));
    apr_cpystrn(store.value[i], value, sizeof(store.value[i]));
    store.used[i] = 1;
}

static void drop(const char *id)
{
    int i = find((const unsigned char *)id, (unsigned int)strlen(id));

    if (i >= 0)
        store.used[i] = 0;
}

static apr_status_t fake_store(ap_socache_instance_t *inst, server_rec *s, const unsigned char *id,
                               unsigned int idlen, apr_time_t expiry, unsigned char *data, unsigned int datalen,
                               apr_pool_t *p)
{
    char *key = apr_pstrmemdup(p, (const char *)id, idlen);

    put(key, apr_pstrmemdup(p, (const char *)data, datalen));
    return APR_SUCCESS;
}

static apr_status_t fake_retrieve(ap_socache_instance_t *inst, server_rec *s, const unsigned char *id,
                                  unsigned int idlen, unsigned char *data, unsigned int *datalen, apr_pool_t *p)
{
    int i;

    if (store.after_reads && ++store.reads == store.after_reads) {
        if (store.other_fails)
            put("failed", "x");
        else
            put("answer", "yes");
        drop("marker");
    }
    i = find(id, idlen);
    if (i < 0)
        return APR_NOTFOUND;
    if (strlen(store.value[i]) > *datalen)
        return APR_ENOSPC;
    memcpy(data, store.value[i], strlen(store.value[i]));
    *datalen = (unsigned int)strlen(store.value[i]);
    return APR_SUCCESS;
}

static apr_status_t fake_remove(ap_socache_instance_t *inst, server_rec *s, const unsigned char *id,
                                unsigned int idlen, apr_pool_t *p)
{
    drop(apr_pstrmemdup(p, (const char *)id, idlen));
    return APR_SUCCESS;
}

static int answer_is_yes(void *baton, const unsigned char *value, apr_size_t len)
{
    *(int *)baton += 1;
    return len == 3 && memcmp(value, "yes", 3) == 0;
}

static void test_flight(void)
{
    ap_socache_provider_t provider = { .name = "fake", .store = fake_store, .retrieve = fake_retrieve,
                                       .remove = fake_remove };
    mcp_cache_t cache = { .provider = &provider };
    mcp_flight_t flight = { &cache, NULL, "answer", "marker", "failed", apr_time_from_sec(5), 0 };
    mcp_flight_t alone = { NULL, NULL, "answer", "marker", "failed", apr_time_from_sec(5), 0 };
    int reads = 0;
    apr_time_t started;

    memset(&store, 0, sizeof(store));
    CHECK(mcp_flight_board(&alone, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ASK && !alone.won,
          "flight: without a shared cache every request asks");
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ASK && flight.won
              && find((const unsigned char *)"marker", 6) >= 0,
          "flight: the first request asks, its marker set");
    drop("marker");
    put("answer", "no");
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ASK && reads >= 1,
          "flight: a kept answer the caller cannot use is asked again");
    mcp_flight_land(&flight, 0, apr_time_from_sec(2), pool);
    CHECK(find((const unsigned char *)"marker", 6) < 0 && find((const unsigned char *)"failed", 6) < 0,
          "flight: landing removes the marker; a success marks no failure");
    put("answer", "yes");
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ANSWERED && !flight.won,
          "flight: a usable kept answer is taken without asking");
    drop("answer");
    mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool);
    mcp_flight_land(&flight, 1, apr_time_from_sec(2), pool);
    CHECK(find((const unsigned char *)"failed", 6) >= 0 && find((const unsigned char *)"marker", 6) < 0,
          "flight: a failed question is marked for the others");
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_FAILED,
          "flight: after a failure the others fail at once");
    drop("failed");

    /* another process asks: this request waits for its answer */
    put("marker", "other.1.0.x");
    store.reads = 0;
    store.after_reads = 5;
    started = apr_time_now();
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ANSWERED && !flight.won
              && apr_time_now() - started < apr_time_from_sec(5),
          "flight: a request waits for another's question and takes its answer");
    drop("answer");
    put("marker", "other.1.0.x");
    store.reads = 0;
    store.other_fails = 1;
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_FAILED,
          "flight: when the other question fails, the waiting requests fail with it");
    drop("failed");
    /* the other question lands between this request's first look and its
     * claim: the claim wins, and the answer is taken after all */
    drop("marker");
    store.reads = 0;
    store.after_reads = 3;
    store.other_fails = 0;
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ANSWERED && !flight.won
              && find((const unsigned char *)"marker", 6) < 0,
          "flight: an answer that lands just before the claim is taken, not asked again");
    drop("answer");
    store.after_reads = 0;
    put("marker", "other.1.0.x");
    flight.patience = 0;
    started = apr_time_now();
    CHECK(mcp_flight_board(&flight, 64, answer_is_yes, &reads, pool) == MCP_FLIGHT_ASK && !flight.won
              && apr_time_now() - started >= apr_time_from_sec(1),
          "flight: a question that never lands is given up on after its time, and asked again");
}

void mcp_flight_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_flight();
    apr_pool_destroy(pool);
}
