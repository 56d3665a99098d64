/* IdP documents (JWKS, discovery) as every process sees them: the raw body
 * lives once in the shared cache, each process keeps its parsed form and
 * re-parses only when the shared copy changes. */
#ifndef MCP_DOCSTORE_H
#define MCP_DOCSTORE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "mcp_cache.h"
#include "mcp_fetch.h"

/* Turns a fetched body into the object requests use; NULL + *err when the
 * body is unusable (it is then never stored or served). */
typedef void *(*mcp_doc_parse_fn)(apr_pool_t *pool, const char *body, apr_size_t len,
                                  const void *ctx, const char **err);

/* What a document is for. Documents of different kinds never share a parsed
 * copy, a shared-cache entry or a failure back-off, even at one URL: a
 * client may name the IdP's key set URL as its client id, and its refusal
 * must not hold back the keys. */
#define MCP_DOC_JWKS "jwks"
#define MCP_DOC_IDP_METADATA "idp-metadata"
#define MCP_DOC_CLIENT_METADATA "client-metadata"

typedef struct mcp_doc_policy {
    const char *kind;                  /* MCP_DOC_…; NULL: "document" */
    apr_interval_time_t refresh_min;   /* clamp for the document's max-age */
    apr_interval_time_t refresh_max;
    apr_interval_time_t max_stale;     /* keep serving this long past expiry while the IdP fails */
    apr_interval_time_t min_refetch;   /* forced (unknown kid) refetches, across all processes */
    mcp_fetch_opts_t fetch;
} mcp_doc_policy_t;

typedef struct mcp_doc {
    void *parsed;
    apr_time_t fetched_at;
    apr_time_t fresh_until;
} mcp_doc_t;

typedef struct mcp_docstore mcp_docstore_t;

/* One per process. cache may be NULL (process-local only, for tests). */
apr_status_t mcp_docstore_create(mcp_docstore_t **store, apr_pool_t *pool, mcp_cache_t *cache);

/* At most max_entries documents parsed in this process (0, the default: no
 * limit); beyond it the parsed copies are dropped and re-read from the
 * shared cache when asked for again. For URLs that clients choose. */
void mcp_docstore_limit(mcp_docstore_t *store, unsigned int max_entries);

/* The current document for url, fetched if needed. force asks for a refetch
 * because the current copy lacks something (unknown kid): it is honoured at
 * most once per min_refetch across all processes, and returns the newer
 * copy another process already fetched when there is one. The document stays
 * valid until rpool is cleared. NULL + *err when nothing usable exists. */
const mcp_doc_t *mcp_docstore_get(mcp_docstore_t *store, const char *url,
                                  mcp_doc_parse_fn parse, const void *parse_ctx,
                                  const mcp_doc_policy_t *policy, int force,
                                  apr_pool_t *rpool, const char **err);

/* What the status page shows of one document. */
typedef struct mcp_doc_status {
    apr_uint32_t fetches;      /* attempts, across all processes sharing the cache */
    apr_uint32_t failures;
    apr_time_t last_attempt;
    int last_ok;
    char last_error[160];
    const mcp_doc_t *doc;      /* current copy (shared one adopted if needed), or NULL */
} mcp_doc_status_t;

void mcp_docstore_status(mcp_docstore_t *store, const char *url, mcp_doc_parse_fn parse,
                         const void *parse_ctx, const mcp_doc_policy_t *policy,
                         apr_pool_t *rpool, mcp_doc_status_t *status);

#endif
