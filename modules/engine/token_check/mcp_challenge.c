#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_challenge.h"
#include "mcp_thread_state.h"

/* error_description / scope: %x20-21 / %x23-5B / %x5D-7E; anything else,
 * including '"' and '\', becomes '?'. */
static const char *quotable(apr_pool_t *pool, const char *s)
{
    char *out = apr_pstrdup(pool, s), *p;

    for (p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            *p = '?';
    }
    return out;
}

/* One scheme's challenge; with_error: its error parameters too. */
static const char *challenge(apr_pool_t *pool, const mcp_challenge_t *c, const char *scheme, int with_error)
{
    const char *h = apr_pstrcat(pool, scheme, " resource_metadata=\"", quotable(pool, c->resource_metadata), "\"", NULL);

    if (strcmp(scheme, "DPoP") == 0)
        h = apr_pstrcat(pool, h, ", algs=\"", quotable(pool, c->dpop_algs), "\"", NULL);
    if (!with_error)
        return h;
    if (c->error)
        h = apr_pstrcat(pool, h, ", error=\"", quotable(pool, c->error), "\"", NULL);
    if (c->error && c->description)
        h = apr_pstrcat(pool, h, ", error_description=\"", quotable(pool, c->description), "\"", NULL);
    if (c->scope && *c->scope)
        h = apr_pstrcat(pool, h, ", scope=\"", quotable(pool, c->scope), "\"", NULL);
    return h;
}

const char *mcp_challenge_header(apr_pool_t *pool, const mcp_challenge_t *c)
{
    int dpop = c->dpop_algs != NULL, bearer = !(dpop && c->no_bearer);
    int error_in_dpop = dpop && (c->error_in_dpop || !bearer);

    /* Bearer first: clients that read only the first challenge find the
     * metadata there (RFC 9728 §5.1) */
    if (bearer && dpop)
        return apr_pstrcat(pool, challenge(pool, c, "Bearer", !error_in_dpop), ", ",
                           challenge(pool, c, "DPoP", error_in_dpop), NULL);
    return challenge(pool, c, bearer ? "Bearer" : "DPoP", 1);
}

static char *body_text(const char *error, const char *description, const char *resource_metadata)
{
    json_t *doc = json_object();
    char *text;

    json_object_set_new(doc, "error", json_string(error));
    json_object_set_new(doc, "error_description", json_string(description));
    if (resource_metadata)
        json_object_set_new(doc, "resource_metadata", json_string(resource_metadata));
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    return text;
}

/* The bodies a thread wrote last, with what they were made of: a location
 * refuses with a few bodies over and over (a flood of forged tokens, one),
 * and writing one through jansson costs more than the rest of the refusal.
 * Per thread, no lock; freed when the thread ends. */
#define BODY_MEMO_SLOTS 4
typedef struct body_memo {
    char *error, *description, *resource_metadata, *text;
} body_memo_t;
typedef struct body_memos {
    body_memo_t slot[BODY_MEMO_SLOTS];
    unsigned next;
} body_memos_t;
static void empty_memo(body_memo_t *m)
{
    free(m->error);
    free(m->description);
    free(m->resource_metadata);
    free(m->text);
    memset(m, 0, sizeof(*m));
}

static void release_body_memos(void *data)
{
    body_memos_t *memos = data;
    int i;

    for (i = 0; i < BODY_MEMO_SLOTS; i++)
        empty_memo(&memos->slot[i]);
    free(memos);
}

static mcp_thread_state_t body_memo_states = MCP_THREAD_STATE(sizeof(body_memos_t), release_body_memos);
static __thread void *body_memos;

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

const char *mcp_challenge_body(apr_pool_t *pool, const mcp_challenge_t *c)
{
    const char *error = c->error ? c->error : "unauthorized";
    const char *description = c->description ? c->description : "a Bearer access token is required";
    body_memos_t *memos = mcp_thread_state(&body_memo_states, &body_memos);
    body_memo_t *m;
    char *text;
    const char *copy;
    int i;

    for (i = 0; memos && i < BODY_MEMO_SLOTS; i++) {
        m = &memos->slot[i];
        if (m->text && same(m->error, error) && same(m->description, description)
            && same(m->resource_metadata, c->resource_metadata))
            return apr_pstrdup(pool, m->text);
    }
    if ((text = body_text(error, description, c->resource_metadata)) == NULL)
        return "{}";
    copy = apr_pstrdup(pool, text);
    if (memos == NULL) {
        free(text);
        return copy;
    }
    m = &memos->slot[memos->next++ % BODY_MEMO_SLOTS];
    empty_memo(m);
    m->error = strdup(error);
    m->description = strdup(description);
    m->resource_metadata = c->resource_metadata ? strdup(c->resource_metadata) : NULL;
    m->text = text;
    if (m->error == NULL || m->description == NULL || (c->resource_metadata && m->resource_metadata == NULL))
        empty_memo(m); /* never matched */
    return copy;
}
