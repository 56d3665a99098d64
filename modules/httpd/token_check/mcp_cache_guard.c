/* RFC 9111 §3.5: a shared cache stores a response to a request with
 * Authorization only when the response says public, s-maxage or
 * must-revalidate. mod_cache checks the request's Authorization header when
 * the response arrives, by which time the gateway has removed it, so the
 * request is marked uncacheable (r->no_cache) as soon as its token is gone,
 * and the mark is lifted only for a response that allows shared storage.
 * The filter runs before mod_cache's CACHE_SAVE (AP_FTYPE_CONTENT_SET+1); a
 * CACHE filter placed earlier by hand still sees the mark: not stored. */

#include <apr_strings.h>
#include <httpd.h>
#include <util_filter.h>

#include "mcp_cache_control.h"
#include "mcp_cache_guard.h"
#include "mcp_respond.h"

#define CACHE_GUARD_FILTER "MCP_AUTH_CACHE_GUARD"
#define NOTE_MARKED "no_cache.mcp_auth"

/* added by its registration, not by name: a name is looked up (and lower-
 * cased into the pool) on every request */
static ap_filter_rec_t *cache_guard_handle;

static int add_cache_control(void *data, const char *key, const char *value)
{
    mcp_cache_control_add(data, value);
    return 1;
}

static apr_status_t cache_guard_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    mcp_cache_control_t cc;

    if (apr_table_get(r->notes, NOTE_MARKED)) {
        mcp_cache_control_init(&cc);
        apr_table_do(add_cache_control, &cc, r->headers_out, "Cache-Control", NULL);
        apr_table_do(add_cache_control, &cc, r->err_headers_out, "Cache-Control", NULL);
        /* set, not only lifted: a fast redirect (DirectoryIndex) may have
         * cleared the mark with its subrequest's */
        r->no_cache = !mcp_cache_control_shared_store(&cc);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

void mcp_cache_guard_arm(request_rec *r)
{
    /* a mark someone else set stays whatever the response says */
    if (r->no_cache)
        return;
    r->no_cache = 1;
    apr_table_setn(r->notes, NOTE_MARKED, "1");
    if (!mcp_has_output_filter(r, cache_guard_handle))
        ap_add_output_filter_handle(cache_guard_handle, NULL, r, r->connection);
}

void mcp_cache_guard_register(apr_pool_t *p)
{
    cache_guard_handle = ap_register_output_filter(CACHE_GUARD_FILTER, cache_guard_filter, NULL,
                                                   AP_FTYPE_CONTENT_SET - 2);
}
