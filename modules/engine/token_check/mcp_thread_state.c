#include <stdlib.h>

#include "mcp_thread_state.h"

/* pthread_once passes no argument, so one lock makes the keys of all states */
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;

static void make_key(mcp_thread_state_t *state)
{
    if (__atomic_load_n(&state->ready, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&keys_lock);
    if (!state->ready) {
        state->key_made = pthread_key_create(&state->key, state->release) == 0;
        __atomic_store_n(&state->ready, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&keys_lock);
}

void *mcp_thread_state(mcp_thread_state_t *state, void **mine)
{
    if (*mine == NULL) {
        make_key(state);
        *mine = calloc(1, state->size);
        if (*mine && state->key_made)
            pthread_setspecific(state->key, *mine); /* for the release at the thread's end */
    }
    return *mine;
}
