/* List answers filtered by what the caller may use: JSON-RPC messages, and
 * SSE streams (WHATWG HTML "Server-sent events" framing) event by event. */

#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_buffer.h"
#include "mcp_listfilter.h"

/* The lists a result may carry (MCP 2025-11-25), and what names an entry.
 * They are recognised by shape, not by the request's id: an answer may come
 * back on another stream than its request's (a GET that resumes a stream
 * with Last-Event-ID replays it), with its id spelled another way. */
static const struct {
    const char *member, *key;
    mcp_kind_t kind;
} lists[] = {
    { "tools", "name", MCP_KIND_TOOL },
    { "prompts", "name", MCP_KIND_PROMPT },
    { "resources", "uri", MCP_KIND_RESOURCE },
    { "resourceTemplates", "uriTemplate", MCP_KIND_RESOURCE },
};

/* MCP 2026-07-28 server/utilities/caching: a result that may differ per
 * caller must not be "public", or a cache shared by several users (a
 * gateway's, an SDK client's response store) serves one caller's list to
 * another. Only results that carry cache hints get one. */
static int make_private(json_t *result)
{
    json_t *scope = json_object_get(result, "cacheScope");

    if (scope == NULL && json_object_get(result, "ttlMs") == NULL)
        return 0;
    if (json_is_string(scope) && strcmp(json_string_value(scope), "private") == 0)
        return 0;
    json_object_set_new(result, "cacheScope", json_string("private"));
    return 1;
}

/* Removes the entries of msg's lists the caller may not see, and marks
 * every result the rules concern private; 1 if anything changed. */
static int filter_message(const mcp_listfilter_t *lf, json_t *msg)
{
    json_t *result = json_is_object(msg) ? json_object_get(msg, "result") : NULL;
    size_t i, l;
    int changed = 0, concerned = 0;

    if (!json_is_object(result))
        return 0;
    for (l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
        json_t *list = json_object_get(result, lists[l].member);

        if (!json_is_array(list))
            continue;
        concerned |= lf->concerns == NULL || lf->concerns(lf->ctx, lists[l].kind);
        for (i = json_array_size(list); i-- > 0;) {
            json_t *name = json_object_get(json_array_get(list, i), lists[l].key);

            if (!json_is_string(name) || !lf->visible(lf->ctx, lists[l].kind, json_string_value(name))) {
                json_array_remove(list, i);
                changed = 1;
            }
        }
    }
    /* a resources/read result: readable by some callers only */
    if (json_is_array(json_object_get(result, "contents")))
        concerned |= lf->concerns == NULL || lf->concerns(lf->ctx, MCP_KIND_RESOURCE);
    if (concerned || changed)
        changed |= make_private(result);
    return changed;
}

char *mcp_listfilter_json(apr_pool_t *pool, const mcp_listfilter_t *lf, const char *text, apr_size_t len,
                          apr_size_t *out_len, int *unreadable)
{
    /* duplicate names would let a client read another list than this */
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    char *dumped, *out = NULL;
    size_t i;
    int changed = 0;

    *unreadable = doc == NULL;
    if (doc == NULL)
        return NULL;
    if (json_is_array(doc)) {
        for (i = 0; i < json_array_size(doc); i++)
            changed |= filter_message(lf, json_array_get(doc, i));
    }
    else {
        changed = filter_message(lf, doc);
    }
    if (changed && (dumped = json_dumps(doc, JSON_COMPACT)) != NULL) {
        *out_len = strlen(dumped);
        out = apr_pstrmemdup(pool, dumped, *out_len);
        free(dumped);
    }
    json_decref(doc);
    return out;
}

