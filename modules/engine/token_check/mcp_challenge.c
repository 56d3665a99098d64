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

static const char *header_text(apr_pool_t *pool, const mcp_challenge_t *c)
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

/* The refusals a thread wrote last, with what they were made of: a location
 * refuses with a few over and over (a flood of forged tokens, one), and
 * writing one (its header quoted character by character, its body through
 * jansson) costs more than the rest of the refusal. Per thread, no lock;
 * freed when the thread ends. Callers get copies in their pool: one request
 * may refuse several times (an ErrorDocument) and push a memo out. */
#define REFUSAL_MEMO_SLOTS 4
typedef struct refusal_memo {
    mcp_challenge_t made_of; /* its strings malloc'ed */
    int in_use;
    char *header;            /* each NULL until asked for */
    char *body;
} refusal_memo_t;
typedef struct refusal_memos {
    refusal_memo_t slot[REFUSAL_MEMO_SLOTS];
    unsigned next;
} refusal_memos_t;

static void empty_memo(refusal_memo_t *m)
{
    free((char *)m->made_of.resource_metadata);
    free((char *)m->made_of.error);
    free((char *)m->made_of.description);
    free((char *)m->made_of.scope);
    free((char *)m->made_of.dpop_algs);
    free(m->header);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

static void release_refusal_memos(void *data)
{
    refusal_memos_t *memos = data;
    int i;

    for (i = 0; i < REFUSAL_MEMO_SLOTS; i++)
        empty_memo(&memos->slot[i]);
    free(memos);
}

static mcp_thread_state_t refusal_memo_states = MCP_THREAD_STATE(sizeof(refusal_memos_t), release_refusal_memos);
static __thread void *refusal_memos;

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_challenge(const mcp_challenge_t *a, const mcp_challenge_t *b)
{
    return same(a->resource_metadata, b->resource_metadata) && same(a->error, b->error)
           && same(a->description, b->description) && same(a->scope, b->scope)
           && same(a->dpop_algs, b->dpop_algs) && a->no_bearer == b->no_bearer
           && a->error_in_dpop == b->error_in_dpop;
}

/* A copy of s, NULL for NULL; sets *failed when out of memory. */
static const char *kept(const char *s, int *failed)
{
    char *copy = s ? strdup(s) : NULL;

    if (s && copy == NULL)
        *failed = 1;
    return copy;
}

/* This thread's memo of c: found, or made in the place of the oldest; NULL
 * without memory. */
static refusal_memo_t *memo_of(const mcp_challenge_t *c)
{
    refusal_memos_t *memos = mcp_thread_state(&refusal_memo_states, &refusal_memos);
    refusal_memo_t *m;
    int i, failed = 0;

    for (i = 0; memos && i < REFUSAL_MEMO_SLOTS; i++) {
        m = &memos->slot[i];
        if (m->in_use && same_challenge(&m->made_of, c))
            return m;
    }
    if (memos == NULL)
        return NULL;
    m = &memos->slot[memos->next++ % REFUSAL_MEMO_SLOTS];
    empty_memo(m);
    m->made_of = *c;
    m->made_of.resource_metadata = kept(c->resource_metadata, &failed);
    m->made_of.error = kept(c->error, &failed);
    m->made_of.description = kept(c->description, &failed);
    m->made_of.scope = kept(c->scope, &failed);
    m->made_of.dpop_algs = kept(c->dpop_algs, &failed);
    if (failed) {
        empty_memo(m);
        return NULL;
    }
    m->in_use = 1;
    return m;
}

const char *mcp_challenge_header(apr_pool_t *pool, const mcp_challenge_t *c)
{
    refusal_memo_t *m = memo_of(c);
    const char *text;

    if (m && m->header)
        return apr_pstrdup(pool, m->header);
    text = header_text(pool, c);
    if (m)
        m->header = strdup(text); /* NULL: made again next time */
    return text;
}

const char *mcp_challenge_body(apr_pool_t *pool, const mcp_challenge_t *c)
{
    refusal_memo_t *m = memo_of(c);
    char *text;
    const char *copy;

    if (m && m->body)
        return apr_pstrdup(pool, m->body);
    text = body_text(c->error ? c->error : "unauthorized",
                     c->description ? c->description : "a Bearer access token is required", c->resource_metadata);
    if (text == NULL)
        return "{}";
    copy = apr_pstrdup(pool, text);
    if (m)
        m->body = text;
    else
        free(text);
    return copy;
}
