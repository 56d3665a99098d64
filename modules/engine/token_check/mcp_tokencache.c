#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <openssl/evp.h>

#include "mcp_digest.h"
#include "mcp_tokencache.h"

typedef struct slot {
    unsigned char key[MCP_TOKENCACHE_KEY_LEN];
    apr_time_t generation;
    apr_time_t expires;       /* 0: empty */
    mcp_tc_result_t result;
    json_t *payload;          /* VALID, small payloads: one reference owned by the slot */
    char *payload_text;       /* VALID, large payloads: malloc'ed compact JSON */
    char alg[8];
    char *kid;                /* malloc'ed copy, or NULL */
    char *typ;                /* malloc'ed copy, or NULL */
    apr_time_t stored;        /* for replacing the oldest way of a full set */
    apr_uint32_t cost;        /* bytes counted against the budget */
} slot_t;

/* A parsed payload takes several times its text in memory (and many times
 * for one made of small arrays); above this size the text is kept instead
 * and parsed again on a hit, still far cheaper than a signature check. */
#define TREE_MAX_PAYLOAD 2048
#define SLOT_OVERHEAD 64

/* Sets of WAYS slots: direct-mapped, a thousand live tokens in 2,048 slots
 * had four in ten sharing a slot with another and pushing it out on every
 * turn, which sent them back to the signature check. Sets are guarded in
 * stripes: with dozens of worker threads a single lock had them queueing
 * (and sleeping in futex) on every request. */
#define WAYS 4
#define LOCK_STRIPES 16

/* A token takes the place of a live entry only when it was seen before
 * (the "doorkeeper" of TinyLFU admission): a stream of tokens each used once,
 * or a flood of forged ones, does not push out the tokens in use, and a
 * process does not free a cold tree of claims on every such request. The
 * memory is a fingerprint a slot, eight slots per cache slot. */
#define SEEN_PER_SLOT 8

struct mcp_tokencache {
    apr_thread_mutex_t *mutex[LOCK_STRIPES];
    slot_t *slots;
    unsigned nslots;
    unsigned nsets;
    volatile apr_uint32_t *seen;  /* fingerprints of tokens turned away once */
    unsigned nseen;
    apr_uint32_t budget;          /* bytes of payloads one process may hold */
    volatile apr_uint32_t bytes;  /* held now (atomic; sets are locked in stripes) */
    volatile apr_uint32_t sweep;  /* the next set checked for expired entries */
};

/* Frees what a slot (taken out of the table) owns. */
static void release_slot(slot_t *s)
{
    json_decref(s->payload);
    free(s->payload_text);
    free(s->kid);
    free(s->typ);
}

/* Empties a slot in the table (its set locked): the bytes go back to the
 * budget at once, the memory after the unlock through *old. */
static void empty_slot(mcp_tokencache_t *tc, slot_t *s, slot_t *old)
{
    *old = *s;
    if (s->cost)
        apr_atomic_sub32(&tc->bytes, s->cost);
    memset(s, 0, sizeof(*s));
}

static apr_thread_mutex_t *lock_of(mcp_tokencache_t *tc, const slot_t *set)
{
    return tc->mutex[(unsigned)(set - tc->slots) / WAYS % LOCK_STRIPES];
}

static apr_status_t destroy(void *data)
{
    mcp_tokencache_t *tc = data;
    unsigned i;

    for (i = 0; i < tc->nslots; i++)
        release_slot(&tc->slots[i]);
    return APR_SUCCESS;
}

apr_status_t mcp_tokencache_create(mcp_tokencache_t **out, apr_pool_t *pool, unsigned slots,
                                   apr_size_t budget)
{
    mcp_tokencache_t *tc = apr_pcalloc(pool, sizeof(*tc));
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; i < LOCK_STRIPES && rv == APR_SUCCESS; i++)
        rv = apr_thread_mutex_create(&tc->mutex[i], APR_THREAD_MUTEX_DEFAULT, pool);

    tc->nsets = slots > WAYS ? slots / WAYS : 1;
    tc->nslots = tc->nsets * WAYS;
    tc->slots = apr_pcalloc(pool, sizeof(slot_t) * tc->nslots);
    tc->nseen = tc->nslots * SEEN_PER_SLOT;
    tc->seen = apr_pcalloc(pool, sizeof(*tc->seen) * tc->nseen);
    tc->budget = budget > APR_UINT32_MAX ? APR_UINT32_MAX : (apr_uint32_t)budget;
    apr_pool_cleanup_register(pool, tc, destroy, apr_pool_cleanup_null);
    *out = tc;
    return rv;
}

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); /* once: a fetch by name takes OpenSSL's locks */
}

