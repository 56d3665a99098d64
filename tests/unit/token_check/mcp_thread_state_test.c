/* Unit tests of mcp_thread_state: one object a thread, made on first use,
 * released when its thread ends. */

#include <stdlib.h>
#include <string.h>

#include <apr_thread_proc.h>

#include "mcp_thread_state.h"
#include "unit.h"
#include "unit_files.h"

typedef struct counted {
    int uses;
} counted_t;

static int released;
static pthread_mutex_t released_lock = PTHREAD_MUTEX_INITIALIZER;

static void release_counted(void *data)
{
    pthread_mutex_lock(&released_lock);
    released++;
    pthread_mutex_unlock(&released_lock);
    free(data);
}

static mcp_thread_state_t counted_state = MCP_THREAD_STATE(sizeof(counted_t), release_counted);
static __thread void *mine;

/* Three uses in one thread: one object, counted up. */
static void *APR_THREAD_FUNC use_three_times(apr_thread_t *thread, void *data)
{
    counted_t *first = mcp_thread_state(&counted_state, &mine), *c;
    int i, *same = data;

    *same = first != NULL;
    for (i = 0; i < 3; i++) {
        c = mcp_thread_state(&counted_state, &mine);
        *same = *same && c == first;
        if (c)
            c->uses++;
    }
    *same = *same && first->uses == 3;
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static void test_thread_state(apr_pool_t *pool)
{
    apr_thread_t *threads[6];
    int same[6], i, all_same = 1;
    apr_status_t rv;
    counted_t *here;

    for (i = 0; i < 6; i++)
        apr_thread_create(&threads[i], NULL, use_three_times, &same[i], pool);
    for (i = 0; i < 6; i++) {
        apr_thread_join(&rv, threads[i]);
        all_same = all_same && same[i];
    }
    CHECK(all_same, "thread state: a thread gets one zeroed object, the same on every use");
    CHECK(released == 6, "thread state: each of six threads' objects is released when its thread ends");
    here = mcp_thread_state(&counted_state, &mine);
    CHECK(here != NULL && here->uses == 0 && released == 6,
          "thread state: this thread's object is its own, made fresh, and lives on");
}

void mcp_thread_state_tests(apr_pool_t *pool)
{
    test_thread_state(pool);
}
