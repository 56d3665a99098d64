/* One question in flight: where many requests (in many processes and
 * hosts) need the same answer from the IdP, one of them asks and the
 * others wait for the answer it keeps in the shared cache; after a failed
 * question the others fail at once for a while instead of each waiting its
 * own timeout on an IdP that is down. */
#ifndef MCP_FLIGHT_H
#define MCP_FLIGHT_H

#include <apr_pools.h>
#include <apr_time.h>

#include "mcp_cache.h"

typedef struct mcp_flight {
    mcp_cache_t *cache;             /* where answers are kept; NULL: no cache, every request asks */
    mcp_cache_t *markers;           /* where the two markers are; NULL: cache */
    const char *record;             /* id of the kept answer */
    const char *marker;             /* id of the question in flight */
    const char *failed;             /* id of the recent-failure marker (per endpoint and client) */
    apr_interval_time_t patience;   /* how long one question may take: others wait as long */
    int won;                        /* set by mcp_flight_board: this request holds the marker */
} mcp_flight_t;

typedef enum {
    MCP_FLIGHT_ANSWERED,    /* the kept answer was usable */
    MCP_FLIGHT_FAILED,      /* the IdP failed a question moments ago */
    MCP_FLIGHT_ASK          /* this request asks, then calls mcp_flight_land */
} mcp_flight_outcome_t;

/* Whether a kept answer (value, len) can be used; the caller keeps what it
 * read in baton. */
typedef int (*mcp_flight_usable_fn)(void *baton, const unsigned char *value, apr_size_t len);

/* Looks for the answer, or waits for another request's question (at most
 * patience), or makes this request the one that asks. max_len: the largest
 * answer read. */
mcp_flight_outcome_t mcp_flight_board(mcp_flight_t *flight, apr_size_t max_len, mcp_flight_usable_fn usable,
                                      void *baton, apr_pool_t *pool);

/* After asking: failed (no usable answer) marks the failure for rest, and
 * the marker of the question is removed. The caller keeps an answer in
 * flight->record before landing, so waiting requests find it. */
void mcp_flight_land(mcp_flight_t *flight, int failed, apr_interval_time_t rest, apr_pool_t *pool);

#endif
