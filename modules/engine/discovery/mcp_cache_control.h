/* Cache-Control (RFC 9111 §5.2) as far as the module acts on it: how long an
 * IdP document stays fresh, and whether a shared cache may store a response
 * to an authenticated request (§3.5). */
#ifndef MCP_CACHE_CONTROL_H
#define MCP_CACHE_CONTROL_H

typedef struct mcp_cache_control {
    long max_age;            /* seconds, -1 when absent */
    int no_store;            /* no-store or no-cache */
    int shared_ok;           /* public, s-maxage, must-revalidate or proxy-revalidate (RFC 9111 §3.5) */
    int private_;            /* private: never for a shared cache (§5.2.2.7) */
} mcp_cache_control_t;

/* Adds what value says to cc; call mcp_cache_control_init first. Several
 * header lines may be added one after the other. value may be NULL. */
/* Whether a shared cache may store the response to an authenticated
 * request: allowed by shared_ok, and neither private nor no-store. */
int mcp_cache_control_shared_store(const mcp_cache_control_t *cc);
void mcp_cache_control_init(mcp_cache_control_t *cc);
void mcp_cache_control_add(mcp_cache_control_t *cc, const char *value);

#endif
