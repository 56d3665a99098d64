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

static mcp_cache_t *markers_of(const mcp_flight_t *flight)
{
    return flight->markers ? flight->markers : flight->cache;
}

mcp_flight_outcome_t mcp_flight_board(mcp_flight_t *flight, apr_size_t max_len, mcp_flight_usable_fn usable,
                                      void *baton, apr_pool_t *pool)
{
    mcp_cache_t *markers = markers_of(flight);
    apr_time_t give_up;

    flight->won = 0;
    if (kept(flight, max_len, usable, baton, pool))
        return MCP_FLIGHT_ANSWERED;
    if (flight->cache == NULL)
        return MCP_FLIGHT_ASK;
    if (mcp_cache_marker_alive(markers, flight->failed, pool))
        return MCP_FLIGHT_FAILED;
    /* the marker outlives a question that takes all its time, so that no
     * second one starts while the first may still answer */
    switch (mcp_cache_claim(markers, flight->marker, flight->patience + apr_time_from_sec(1), pool)) {
    case MCP_CLAIM_WON:
        flight->won = 1;
        /* another question may have landed between the first look and
         * the claim: its answer is there now */
        if (kept(flight, max_len, usable, baton, pool)) {
            mcp_cache_remove(markers, flight->marker, pool);
            flight->won = 0;
            return MCP_FLIGHT_ANSWERED;
        }
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
        if (!mcp_cache_marker_alive(markers, flight->marker, pool)) {
            /* answered just now, or failed */
            if (kept(flight, max_len, usable, baton, pool))
                return MCP_FLIGHT_ANSWERED;
            if (mcp_cache_marker_alive(markers, flight->failed, pool))
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
        mcp_cache_claim(markers_of(flight), flight->failed, rest, pool);
    if (flight->won)
        mcp_cache_remove(markers_of(flight), flight->marker, pool);
    flight->won = 0;
}
