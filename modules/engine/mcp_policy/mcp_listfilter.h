/* Answers to tools/list, prompts/list, resources/list and
 * resources/templates/list with the entries a caller may not use taken
 * out: in a JSON body, and in an SSE stream as it passes. */
#ifndef MCP_LISTFILTER_H
#define MCP_LISTFILTER_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "mcp_policy.h"

/* Whether the caller may see the entry of kind named name. */
typedef int (*mcp_visible_fn)(void *ctx, mcp_kind_t kind, const char *name);

/* Whether rules speak of kind at all (its lists may then differ per caller). */
typedef int (*mcp_concerns_fn)(void *ctx, mcp_kind_t kind);

typedef struct mcp_listfilter {
    mcp_visible_fn visible;
    mcp_concerns_fn concerns;   /* NULL: every kind */
    void *ctx;
} mcp_listfilter_t;

/* One JSON-RPC message or batch as text. Every result that holds a list
 * (tools, prompts, resources, resourceTemplates) loses the entries the
 * caller may not see, whatever request it answers; such a result, and a
 * resources/read result (contents) where resources concern the rules,
 * carrying cache hints gets cacheScope "private". NULL when nothing
 * changes (pass the original bytes on; *unreadable says whether that is
 * because the text is not JSON that reads one way); otherwise the new text,
 * every other member as it was (nextCursor included), its length in
 * *out_len. An entry without a string name is hidden. */
char *mcp_listfilter_json(apr_pool_t *pool, const mcp_listfilter_t *lf, const char *text, apr_size_t len,
                          apr_size_t *out_len, int *unreadable);

/* An SSE stream filtered event by event (events may arrive split anywhere).
 * Events that carry no list pass as their bytes came; events whose data is
 * not JSON are dropped (a comment says so). */
typedef struct mcp_sse_filter mcp_sse_filter_t;

/* Where filtered bytes go. */
typedef void (*mcp_emit_fn)(void *ctx, const char *data, apr_size_t len);

/* max_event bounds what one event may hold while it waits for its end; a
 * longer event is dropped (never passed unfiltered) and a comment says so. */
mcp_sse_filter_t *mcp_sse_filter_create(apr_pool_t *pool, const mcp_listfilter_t *lf, apr_size_t max_event,
                                        mcp_emit_fn emit, void *emit_ctx);
void mcp_sse_filter_feed(mcp_sse_filter_t *f, const char *data, apr_size_t len);
/* The end of the stream: an unfinished event is judged as it is. */
void mcp_sse_filter_finish(mcp_sse_filter_t *f);

#endif
