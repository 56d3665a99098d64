#include "mcp_flight.h"

/* How often a waiting request looks for the answer. */
#define WAIT_STEP apr_time_from_msec(20)

static int kept(mcp_flight_t *flight, apr_size_t max_len, mcp_flight_usable_fn usable, void *baton,
                apr_pool_t *pool)
{
    unsigned char *value;
    apr_size_t len;

    return flight->cache && mcp_cache_get(flight->cache, flight->record, max_len, pool, &value, &len) == APR_SUCCESS
           && usable(baton, value, len);
}

mcp_flight_outcome_t mcp_flight_board(mcp_flight_t *flight, apr_size_t max_len, mcp_flight_usable_fn usable,
                                      void *baton, apr_pool_t *pool)
{
    apr_time_t give_up;

    flight->won = 0;
    if (kept(flight, max_len, usable, baton, pool))
        return MCP_FLIGHT_ANSWERED;
    if (flight->cache == NULL)
        return MCP_FLIGHT_ASK;
    if (mcp_cache_marker_alive(flight->cache, flight->failed, pool))
        return MCP_FLIGHT_FAILED;
    /* the marker outlives a question that takes all its time, so that no
     * second one starts while the first may still answer */
    switch (mcp_cache_claim(flight->cache, flight->marker, flight->patience + apr_time_from_sec(1), pool)) {
    case MCP_CLAIM_WON:
        flight->won = 1;
        return MCP_FLIGHT_ASK;
    case MCP_CLAIM_UNAVAILABLE:
        return MCP_FLIGHT_ASK;
    case MCP_CLAIM_HELD:
        break;
    }
    give_up = apr_time_now() + flight->patience + apr_time_from_sec(1);
    while (apr_time_now() < give_up) {
        apr_sleep(WAIT_STEP);
        if (kept(flight, max_len, usable, baton, pool))
            return MCP_FLIGHT_ANSWERED;
        if (!mcp_cache_marker_alive(flight->cache, flight->marker, pool)) {
            /* answered just now, or failed */
            if (kept(flight, max_len, usable, baton, pool))
                return MCP_FLIGHT_ANSWERED;
            if (mcp_cache_marker_alive(flight->cache, flight->failed, pool))
                return MCP_FLIGHT_FAILED;
            break;
        }
    }
    /* the other question came to nothing: this request asks itself */
    return MCP_FLIGHT_ASK;
}

void mcp_flight_land(mcp_flight_t *flight, int failed, apr_interval_time_t rest, apr_pool_t *pool)
{
    if (flight->cache == NULL)
        return;
    if (failed)
        mcp_cache_claim(flight->cache, flight->failed, rest, pool);
    if (flight->won)
        mcp_cache_remove(flight->cache, flight->marker, pool);
    flight->won = 0;
}
