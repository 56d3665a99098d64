/* Unit tests of mcp_docstore: documents at URLs clients choose stay bounded
 * per process, and are kept apart by how they were fetched. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_time.h>

#include "mcp_docstore.h"
#include "mcp_fetch.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

/* A loopback HTTP server that answers every request with one small JSON
 * document, and counts the requests. */
static apr_socket_t *doc_listener;
static volatile apr_uint32_t doc_requests;

static void *APR_THREAD_FUNC doc_server(apr_thread_t *thread, void *data)
{
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Cache-Control: max-age=300\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    apr_pool_t *p;
    apr_socket_t *conn;

    (void)data;
    apr_pool_create(&p, NULL);
    while (apr_socket_accept(&conn, doc_listener, p) == APR_SUCCESS) {
        char buf[2048];
        apr_size_t n, got = 0, len;

        /* the request head, then the answer */
        while (got < sizeof(buf) - 1 && (n = sizeof(buf) - 1 - got, apr_socket_recv(conn, buf + got, &n) == APR_SUCCESS)) {
            got += n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        apr_atomic_inc32(&doc_requests);
        len = sizeof(answer) - 1;
        apr_socket_send(conn, answer, &len);
        apr_socket_close(conn);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static int parsed_docs;

static void *parse_any(apr_pool_t *p, const char *body, apr_size_t len, const void *ctx, const char **err)
{
    (void)ctx;
    (void)err;
    parsed_docs++;
    return apr_pstrmemdup(p, body, len);
}

/* The document is the name it was asked for under: which entry answered. */
static void *parse_named(apr_pool_t *p, const char *body, apr_size_t len, const void *ctx, const char **err)
{
    (void)body;
    (void)len;
    (void)err;
    return apr_pstrdup(p, ctx);
}

static const char *named(mcp_docstore_t *store, const char *url, const char *name, mcp_doc_parse_fn parse,
                         const mcp_doc_policy_t *policy)
{
    const char *err;
    const mcp_doc_t *doc = mcp_docstore_get(store, url, parse, name, policy, 0, pool, &err);

    return doc ? doc->parsed : "(none)";
}

/* A thread remembers the entries it found last: whatever it asks for next
 * must still be the entry of that URL, parser and kind, also after the
 * entries it remembers were evicted and freed. */
static void test_docstore_recall(const char *base, mcp_doc_policy_t *policy)
{
    mcp_docstore_t *store;
    const char *url[6];
    apr_uint32_t fetched;
    int i, round, right = 1;

    mcp_docstore_create(&store, pool, NULL);
    for (i = 0; i < 6; i++)
        url[i] = apr_psprintf(pool, "%s/r%d", base, i);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 6; i++)
            right &= strcmp(named(store, url[i], url[i], parse_named, policy), url[i]) == 0;
        /* one URL back and forth, as a key set and a metadata document are */
        for (i = 0; i < 4; i++)
            right &= strcmp(named(store, url[i % 2], url[i % 2], parse_named, policy), url[i % 2]) == 0;
    }
    CHECK(right, "docstore: six URLs asked for in turn, and two back and forth, each answered by its own entry");
    CHECK(strcmp(named(store, url[0], "other parser", parse_any, policy), "{}") == 0
              && strcmp(named(store, url[0], url[0], parse_named, policy), url[0]) == 0,
          "docstore: the same URL with another parser is another entry, both ways");
    policy->kind = MCP_DOC_JWKS;
    CHECK(strcmp(named(store, url[0], "keys", parse_named, policy), "keys") == 0, "docstore: ... and of another kind too");
    policy->kind = NULL;

    /* a limit of 2: the third URL evicts and frees the two remembered entries */
    mcp_docstore_create(&store, pool, NULL);
    mcp_docstore_limit(store, 2);
    named(store, url[0], "a", parse_named, policy);
    named(store, url[1], "b", parse_named, policy);
    named(store, url[2], "c", parse_named, policy);
    fetched = doc_requests;
    CHECK(strcmp(named(store, url[0], "a again", parse_named, policy), "a again") == 0 && doc_requests == fetched + 1,
          "docstore: an entry remembered, then evicted, is not recalled: the document is fetched again");
}

static void test_docstore_limit(void)
{
    apr_sockaddr_t *sa;
    apr_thread_t *thread;
    apr_status_t rv;
    mcp_docstore_t *store;
    mcp_doc_policy_t policy;
    const mcp_doc_t *kept;
    const char *err, *base;
    apr_pool_t *held;
    int i;

    mcp_fetch_global_init();
    apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0, 0, pool);
    apr_socket_create(&doc_listener, APR_INET, SOCK_STREAM, APR_PROTO_TCP, pool);
    apr_socket_bind(doc_listener, sa);
    apr_socket_listen(doc_listener, 16);
    apr_socket_addr_get(&sa, APR_LOCAL, doc_listener);
    base = apr_psprintf(pool, "http://127.0.0.1:%d/doc", sa->port);
    apr_thread_create(&thread, NULL, doc_server, NULL, pool);

    memset(&policy, 0, sizeof(policy));
    policy.refresh_min = policy.refresh_max = apr_time_from_sec(300);
    policy.max_stale = apr_time_from_sec(300);
    policy.fetch.connect_timeout_ms = 5000;
    policy.fetch.timeout_ms = 10000;
    policy.fetch.max_bytes = 1024;

    mcp_docstore_create(&store, pool, NULL);
    mcp_docstore_limit(store, 2);
    apr_pool_create(&held, pool);
    kept = mcp_docstore_get(store, apr_pstrcat(pool, base, "/a", NULL), parse_any, NULL, &policy, 0, held, &err);
    CHECK(kept && strcmp(kept->parsed, "{}") == 0, "docstore: a document fetched and parsed");
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/b", NULL), parse_any, NULL, &policy, 0, pool, &err);
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/a", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 2 && parsed_docs == 2, "docstore: a fresh document is served from the process, not fetched again");
    for (i = 0; i < 50; i++)
        mcp_docstore_get(store, apr_psprintf(pool, "%s/n%d", base, i), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 52, "docstore: 50 more URLs, 50 more fetches");
    CHECK(kept && strcmp(kept->parsed, "{}") == 0,
          "docstore: a document a request still holds outlives its eviction");
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/a", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 53, "docstore with a limit of 2: the first document was dropped (fetched again, no shared cache here)");
    apr_pool_destroy(held);

    mcp_docstore_create(&store, pool, NULL);
    rv = APR_SUCCESS;
    for (i = 0; i < 5; i++)
        mcp_docstore_get(store, apr_psprintf(pool, "%s/u%d", base, i), parse_any, NULL, &policy, 0, pool, &err);
    mcp_docstore_get(store, apr_pstrcat(pool, base, "/u0", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(doc_requests == 58, "docstore without a limit: every document is kept");

    /* a copy fetched where private addresses are allowed is not one where they are not */
    policy.fetch.public_only = 1;
    kept = mcp_docstore_get(store, apr_pstrcat(pool, base, "/u0", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(kept == NULL && doc_requests == 58,
          "docstore: a loopback document held for a lax lookup is not served to a public-only one (nor fetched)");
    policy.fetch.public_only = 0;
    kept = mcp_docstore_get(store, apr_pstrcat(pool, base, "/u0", NULL), parse_any, NULL, &policy, 0, pool, &err);
    CHECK(kept != NULL && doc_requests == 58, "docstore: and the public-only refusal does not block the lax lookup");

    test_docstore_recall(base, &policy);

    apr_socket_shutdown(doc_listener, APR_SHUTDOWN_READWRITE);
    apr_socket_close(doc_listener);
    apr_thread_join(&rv, thread);
}

void mcp_docstore_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_docstore_limit();
    apr_pool_destroy(pool);
}
