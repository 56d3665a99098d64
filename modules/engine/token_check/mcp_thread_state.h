/* Objects a thread keeps between requests (memos, OpenSSL contexts): made on
 * the thread's first use, released when the thread ends, as mod_http2 ends
 * its idle workers. */
#ifndef MCP_THREAD_STATE_H
#define MCP_THREAD_STATE_H

#include <stddef.h>
#include <pthread.h>

typedef struct mcp_thread_state {
    size_t size;               /* of one thread's object, made zeroed */
    void (*release)(void *);   /* frees what the object holds, then the object */
    pthread_key_t key;
    int ready;                 /* the key was tried for */
    int key_made;
} mcp_thread_state_t;

#define MCP_THREAD_STATE(size, release) { (size), (release), 0, 0, 0 }

/* This thread's object, kept in *mine (a __thread pointer of the caller's);
 * NULL when out of memory. Should the process have no thread key left, the
 * object still serves, and is not released when the thread ends. */
void *mcp_thread_state(mcp_thread_state_t *state, void **mine);

#endif
