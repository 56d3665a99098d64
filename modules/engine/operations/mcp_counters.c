#include <apr_atomic.h>
#include <apr_shm.h>

#include "mcp_counters.h"

static const char *const names[MCP_COUNT_MAX] = {
    "accepted",      "no_token",   "invalid_request", "malformed",     "keys_unavailable",
    "unknown_kid",   "bad_signature", "expired",      "not_yet_valid", "issuer",
    "audience",      "other_claim", "insufficient_scope", "sender", "unavailable", "inactive",
};

static apr_uint32_t local_counters[MCP_COUNT_MAX];
static volatile apr_uint32_t *counters = local_counters;
/* the numbered counters (one per MCP authorization rule) follow the fixed ones */
static int numbered;

static apr_status_t detach(void *data)
{
    counters = local_counters;
    numbered = 0;
    return APR_SUCCESS;
}

void mcp_counters_init(apr_pool_t *pool, int numbered_counters)
{
    apr_shm_t *shm;
    int n = MCP_COUNT_MAX + (numbered_counters > 0 ? numbered_counters : 0);

    counters = local_counters;
    numbered = 0;
    if (apr_shm_create(&shm, sizeof(apr_uint32_t) * (apr_size_t)n, NULL, pool) == APR_SUCCESS) {
        counters = apr_shm_baseaddr_get(shm);
        for (int i = 0; i < n; i++)
            counters[i] = 0;
        numbered = n - MCP_COUNT_MAX;
        apr_pool_cleanup_register(pool, NULL, detach, apr_pool_cleanup_null);
    }
}

void mcp_count_numbered(int slot)
{
    if (slot >= 0 && slot < numbered)
        apr_atomic_inc32(&counters[MCP_COUNT_MAX + slot]);
}

apr_uint32_t mcp_numbered_count(int slot)
{
    return slot >= 0 && slot < numbered ? apr_atomic_read32(&counters[MCP_COUNT_MAX + slot]) : 0;
}

void mcp_count(mcp_count_t what)
{
    apr_atomic_inc32(&counters[what]);
}

const char *mcp_count_name(mcp_count_t what)
{
    return what >= 0 && what < MCP_COUNT_MAX ? names[what] : "other";
}

json_t *mcp_counters_json(void)
{
    json_t *doc = json_object(), *rejected = json_object();

    json_object_set_new(doc, "accepted", json_integer(apr_atomic_read32(&counters[MCP_COUNT_ACCEPTED])));
    for (int i = MCP_COUNT_ACCEPTED + 1; i < MCP_COUNT_MAX; i++)
        json_object_set_new(rejected, names[i], json_integer(apr_atomic_read32(&counters[i])));
    json_object_set_new(doc, "rejected", rejected);
    return doc;
}
