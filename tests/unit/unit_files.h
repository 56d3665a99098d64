/* The unit-test files, one per engine unit and named after it:
 * tests/mcp_<unit>_test.c tests mcp_<unit>.c (in a sub-folder of
 * modules/engine/) and has one entry, mcp_<unit>_tests(pool).
 * tests/unit_tests.c runs them all. */
#ifndef MCP_UNIT_FILES_H
#define MCP_UNIT_FILES_H

#include <apr_pools.h>

/* token_check */
void mcp_b64url_tests(apr_pool_t *pool);
void mcp_token_tests(apr_pool_t *pool);
void mcp_jwt_tests(apr_pool_t *pool);
void mcp_jwks_tests(apr_pool_t *pool);
void mcp_tokencache_tests(apr_pool_t *pool);
void mcp_scope_tests(apr_pool_t *pool);
void mcp_challenge_tests(apr_pool_t *pool);
void mcp_thread_state_tests(apr_pool_t *pool);
void mcp_digest_tests(apr_pool_t *pool);
void mcp_dpop_tests(apr_pool_t *pool);
void mcp_cnf_tests(apr_pool_t *pool);
void mcp_introspect_tests(apr_pool_t *pool);
/* discovery */
void mcp_cache_control_tests(apr_pool_t *pool);
void mcp_fetch_tests(apr_pool_t *pool);
void mcp_cache_tests(apr_pool_t *pool);
void mcp_flight_tests(apr_pool_t *pool);
void mcp_docstore_tests(apr_pool_t *pool);
void mcp_discovery_tests(apr_pool_t *pool);
void mcp_metadata_tests(apr_pool_t *pool);
void mcp_facade_tests(apr_pool_t *pool);
/* relay */
void mcp_seal_tests(apr_pool_t *pool);
void mcp_client_tests(apr_pool_t *pool);
void mcp_client_auth_tests(apr_pool_t *pool);
/* exchange */
void mcp_exchange_tests(apr_pool_t *pool);
/* mcp_policy */
void mcp_policy_tests(apr_pool_t *pool);
void mcp_jsonrpc_tests(apr_pool_t *pool);
void mcp_era_tests(apr_pool_t *pool);
void mcp_listfilter_tests(apr_pool_t *pool);
/* operations */
void mcp_url_tests(apr_pool_t *pool);
void mcp_metrics_tests(apr_pool_t *pool);
void mcp_field_tests(apr_pool_t *pool);
void mcp_forwarded_tests(apr_pool_t *pool);
void mcp_logjson_tests(apr_pool_t *pool);

#endif
