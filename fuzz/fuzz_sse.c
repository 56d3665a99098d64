/* libFuzzer target: the input is an SSE stream (first byte: the size of the
 * reads it arrives in) through the list filter. Invariants: the output does not depend on how
 * the stream was cut into reads; no event in it answers id 1 with a tool
 * named "secret"; an event too large is dropped, never passed on. */
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "fuzz_common.h"
#include "mcp_listfilter.h"

#define MAX_EVENT 4096

static int visible(void *ctx, mcp_kind_t kind, const char *name)
{
    (void)ctx;
    (void)kind;
    return strcmp(name, "secret") != 0;
}

typedef struct {
    char *buf;
    size_t len;
} sink_t;

static void sink(void *ctx, const char *d, apr_size_t n)
{
    sink_t *s = ctx;

    s->buf = realloc(s->buf, s->len + n + 1);
    FUZZ_CHECK(s->buf != NULL);
    memcpy(s->buf + s->len, d, n);
    s->len += n;
}

static sink_t run(const mcp_listfilter_t *lf, const char *in, size_t n, size_t step)
{
    apr_pool_t *p = fuzz_subpool();
    sink_t out = { NULL, 0 };
    mcp_sse_filter_t *f = mcp_sse_filter_create(p, lf, MAX_EVENT, sink, &out);
    size_t i;

    for (i = 0; i < n; i += step)
        mcp_sse_filter_feed(f, in + i, n - i < step ? n - i : step);
    mcp_sse_filter_finish(f);
    apr_pool_destroy(p);
    return out;
}

/* The hidden tool in a list answer to id 1, as a client reads the stream:
 * an event's data lines joined by "\n", then parsed as JSON. */
static void check_message(const char *data, size_t n)
{
    json_t *msg = json_loadb(data, n, 0, NULL);
    json_t *tools = json_object_get(json_object_get(msg, "result"), "tools");
    size_t i;

    if (json_is_integer(json_object_get(msg, "id")) && json_integer_value(json_object_get(msg, "id")) == 1) {
        for (i = 0; json_is_array(tools) && i < json_array_size(tools); i++) {
            json_t *name = json_object_get(json_array_get(tools, i), "name");

            FUZZ_CHECK(!json_is_string(name) || strcmp(json_string_value(name), "secret") != 0);
        }
    }
    json_decref(msg);
}

static void check_events(const char *out, size_t n)
{
    char *data = malloc(n + 1);
    size_t dlen = 0, i = 0, start;
    int has_data = 0;

    FUZZ_CHECK(data != NULL);
    while (i <= n) {
        size_t len;

        start = i;
        while (i < n && out[i] != '\r' && out[i] != '\n')
            i++;
        len = i - start;
        if (i < n)
            i += out[i] == '\r' && i + 1 < n && out[i + 1] == '\n' ? 2 : 1;
        else
            i = n + 1;
        if (len == 0) {
            /* a blank line (or the end) dispatches the event */
            if (has_data)
                check_message(data, dlen);
            dlen = 0;
            has_data = 0;
            continue;
        }
        if (len >= 5 && memcmp(out + start, "data:", 5) == 0) {
            size_t skip = 5 + (len > 5 && out[start + 5] == ' ');

            if (has_data)
                data[dlen++] = '\n';
            memcpy(data + dlen, out + start + skip, len - skip);
            dlen += len - skip;
            has_data = 1;
        }
    }
    free(data);
}

FUZZ_INIT_APR_ONLY

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mcp_listfilter_t lf = { .visible = visible };
    sink_t whole, pieces;
    size_t step;

    if (size < 1)
        return 0;
    step = 1 + data[0] % 17;
    whole = run(&lf, (const char *)data + 1, size - 1, size);
    pieces = run(&lf, (const char *)data + 1, size - 1, step);
    FUZZ_CHECK(whole.len == pieces.len && (whole.len == 0 || memcmp(whole.buf, pieces.buf, whole.len) == 0));
    if (whole.len)
        check_events(whole.buf, whole.len);
    free(whole.buf);
    free(pieces.buf);
    return 0;
}
