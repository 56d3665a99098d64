/* Unit tests for the engine units in modules/, run without httpd: each
 * unit's tests live in tests/mcp_<unit>_test.c (unit_files.h); this program
 * runs them all, layer by layer, and counts. */

#include <apr_general.h>
#include <apr_pools.h>

#include "unit.h"
#include "unit_files.h"

int unit_run, unit_failed;

int main(void)
{
    apr_pool_t *pool;

    apr_initialize();
    apr_pool_create(&pool, NULL);
    /* token_check */
    mcp_b64url_tests(pool);
    mcp_token_tests(pool);
    mcp_jwt_tests(pool);
    mcp_jwks_tests(pool);
    mcp_tokencache_tests(pool);
    mcp_scope_tests(pool);
    mcp_challenge_tests(pool);
    mcp_thread_state_tests(pool);
    mcp_digest_tests(pool);
    mcp_dpop_tests(pool);
    mcp_cnf_tests(pool);
    mcp_introspect_tests(pool);
    /* discovery */
    mcp_cache_control_tests(pool);
    mcp_fetch_tests(pool);
    mcp_cache_tests(pool);
    mcp_flight_tests(pool);
    mcp_docstore_tests(pool);
    mcp_discovery_tests(pool);
    mcp_metadata_tests(pool);
    mcp_facade_tests(pool);
    /* relay */
    mcp_seal_tests(pool);
    mcp_client_tests(pool);
    mcp_client_auth_tests(pool);
    /* exchange */
    mcp_exchange_tests(pool);
    /* mcp_policy */
    mcp_policy_tests(pool);
    mcp_jsonrpc_tests(pool);
    mcp_era_tests(pool);
    mcp_listfilter_tests(pool);
    /* operations */
    mcp_url_tests(pool);
    mcp_field_tests(pool);
    mcp_forwarded_tests(pool);
    mcp_metrics_tests(pool);
    mcp_logjson_tests(pool);
    apr_pool_destroy(pool);
    apr_terminate();
    return UNIT_DONE();
}
