/* Unit tests of mcp_listfilter: list answers with the entries a caller may
 * not use taken out, in a JSON body and in an SSE stream fed in pieces. */

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "mcp_listfilter.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static int hide_secret(void *ctx, mcp_kind_t kind, const char *name)
{
    (void)ctx;
    return !(kind == MCP_KIND_TOOL && strncmp(name, "secret", 6) == 0) && strcmp(name, "file:///etc/passwd") != 0;
}

static int concerns_nothing(void *ctx, mcp_kind_t kind)
{
    (void)ctx;
    (void)kind;
    return 0;
}

typedef struct { char *buf; apr_size_t len; } sink_t;

static void sink(void *ctx, const char *data, apr_size_t len)
{
    sink_t *s = ctx;

    s->buf = realloc(s->buf, s->len + len + 1);
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = '\0';
}

/* The stream through the filter, fed step bytes at a time. */
static char *sse_through(const mcp_listfilter_t *lf, const char *stream, apr_size_t step, apr_size_t max)
{
    sink_t out = { NULL, 0 };
    mcp_sse_filter_t *f = mcp_sse_filter_create(pool, lf, max, sink, &out);
    apr_size_t i, n = strlen(stream);
    char *copy;

    for (i = 0; i < n; i += step)
        mcp_sse_filter_feed(f, stream + i, n - i < step ? n - i : step);
    mcp_sse_filter_finish(f);
    copy = apr_pstrdup(pool, out.buf ? out.buf : "");
    free(out.buf);
    return copy;
}

static void test_listfilter(void)
{
    mcp_listfilter_t lf = { 0 };
    apr_size_t n;
    const char *tools = "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{}},"
                        "{\"name\":\"secret_x\"},{\"title\":\"no name\"}],\"nextCursor\":\"c2\"}}";
    const char *other = "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[{\"name\":\"secret_x\"}]}}";
    char *out, *stream, *expect;

    int unreadable;

    lf.visible = hide_secret;
    lf.ctx = NULL;
    out = mcp_listfilter_json(pool, &lf, tools, strlen(tools), &n, &unreadable);
    CHECK(out && strcmp(out, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{}}],"
                             "\"nextCursor\":\"c2\"}}") == 0,
          "tools/list: a hidden tool and a nameless entry go, nextCursor and the rest stay");
    out = mcp_listfilter_json(pool, &lf, other, strlen(other), &n, &unreadable);
    CHECK(out && strstr(out, "secret") == NULL,
          "a list answering another request (a replayed stream, another id spelling): filtered by its shape");
    {
        const char *plain = "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"content\":[]}}";

        CHECK(mcp_listfilter_json(pool, &lf, plain, strlen(plain), &n, &unreadable) == NULL && !unreadable,
              "a result without a list: untouched");
    }
    CHECK(mcp_listfilter_json(pool, &lf, "{\"result\":{\"tools\":[]},\"result\":{\"tools\":[{\"name\":\"secret\"}]}}",
                              strlen("{\"result\":{\"tools\":[]},\"result\":{\"tools\":[{\"name\":\"secret\"}]}}"), &n,
                              &unreadable) == NULL && unreadable,
          "an answer with duplicate names: unreadable (the caller refuses it)");
    out = mcp_listfilter_json(pool, &lf, "[{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{\"resources\":"
                              "[{\"uri\":\"file:///etc/passwd\"},{\"uri\":\"file:///tmp/a\"}]}}]", 106, &n, &unreadable);
    CHECK(out && strstr(out, "passwd") == NULL && strstr(out, "file:///tmp/a"), "a batch answer: resources filtered by uri");

    stream = apr_psprintf(pool, "id: 1\nevent: message\ndata: %s\n\n: comment\n\ndata: %s\n\n", tools, other);
    expect = apr_psprintf(pool, "id: 1\nevent: message\ndata: %s\n\n: comment\n\ndata: %s\n\n",
                          "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"echo\",\"inputSchema\":{}}],"
                          "\"nextCursor\":\"c2\"}}", "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{\"tools\":[]}}");
    CHECK(strcmp(sse_through(&lf, stream, 4096, 65536), expect) == 0, "SSE: list events filtered, others byte for byte");
    CHECK(strcmp(sse_through(&lf, stream, 1, 65536), expect) == 0, "SSE: the same, fed one byte at a time");
    /* split where JSON allows a line break: after {"jsonrpc":"2.0", */
    stream = apr_psprintf(pool, "data: %.17s\r\ndata: %s\r\n\r\n", tools, tools + 17);
    out = sse_through(&lf, stream, 7, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo") && strstr(out, "c2"),
          "SSE: CRLF lines, the message split over two data lines, reads split anywhere");
    stream = apr_psprintf(pool, "data: %s\n\ndata: %s\n\n", tools, tools);
    out = sse_through(&lf, stream, 3, 64);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "too large"), "SSE: an event over the bound is dropped, not passed");
    out = sse_through(&lf, apr_psprintf(pool, "data: %s", tools), 5, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo"), "SSE: an event cut off by the end of the stream is still filtered");
    out = sse_through(&lf, apr_psprintf(pool, "\xEF\xBB\xBF" "data: %s\n\n", tools), 2, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo"), "SSE: a BOM before the first line does not hide its data");
    out = sse_through(&lf, apr_psprintf(pool, "\xEF\xBB\xBF\xEF\xBB\xBF" "data: %s\n\n", tools), 1, 65536);
    CHECK(strstr(out, "secret") == NULL && strstr(out, "echo"), "SSE: nor do two");
    {
        const char *hinted = "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{\"tools\":[{\"name\":\"echo\"}],"
                             "\"ttlMs\":60000,\"cacheScope\":\"public\"}}";
        const char *read = "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"contents\":[],\"ttlMs\":5}}";

        out = mcp_listfilter_json(pool, &lf, hinted, strlen(hinted), &n, &unreadable);
        CHECK(out && strstr(out, "\"cacheScope\":\"private\"") && strstr(out, "\"ttlMs\":60000") && strstr(out, "echo"),
              "a list with cache hints: private, ttlMs kept, though nothing went");
        out = mcp_listfilter_json(pool, &lf, read, strlen(read), &n, &unreadable);
        CHECK(out && strstr(out, "\"cacheScope\":\"private\""), "a resources/read result with a ttlMs: private");
        lf.concerns = concerns_nothing;
        CHECK(mcp_listfilter_json(pool, &lf, hinted, strlen(hinted), &n, &unreadable) == NULL,
              "a list of a kind no rule names: passed as it came, public");
        lf.concerns = NULL;
        out = sse_through(&lf, apr_psprintf(pool, "data: %s\n\n", hinted), 3, 65536);
        CHECK(strstr(out, "\"cacheScope\":\"private\"") != NULL, "SSE: the same, event by event");
        hinted = "{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":{\"tools\":[],\"cacheScope\":\"private\"}}";
        CHECK(mcp_listfilter_json(pool, &lf, hinted, strlen(hinted), &n, &unreadable) == NULL && !unreadable,
              "a list that is private already: untouched");
    }
    out = sse_through(&lf, "data: {\"tools\": [\xff]}\n\ndata: {\"a\":1}\n\n", 4, 65536);
    CHECK(strstr(out, "not JSON") && strstr(out, "data: {\"a\":1}"), "SSE: an event that is not JSON is dropped, the next passes");
}

void mcp_listfilter_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_listfilter();
    apr_pool_destroy(pool);
}