struct mcp_sse_filter {
    apr_pool_t *pool;
    const mcp_listfilter_t *lf;
    apr_size_t max_event;
    mcp_emit_fn emit;
    void *emit_ctx;
    mcp_buffer_t event;   /* the event so far */
    int line_empty;       /* the line being read has no bytes yet */
    int line_only;        /* buf holds nothing but line ends (no event yet) */
    int after_cr;         /* the last byte was CR (an LF next belongs to it) */
    int end_pending;      /* a blank line ended with CR: wait for a possible LF */
    int at_start;         /* only BOMs so far */
    int bom_seen;         /* bytes of the BOM being read */
    int dropping;         /* an oversized event: skip to its end */
};

mcp_sse_filter_t *mcp_sse_filter_create(apr_pool_t *pool, const mcp_listfilter_t *lf, apr_size_t max_event,
                                        mcp_emit_fn emit, void *emit_ctx)
{
    mcp_sse_filter_t *f = apr_pcalloc(pool, sizeof(*f));

    f->pool = pool;
    f->lf = lf;
    f->max_event = max_event;
    f->emit = emit;
    f->emit_ctx = emit_ctx;
    f->line_empty = 1;
    f->line_only = 1;
    f->at_start = 1;
    return f;
}

/* One line of an event, without its terminator: "data:" fields make the
 * message (one space after the colon dropped, lines joined by "\n"). */
static int is_data_line(const char *line, apr_size_t n, const char **value, apr_size_t *vlen)
{
    if (n < 5 || memcmp(line, "data", 4) != 0 || (n > 4 && line[4] != ':'))
        return n == 4 && memcmp(line, "data", 4) == 0 ? (*value = line + 4, *vlen = 0, 1) : 0;
    *value = line + 5;
    *vlen = n - 5;
    if (*vlen && **value == ' ') {
        (*value)++;
        (*vlen)--;
    }
    return 1;
}

/* Splits ev (n bytes, a whole event) into lines at CRLF, LF or CR. */
static apr_array_header_t *lines_of(apr_pool_t *p, const char *ev, apr_size_t n)
{
    apr_array_header_t *lines = apr_array_make(p, 4, sizeof(struct { const char *s; apr_size_t n; }));
    apr_size_t i = 0, start = 0;

    while (i < n) {
        if (ev[i] == '\r' || ev[i] == '\n') {
            struct { const char *s; apr_size_t n; } *l = apr_array_push(lines);

            l->s = ev + start;
            l->n = i - start;
            i += ev[i] == '\r' && i + 1 < n && ev[i + 1] == '\n' ? 2 : 1;
            start = i;
        }
        else {
            i++;
        }
    }
    if (start < n) {
        /* the stream ended inside this line */
        struct { const char *s; apr_size_t n; } *l = apr_array_push(lines);

        l->s = ev + start;
        l->n = n - start;
    }
    return lines;
}

/* A whole event: passed on as it came, or rewritten with its list filtered
 * (fields other than data kept, in their order). */
static void judge_event(mcp_sse_filter_t *f, const char *ev, apr_size_t n)
{
    typedef struct { const char *s; apr_size_t n; } line_t;
    apr_pool_t *p;
    apr_array_header_t *lines;
    const char *data = NULL, *value, *filtered;
    apr_size_t vlen, out_len = 0;
    int i, wrote_data = 0, unreadable = 0;

    apr_pool_create(&p, f->pool);
    lines = lines_of(p, ev, n);
    for (i = 0; i < lines->nelts; i++) {
        line_t *l = &APR_ARRAY_IDX(lines, i, line_t);

        if (is_data_line(l->s, l->n, &value, &vlen))
            data = data ? apr_pstrcat(p, data, "\n", apr_pstrmemdup(p, value, vlen), NULL) : apr_pstrmemdup(p, value, vlen);
    }
    filtered = data && *data ? mcp_listfilter_json(p, f->lf, data, strlen(data), &out_len, &unreadable) : NULL;
    if (filtered == NULL && unreadable) {
        /* MCP's events are JSON-RPC: one this filter cannot read is not
         * passed on for a client to read some other way */
        static const char note[] = ": an event that is not JSON was dropped\n\n";

        f->emit(f->emit_ctx, note, sizeof(note) - 1);
        apr_pool_destroy(p);
        return;
    }
    if (filtered == NULL) {
        f->emit(f->emit_ctx, ev, n);
        apr_pool_destroy(p);
        return;
    }
    for (i = 0; i < lines->nelts; i++) {
        line_t *l = &APR_ARRAY_IDX(lines, i, line_t);

        if (l->n == 0)
            continue;
        if (is_data_line(l->s, l->n, &value, &vlen)) {
            if (!wrote_data) {
                /* compact JSON has no line breaks: one data line */
                f->emit(f->emit_ctx, "data: ", 6);
                f->emit(f->emit_ctx, filtered, out_len);
                f->emit(f->emit_ctx, "\n", 1);
                wrote_data = 1;
            }
            continue;
        }
        f->emit(f->emit_ctx, l->s, l->n);
        f->emit(f->emit_ctx, "\n", 1);
    }
    f->emit(f->emit_ctx, "\n", 1);
    apr_pool_destroy(p);
}