void mcp_tokencache_key(const char *token, apr_size_t len, const void *scope,
                        unsigned char key[MCP_TOKENCACHE_KEY_LEN])
{
    unsigned int n = 0;

    pthread_once(&sha256_once, fetch_sha256);
    if (!mcp_digest(sha256, token, len, &scope, sizeof(scope), key, &n) || n != MCP_TOKENCACHE_KEY_LEN)
        memset(key, 0, MCP_TOKENCACHE_KEY_LEN); /* an all-zero key never matches a stored one */
}

static int usable_key(const unsigned char *key)
{
    static const unsigned char zero[MCP_TOKENCACHE_KEY_LEN];

    return memcmp(key, zero, MCP_TOKENCACHE_KEY_LEN) != 0;
}

/* The key is a uniform hash already: its first bytes pick the set. */
static slot_t *set_for(mcp_tokencache_t *tc, const unsigned char *key)
{
    unsigned idx;

    memcpy(&idx, key, sizeof(idx));
    return &tc->slots[idx % tc->nsets * WAYS];
}

static slot_t *way_holding(slot_t *set, const unsigned char *key)
{
    int w;

    for (w = 0; w < WAYS; w++) {
        if (set[w].expires && memcmp(set[w].key, key, MCP_TOKENCACHE_KEY_LEN) == 0)
            return &set[w];
    }
    return NULL;
}

/* The way a new entry goes to: the key's own, an empty or expired one, else
 * the one stored longest ago. */
static slot_t *way_for_store(slot_t *set, const unsigned char *key, apr_time_t now)
{
    slot_t *s = way_holding(set, key), *oldest = &set[0];
    int w;

    if (s)
        return s;
    for (w = 0; w < WAYS; w++) {
        if (set[w].expires <= now)
            return &set[w];
        if (set[w].stored < oldest->stored)
            oldest = &set[w];
    }
    return oldest;
}

/* True when the key was turned away before (its fingerprint is in place);
 * otherwise leaves its fingerprint for the next time. Races between threads
 * only move an admission by one sighting. */
static int seen_before(mcp_tokencache_t *tc, const unsigned char *key)
{
    apr_uint32_t idx, fp;

    memcpy(&idx, key + 4, sizeof(idx));
    memcpy(&fp, key + 8, sizeof(fp));
    fp |= 1; /* 0 is an empty slot */
    idx %= tc->nseen;
    if (apr_atomic_read32(&tc->seen[idx]) == fp)
        return 1;
    apr_atomic_set32(&tc->seen[idx], fp);
    return 0;
}

/* Whether a new entry for key may go in: always into a free, expired or its
 * own way; in place of a live entry only when seen before. */
static int admitted(mcp_tokencache_t *tc, const unsigned char *key, apr_time_t now)
{
    slot_t *set = set_for(tc, key), *s;
    int displaces;

    apr_thread_mutex_lock(lock_of(tc, set));
    s = way_for_store(set, key, now);
    displaces = s->expires > now && memcmp(s->key, key, MCP_TOKENCACHE_KEY_LEN) != 0;
    apr_thread_mutex_unlock(lock_of(tc, set));
    return !displaces || seen_before(tc, key);
}

mcp_tc_result_t mcp_tokencache_lookup(mcp_tokencache_t *tc, const unsigned char *key,
                                      apr_time_t keys_generation, apr_pool_t *rpool, mcp_jwt_t **jwt)
{
    slot_t *set, *s, old = { { 0 } };
    mcp_tc_result_t result = MCP_TC_MISS;
    json_t *payload = NULL;
    const char *kid = NULL, *alg = NULL, *text = NULL, *typ = NULL;

    if (!usable_key(key))
        return MCP_TC_MISS;
    set = set_for(tc, key);
    apr_thread_mutex_lock(lock_of(tc, set));
    s = way_holding(set, key);
    if (s && s->expires <= apr_time_now())
        empty_slot(tc, s, &old);
    else if (s && s->generation == keys_generation) {
        result = s->result;
        if (result == MCP_TC_VALID) {
            payload = s->payload ? json_incref(s->payload) : NULL;
            text = s->payload_text ? apr_pstrdup(rpool, s->payload_text) : NULL;
            alg = apr_pstrdup(rpool, s->alg);
            kid = s->kid ? apr_pstrdup(rpool, s->kid) : NULL;
            typ = s->typ ? apr_pstrdup(rpool, s->typ) : NULL;
        }
    }
    apr_thread_mutex_unlock(lock_of(tc, set));
    release_slot(&old);
    if (result == MCP_TC_VALID && text)
        payload = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (result == MCP_TC_VALID && payload == NULL)
        return MCP_TC_MISS;
    if (result == MCP_TC_VALID)
        *jwt = mcp_jwt_verified(rpool, payload, alg, kid, typ);
    return result;
}

/* Empties the expired ways of one set, round robin: the budget is not held
 * by tokens that expired in sets no request touches again. */
