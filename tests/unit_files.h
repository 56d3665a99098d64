/* The unit-test files of the engine units that have their own, named after
 * the unit; tests/unit_tests.c runs them after its own. */
#ifndef MCP_UNIT_FILES_H
#define MCP_UNIT_FILES_H

#include <apr_pools.h>

void mcp_dpop_tests(apr_pool_t *pool);
void mcp_cnf_tests(apr_pool_t *pool);
void mcp_introspect_tests(apr_pool_t *pool);
void mcp_client_auth_tests(apr_pool_t *pool);

#endif