static void keep(mcp_sse_filter_t *f, const char *data, apr_size_t n)
{
    /* an event is small, and an oversized one is dropped before it grows
     * much: the copies a doubling leaves behind stay until the stream ends */
    mcp_buffer_append(f->pool, &f->event, data, n);
}

/* A blank line ended the event in buf (or, before any, passes on). */
static void event_end(mcp_sse_filter_t *f)
{
    if (f->dropping)
        f->dropping = 0;
    else if (f->line_only)
        f->emit(f->emit_ctx, f->event.data, f->event.len);
    else
        judge_event(f, f->event.data, f->event.len);
    f->event.len = 0;
    f->line_only = 1;
}

void mcp_sse_filter_feed(mcp_sse_filter_t *f, const char *data, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        char c = data[i];

        /* UTF-8 BOMs opening the stream are not part of its first line:
         * clients drop one or more (a decoder one, the SSE parser another),
         * so all are dropped here, and that line reads as theirs */
        if (f->at_start) {
            static const char bom[] = "\xEF\xBB\xBF";

            if (c == bom[f->bom_seen]) {
                f->bom_seen = (f->bom_seen + 1) % 3;
                continue;
            }
            f->at_start = 0;
            if (f->bom_seen) /* half a BOM: its bytes belong to the line */
                keep(f, bom, (apr_size_t)f->bom_seen);
        }
        if (f->end_pending) {
            /* a blank line ended with CR: its LF, if one follows, is part of it */
            f->end_pending = 0;
            if (c == '\n') {
                if (!f->dropping)
                    keep(f, &c, 1);
                event_end(f);
                continue;
            }
            event_end(f);
        }
        if (!f->dropping)
            keep(f, &c, 1);
        /* CRLF is one terminator, also when a read splits it */
        if (c == '\n' && f->after_cr) {
            f->after_cr = 0;
            continue;
        }
        f->after_cr = c == '\r';
        if (c != '\r' && c != '\n') {
            f->line_empty = 0;
            f->line_only = 0;
            continue;
        }
        if (f->line_empty) {
            if (c == '\r')
                f->end_pending = 1;
            else
                event_end(f);
        }
        f->line_empty = 1;
    }
    /* an event still open past the bound is never passed on unfiltered */
    if (f->event.len > f->max_event) {
        static const char note[] = ": an event too large to filter was dropped\n\n";

        f->emit(f->emit_ctx, note, sizeof(note) - 1);
        f->event.len = 0;
        f->dropping = 1;
    }
}

void mcp_sse_filter_finish(mcp_sse_filter_t *f)
{
    if (f->end_pending)
        event_end(f);
    else if (!f->dropping && f->event.len)
        judge_event(f, f->event.data, f->event.len);
    f->event.len = 0;
}