static void sweep_one_set(mcp_tokencache_t *tc, apr_time_t now)
{
    slot_t *set = &tc->slots[apr_atomic_inc32(&tc->sweep) % tc->nsets * WAYS], old[WAYS];
    int w;

    memset(old, 0, sizeof(old));
    apr_thread_mutex_lock(lock_of(tc, set));
    for (w = 0; w < WAYS; w++) {
        if (set[w].expires && set[w].expires <= now)
            empty_slot(tc, &set[w], &old[w]);
    }
    apr_thread_mutex_unlock(lock_of(tc, set));
    for (w = 0; w < WAYS; w++)
        release_slot(&old[w]);
}

/* What jansson allocates for a tree, roughly (its nodes, hashtable slots
 * and strings): counted node by node, so a payload of many small arrays is
 * not taken for a cheap one. Verified payloads are at most 16 deep. */
static apr_size_t tree_cost(json_t *v)
{
    const char *k;
    json_t *e;
    size_t i;
    apr_size_t cost = 48;

    if (json_is_object(v)) {
        json_object_foreach(v, k, e)
            cost += 64 + strlen(k) + tree_cost(e);
    }
    else if (json_is_array(v)) {
        json_array_foreach(v, i, e)
            cost += 8 + tree_cost(e);
    }
    else if (json_is_string(v)) {
        cost += json_string_length(v);
    }
    return cost;
}

static void store(mcp_tokencache_t *tc, const unsigned char *key, apr_time_t generation,
                  apr_time_t expires, mcp_tc_result_t result, json_t *payload, apr_size_t payload_size,
                  const char *alg, const char *kid, const char *typ)
{
    slot_t *set, *s, old = { { 0 } };
    apr_time_t now = apr_time_now();
    char *text = NULL;
    apr_size_t cost = SLOT_OVERHEAD + (kid ? strlen(kid) : 0) + (typ ? strlen(typ) : 0);
    int fits;

    if (!usable_key(key) || expires <= now || !admitted(tc, key, now))
        return;
    if (payload && payload_size > TREE_MAX_PAYLOAD) {
        if ((text = json_dumps(payload, JSON_COMPACT)) == NULL)
            return;
        cost += strlen(text);
        payload = NULL;
    }
    else if (payload) {
        cost += tree_cost(payload);
    }
    set = set_for(tc, key);
    apr_thread_mutex_lock(lock_of(tc, set));
    s = way_for_store(set, key, now);
    /* over the budget, an entry only takes the place of one as large */
    fits = apr_atomic_read32(&tc->bytes) - s->cost + cost <= tc->budget;
    if (fits) {
        empty_slot(tc, s, &old);   /* freed after the unlock: a JSON tree takes a while */
        memcpy(s->key, key, MCP_TOKENCACHE_KEY_LEN);
        s->generation = generation;
        s->expires = expires;
        s->stored = now;
        s->result = result;
        s->payload = payload ? json_incref(payload) : NULL;
        s->payload_text = text;
        if (alg)
            apr_cpystrn(s->alg, alg, sizeof(s->alg));
        s->kid = kid ? strdup(kid) : NULL;
        s->typ = typ ? strdup(typ) : NULL;
        s->cost = (apr_uint32_t)cost;
        apr_atomic_add32(&tc->bytes, s->cost);
    }
    apr_thread_mutex_unlock(lock_of(tc, set));
    release_slot(&old);
    if (!fits)
        free(text);
    sweep_one_set(tc, now);
}

apr_size_t mcp_tokencache_bytes(mcp_tokencache_t *tc)
{
    return apr_atomic_read32(&tc->bytes);
}

void mcp_tokencache_store_valid(mcp_tokencache_t *tc, const unsigned char *key,
                                apr_time_t keys_generation, const mcp_jwt_t *jwt,
                                apr_interval_time_t max_age)
{
    apr_time_t expires = apr_time_now() + max_age;
    json_t *exp = json_object_get(mcp_jwt_claims(jwt), "exp");
    double exp_sec = json_is_number(exp) ? json_number_value(exp) : 0;

    /* never past the token's own exp; the claims are not checked yet, so a
     * hostile exp (1e300) must not reach the integer conversion */
    if (exp_sec > 0 && exp_sec < (double)apr_time_sec(expires)
        && apr_time_from_sec((apr_time_t)exp_sec) < expires)
        expires = apr_time_from_sec((apr_time_t)exp_sec);
    store(tc, key, keys_generation, expires, MCP_TC_VALID, mcp_jwt_claims(jwt), mcp_jwt_payload_size(jwt),
          mcp_jwt_alg(jwt), mcp_jwt_kid(jwt), mcp_jwt_typ(jwt));
}

void mcp_tokencache_store_bad(mcp_tokencache_t *tc, const unsigned char *key,
                              apr_time_t keys_generation, apr_interval_time_t max_age)
{
    store(tc, key, keys_generation, apr_time_now() + max_age, MCP_TC_BAD_SIGNATURE, NULL, 0, NULL, NULL, NULL);
}
