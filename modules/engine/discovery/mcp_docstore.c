#include <stdint.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "mcp_docstore.h"
#include "mcp_metrics.h"
#include "mcp_url.h"

/* What the shared cache holds before the raw body. */
typedef struct doc_envelope {
    apr_uint32_t magic;
    apr_uint32_t body_len;
    apr_int64_t fetched_at;
    apr_int64_t fresh_until;
} doc_envelope_t;

#define ENVELOPE_MAGIC 0x4d435044u /* "MCPD" */

/* A forced (unknown kid) look at the shared copy, per process and document,
 * at most this often: a flood of unknown kids then costs a clock read. A
 * rotation fetched by another process still arrives within this delay. */
#define FORCED_RECHECK apr_time_from_sec(1)

/* The shared copy outlives its stale limit by this much, never to be used
 * (every reader checks the limit) but so that a process that never held it
 * refuses with "expired beyond the stale limit", as the others do, rather
 * than "no copy". */
#define EXPIRED_COPY_KEPT apr_time_from_sec(600)

/* How often a process polls the shared cache while another one fetches. */
#define WAIT_STEP apr_time_from_msec(50)

/* A refetch window claimed this recently may not show its fetch yet: the
 * claimant settles its claim (20 ms on redis), then marks the fetch. */
#define JUST_CLAIMED apr_time_from_msec(200)

/* After a failed fetch nobody retries for this long: an IdP outage costs
 * one outbound request per window, not one per incoming request. */
#define FAILURE_BACKOFF apr_time_from_sec(5)

typedef struct local_doc {
    mcp_doc_t doc;
    apr_pool_t *pool;
    apr_uint32_t refs;
} local_doc_t;

typedef struct local_entry {
    apr_pool_t *pool;         /* the entry's own: an evicted entry goes whole */
    const char *key;
    apr_uint32_t users;       /* calls working with it (under store->mutex) */
    int evicted;              /* out of the table; freed by its last user */
    const char *url;
    const char *body_id, *stamp_id, *fetch_id, *refetch_id, *failed_id;
    apr_time_t forced_at;     /* last forced look at the shared copy */
    local_doc_t *current;
    apr_time_t failed_until;  /* this process's backoff (all it has when the store fails) */
    apr_time_t fetch_until;   /* this process's claims (also the shared ones it won) */
    apr_time_t refetch_until;
    apr_uint32_t waiting;     /* threads waiting for a fetch in flight */
    apr_uint32_t deciding;    /* threads claiming, or fetching what they claimed */
    const char *stats_id;
    mcp_doc_status_t local_stats; /* when there is no shared cache */
} local_entry_t;

/* Fetch statistics as stored in the shared cache. */
typedef struct fetch_stats {
    apr_uint32_t magic;
    apr_uint32_t fetches;
    apr_uint32_t failures;
    apr_int32_t last_ok;
    apr_int64_t last_attempt;
    char last_error[160];
} fetch_stats_t;

#define STATS_MAGIC 0x4d435053u /* "MCPS" */
#define STATS_LIFETIME apr_time_from_sec(30 * 86400)

struct mcp_docstore {
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    apr_hash_t *entries;
    mcp_cache_t *cache;
    unsigned int max_entries; /* 0: no limit */
    apr_uint32_t serial;      /* this store among all made in the process */
    apr_uint32_t evictions;   /* evict_all runs (under mutex) */
};

static apr_uint32_t stores_made;

apr_status_t mcp_docstore_create(mcp_docstore_t **out, apr_pool_t *pool, mcp_cache_t *cache)
{
    mcp_docstore_t *store = apr_pcalloc(pool, sizeof(*store));
    apr_status_t rv;

    store->pool = pool;
    store->cache = cache;
    store->entries = apr_hash_make(pool);
    store->serial = apr_atomic_inc32(&stores_made) + 1;
    rv = apr_thread_mutex_create(&store->mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    *out = store;
    return rv;
}

void mcp_docstore_limit(mcp_docstore_t *store, unsigned int max_entries)
{
    store->max_entries = max_entries;
}

static void doc_release(local_doc_t *ld)
{
    if (ld && apr_atomic_dec32(&ld->refs) == 0)
        apr_pool_destroy(ld->pool);
}

/* Under store->mutex. */
static void entry_free(local_entry_t *e)
{
    doc_release(e->current);
    apr_pool_destroy(e->pool);
}

/* Under store->mutex: makes room for one more entry. Idle entries go at
 * once; busy ones leave the table and go with their last user. URLs that
 * clients choose (metadata documents) must not grow a process without
 * bound: the bodies stay in the shared cache, so what is dropped here costs
 * a re-parse at most. */
static void evict_all(mcp_docstore_t *store)
{
    apr_hash_index_t *hi;

    store->evictions++;
    /* the table's own iterator: the mutex is held */
    for (hi = apr_hash_first(NULL, store->entries); hi; hi = apr_hash_next(hi)) {
        local_entry_t *e = apr_hash_this_val(hi);

        apr_hash_set(store->entries, e->key, APR_HASH_KEY_STRING, NULL);
        e->evicted = 1;
        if (e->users == 0)
            entry_free(e);
    }
}

/* Gives back an entry entry_for handed out. */
static void entry_done(mcp_docstore_t *store, local_entry_t *e)
{
    apr_thread_mutex_lock(store->mutex);
    if (--e->users == 0 && e->evicted)
        entry_free(e);
    apr_thread_mutex_unlock(store->mutex);
}

static apr_status_t doc_release_cleanup(void *data)
{
    doc_release(data);
    return APR_SUCCESS;
}

/* An entry's names: its key in this process's table, and its name in the
 * shared cache. A key set, a discovery document and a client's metadata
 * document at the same URL are three entries, in this process and in the
 * shared cache: a parsed object is only ever handed to code that expects its
 * type, and one kind's failures never delay another's fetch. */
typedef struct entry_name {
    const char *key;
    const char *shared_name;
} entry_name_t;

static entry_name_t name_entry(const char *url, mcp_doc_parse_fn parse, const mcp_doc_policy_t *policy,
                               apr_pool_t *rpool)
{
    static const char hex[] = "0123456789abcdef";
    const char *kind = policy->kind ? policy->kind : "document";
    const char *scope = policy->fetch.public_only ? " public-only " : " ";
    apr_size_t kind_len = strlen(kind), scope_len = strlen(scope), url_len = strlen(url);
    uintptr_t parser = (uintptr_t)parse;
    char *key, *p;
    int i;
    entry_name_t n;

    /* one allocation, no format. The key is the parse function's address
     * in hex, a blank, then the shared name; a copy fetched where private
     * addresses are allowed is never served where they are not, and a
     * refusal there never blocks a fetch here: the two are separate
     * documents, in the process and in the cache */
    key = apr_palloc(rpool, 2 * sizeof(parser) + 1 + kind_len + scope_len + url_len + 1);
    for (i = 2 * (int)sizeof(parser) - 1; i >= 0; i--, parser >>= 4)
        key[i] = hex[parser & 0x0f];
    p = key + 2 * sizeof(parser);
    *p++ = ' ';
    n.shared_name = p;
    memcpy(p, kind, kind_len);
    memcpy(p += kind_len, scope, scope_len);
    memcpy(p += scope_len, url, url_len + 1);
    n.key = key;
    return n;
}

/* The entries a thread found last: a request asks for the same key set as
 * the one before, and naming it again costs an allocation and a hash of
 * the whole name. What a slot names decides the entry's key (parser, kind,
 * scope, URL). Pointers only, nothing owned: a slot is trusted under
 * store->mutex, for the store it was made for (the serial tells a new store
 * at a freed one's address), while no eviction has run since (an eviction
 * is the only way an entry is freed). */
#define REMEMBERED_SLOTS 4
typedef struct remembered_entry {
    const mcp_docstore_t *store;
    apr_uint32_t serial, evictions;
    mcp_doc_parse_fn parse;
    const char *kind;
    int public_only;
    local_entry_t *entry;
} remembered_entry_t;

static __thread remembered_entry_t remembered[REMEMBERED_SLOTS];
static __thread unsigned int remembered_next;

static local_entry_t *recalled(const mcp_docstore_t *store, const char *url, mcp_doc_parse_fn parse,
                               const mcp_doc_policy_t *policy)
{
    const remembered_entry_t *m;

    for (m = remembered; m < remembered + REMEMBERED_SLOTS; m++) {
        if (m->store == store && m->serial == store->serial && m->evictions == store->evictions
            && m->parse == parse && m->kind == policy->kind && m->public_only == policy->fetch.public_only
            && strcmp(m->entry->url, url) == 0)
            return m->entry;
    }
    return NULL;
}

static void remember(const mcp_docstore_t *store, mcp_doc_parse_fn parse, const mcp_doc_policy_t *policy,
                     local_entry_t *e)
{
    remembered_entry_t *m = &remembered[remembered_next++ % REMEMBERED_SLOTS];

    m->store = store;
    m->serial = store->serial;
    m->evictions = store->evictions;
    m->parse = parse;
    m->kind = policy->kind;
    m->public_only = policy->fetch.public_only;
    m->entry = e;
}

/* The entry for this document, under store->mutex, for the caller to give
 * back with entry_done. */
static local_entry_t *entry_for(mcp_docstore_t *store, const char *url, mcp_doc_parse_fn parse,
                                const mcp_doc_policy_t *policy, apr_pool_t *rpool)
{
    local_entry_t *e = recalled(store, url, parse, policy);
    entry_name_t name;
    apr_pool_t *pool;

    if (e) {
        e->users++;
        return e;
    }
    name = name_entry(url, parse, policy, rpool);
    e = apr_hash_get(store->entries, name.key, APR_HASH_KEY_STRING);
    if (e == NULL) {
        if (store->max_entries && apr_hash_count(store->entries) >= store->max_entries)
            evict_all(store);
        /* a root pool: entries are made and dropped by any thread */
        apr_pool_create(&pool, NULL);
        e = apr_pcalloc(pool, sizeof(*e));
        e->pool = pool;
        e->key = apr_pstrdup(pool, name.key);
        e->url = apr_pstrdup(pool, url);
        e->body_id = mcp_cache_id(pool, "doc", name.shared_name);
        e->stamp_id = mcp_cache_id(pool, "stamp", name.shared_name);
        e->fetch_id = mcp_cache_id(pool, "fetching", name.shared_name);
        e->refetch_id = mcp_cache_id(pool, "refetch", name.shared_name);
        e->failed_id = mcp_cache_id(pool, "failed", name.shared_name);
        e->stats_id = mcp_cache_id(pool, "stats", name.shared_name);
        apr_hash_set(store->entries, e->key, APR_HASH_KEY_STRING, e);
    }
    remember(store, parse, policy, e);
    e->users++;
    return e;
}

/* A counted reference to the current copy, taken under store->mutex; it is
 * handed to the caller by hand_over. */
static local_doc_t *take_locked(local_entry_t *e)
{
    if (e->current)
        apr_atomic_inc32(&e->current->refs);
    return e->current;
}

/* rpool's cleanup gives the reference back. */
static const mcp_doc_t *hand_over(local_doc_t *ld, apr_pool_t *rpool)
{
    if (ld == NULL)
        return NULL;
    apr_pool_cleanup_register(rpool, ld, doc_release_cleanup, apr_pool_cleanup_null);
    return &ld->doc;
}

static const mcp_doc_t *take(mcp_docstore_t *store, local_entry_t *e, apr_pool_t *rpool)
{
    local_doc_t *ld;

    apr_thread_mutex_lock(store->mutex);
    ld = take_locked(e);
    apr_thread_mutex_unlock(store->mutex);
    return hand_over(ld, rpool);
}

static local_doc_t *parse_doc(const char *body, apr_size_t len, apr_time_t fetched_at,
                              apr_time_t fresh_until, mcp_doc_parse_fn parse,
                              const void *ctx, const char **err, apr_pool_t *errpool)
{
    apr_pool_t *pool;
    local_doc_t *ld;
    const char *why = NULL;

    /* a root pool: docs are made and dropped by any thread */
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        *err = "out of memory";
        return NULL;
    }
    ld = apr_pcalloc(pool, sizeof(*ld));
    ld->pool = pool;
    ld->refs = 1;
    ld->doc.fetched_at = fetched_at;
    ld->doc.fresh_until = fresh_until;
    ld->doc.parsed = parse(pool, body, len, ctx, &why);
    if (ld->doc.parsed == NULL) {
        *err = apr_pstrdup(errpool, why ? why : "unusable document");
        apr_pool_destroy(pool);
        return NULL;
    }
    return ld;
}

static void install(mcp_docstore_t *store, local_entry_t *e, local_doc_t *ld)
{
    local_doc_t *old;

    apr_thread_mutex_lock(store->mutex);
    old = e->current;
    if (old && old->doc.fetched_at >= ld->doc.fetched_at) {
        /* another thread installed the same or a newer copy meanwhile */
        apr_thread_mutex_unlock(store->mutex);
        doc_release(ld);
        return;
    }
    e->current = ld;
    apr_thread_mutex_unlock(store->mutex);
    doc_release(old);
}

/* Adopts the shared copy when it is newer than ours. Returns 1 when the shared
 * copy exists (fresh or not), setting *fresh_until. */
static int adopt_shared(mcp_docstore_t *store, local_entry_t *e, mcp_doc_parse_fn parse,
                        const void *ctx, const mcp_doc_policy_t *policy, apr_pool_t *tmp,
                        apr_time_t *fresh_until, apr_time_t *fetched_at)
{
    unsigned char *raw;
    apr_size_t raw_len;
    doc_envelope_t stamp, env;
    local_doc_t *ld;
    const char *err;
    apr_time_t have;

    if (store->cache == NULL)
        return 0;
    /* the small stamp first: the body (up to the fetch cap) is copied out
     * only when it is newer than what this process has */
    if (mcp_cache_get(store->cache, e->stamp_id, sizeof(stamp), tmp, &raw, &raw_len) != APR_SUCCESS
        || raw_len != sizeof(stamp))
        return 0;
    memcpy(&stamp, raw, sizeof(stamp));
    if (stamp.magic != ENVELOPE_MAGIC)
        return 0;
    *fresh_until = stamp.fresh_until;
    *fetched_at = stamp.fetched_at;

    apr_thread_mutex_lock(store->mutex);
    have = e->current ? e->current->doc.fetched_at : 0;
    apr_thread_mutex_unlock(store->mutex);
    if (stamp.fetched_at <= have)
        return 1;
    if (mcp_cache_get(store->cache, e->body_id, sizeof(env) + stamp.body_len, tmp, &raw,
                      &raw_len) != APR_SUCCESS
        || raw_len < sizeof(env))
        return 0;
    memcpy(&env, raw, sizeof(env));
    if (env.magic != ENVELOPE_MAGIC || env.body_len != raw_len - sizeof(env))
        return 0;
    *fresh_until = env.fresh_until;
    *fetched_at = env.fetched_at;
    ld = parse_doc((const char *)raw + sizeof(env), env.body_len, env.fetched_at,
                   env.fresh_until, parse, ctx, &err, tmp);
    if (ld)
        install(store, e, ld);
    return 1;
}

static apr_interval_time_t clamp_max_age(long max_age, const mcp_doc_policy_t *policy)
{
    apr_interval_time_t ttl = max_age < 0 ? policy->refresh_max : apr_time_from_sec(max_age);

    if (ttl < policy->refresh_min)
        ttl = policy->refresh_min;
    if (ttl > policy->refresh_max)
        ttl = policy->refresh_max;
    return ttl;
}

/* Fetches, validates by parsing, publishes to the shared cache, installs. */
static int fetch_and_install(mcp_docstore_t *store, local_entry_t *e, mcp_doc_parse_fn parse,
                             const void *ctx, const mcp_doc_policy_t *policy, apr_pool_t *tmp,
                             const char **err)
{
    mcp_fetch_result_t res;
    apr_time_t now, fresh_until;
    local_doc_t *ld;

    if (mcp_fetch_get(tmp, e->url, &policy->fetch, &res, err) != APR_SUCCESS)
        return 0;
    now = apr_time_now();
    fresh_until = now + clamp_max_age(res.max_age, policy);
    ld = parse_doc(res.body, res.len, now, fresh_until, parse, ctx, err, tmp);
    if (ld == NULL)
        return 0;
    if (store->cache) {
        doc_envelope_t env;
        unsigned char *raw = apr_palloc(tmp, sizeof(env) + res.len);
        apr_time_t kept_until = fresh_until + policy->max_stale + EXPIRED_COPY_KEPT;

        env.magic = ENVELOPE_MAGIC;
        env.body_len = (apr_uint32_t)res.len;
        env.fetched_at = now;
        env.fresh_until = fresh_until;
        memcpy(raw, &env, sizeof(env));
        memcpy(raw + sizeof(env), res.body, res.len);
        if (mcp_cache_put(store->cache, e->body_id, kept_until, raw, sizeof(env) + res.len, tmp)
                != APR_SUCCESS
            || mcp_cache_put(store->cache, e->stamp_id, kept_until,
                             (const unsigned char *)&env, sizeof(env), tmp) != APR_SUCCESS) {
            /* an outage is reported once, by the cache's health callback */
            if (mcp_cache_reachable(store->cache))
                *err = "fetched, but the shared cache refused to store it (too large for MCPAuthCache?)";
        }
    }
    install(store, e, ld);
    return 1;
}

static int recently_failed(mcp_docstore_t *store, local_entry_t *e, apr_pool_t *tmp)
{
    return apr_time_now() < e->failed_until
           || (store->cache && mcp_cache_marker_alive(store->cache, e->failed_id, tmp));
}

static void read_stats(mcp_docstore_t *store, local_entry_t *e, apr_pool_t *tmp, fetch_stats_t *fs)
{
    unsigned char *raw;
    apr_size_t len;

    memset(fs, 0, sizeof(*fs));
    fs->magic = STATS_MAGIC;
    if (store->cache == NULL) {
        fs->fetches = e->local_stats.fetches;
        fs->failures = e->local_stats.failures;
        fs->last_ok = e->local_stats.last_ok;
        fs->last_attempt = e->local_stats.last_attempt;
        apr_cpystrn(fs->last_error, e->local_stats.last_error, sizeof(fs->last_error));
        return;
    }
    if (mcp_cache_get(store->cache, e->stats_id, sizeof(*fs), tmp, &raw, &len) == APR_SUCCESS
        && len == sizeof(*fs)) {
        memcpy(fs, raw, sizeof(*fs));
        if (fs->magic != STATS_MAGIC)
            memset(fs, 0, sizeof(*fs));
        fs->magic = STATS_MAGIC;
    }
}

/* Fetches are rare and single-flight, so a read-modify-write is good enough. */
static void record_fetch(mcp_docstore_t *store, local_entry_t *e, int ok, const char *err,
                         apr_pool_t *tmp)
{
    fetch_stats_t fs;

    read_stats(store, e, tmp, &fs);
    fs.fetches++;
    if (!ok)
        fs.failures++;
    fs.last_ok = ok;
    fs.last_attempt = apr_time_now();
    apr_cpystrn(fs.last_error, ok || err == NULL ? "" : err, sizeof(fs.last_error));
    if (store->cache) {
        mcp_cache_put(store->cache, e->stats_id, apr_time_now() + STATS_LIFETIME,
                      (const unsigned char *)&fs, sizeof(fs), tmp);
        return;
    }
    e->local_stats.fetches = fs.fetches;
    e->local_stats.failures = fs.failures;
    e->local_stats.last_ok = ok;
    e->local_stats.last_attempt = fs.last_attempt;
    apr_cpystrn(e->local_stats.last_error, fs.last_error, sizeof(fs.last_error));
}

static void release_fetch(mcp_docstore_t *store, local_entry_t *e, const char *in_progress_id,
                          apr_pool_t *tmp)
{
    if (in_progress_id == NULL)
        return;
    apr_thread_mutex_lock(store->mutex);
    e->fetch_until = 0;
    apr_thread_mutex_unlock(store->mutex);
    if (store->cache)
        mcp_cache_remove(store->cache, in_progress_id, tmp);
}

/* One fetch on behalf of every process: the in-progress marker is dropped
 * when it ends, and a failure opens the backoff window. */
static void fetch_guarded(mcp_docstore_t *store, local_entry_t *e, mcp_doc_parse_fn parse,
                          const void *ctx, const mcp_doc_policy_t *policy, const char *in_progress_id,
                          apr_pool_t *tmp, const char **err)
{
    int ok = fetch_and_install(store, e, parse, ctx, policy, tmp, err);

    record_fetch(store, e, ok, *err, tmp);
    mcp_metrics_fetch(policy->kind, ok);
    if (!ok) {
        static const unsigned char mark = '1';
        e->failed_until = apr_time_now() + FAILURE_BACKOFF;
        if (store->cache)
            mcp_cache_put(store->cache, e->failed_id, e->failed_until, &mark, 1, tmp);
    }
    release_fetch(store, e, in_progress_id, tmp);
}

/* A claim won just after another process published its fetch and dropped its
 * own claim: our first look came before that publication. Looking once more
 * keeps that process's fetch the only one. */
static int published_meanwhile(mcp_docstore_t *store, local_entry_t *e, mcp_doc_parse_fn parse,
                               const void *ctx, const mcp_doc_policy_t *policy, apr_time_t had,
                               apr_pool_t *tmp)
{
    apr_time_t fresh_until = 0, fetched_at = 0;

    return store->cache != NULL
           && adopt_shared(store, e, parse, ctx, policy, tmp, &fresh_until, &fetched_at)
           && fetched_at > had && apr_time_now() < fresh_until;
}

/* Whether this process may fetch now: the shared claim id, or, without a
 * shared cache or while it fails, this process's own (*local_until), so
 * that an outage of the store never stops fetches nor unthrottles them. */
static int claim(mcp_docstore_t *store, const char *id, apr_time_t *local_until, apr_interval_time_t ttl,
                 apr_pool_t *tmp)
{
    apr_time_t now = apr_time_now();
    mcp_claim_t c = store->cache ? mcp_cache_claim(store->cache, id, ttl, tmp) : MCP_CLAIM_UNAVAILABLE;
    int won = c == MCP_CLAIM_WON;

    if (c == MCP_CLAIM_HELD)
        return 0;
    /* won in the shared store: this process's threads see it here too */
    apr_thread_mutex_lock(store->mutex);
    if (won || now >= *local_until) {
        *local_until = now + ttl;
        won = 1;
    }
    apr_thread_mutex_unlock(store->mutex);
    return won;
}

static apr_time_t newest(mcp_docstore_t *store, local_entry_t *e)
{
    apr_time_t t;

    apr_thread_mutex_lock(store->mutex);
    t = e->current ? e->current->doc.fetched_at : 0;
    apr_thread_mutex_unlock(store->mutex);
    return t;
}

static int fetch_in_flight(mcp_docstore_t *store, local_entry_t *e, apr_pool_t *tmp)
{
    int local;

    apr_thread_mutex_lock(store->mutex);
    local = apr_time_now() < e->fetch_until || apr_atomic_read32(&e->deciding) > 0;
    apr_thread_mutex_unlock(store->mutex);
    return local || (store->cache && mcp_cache_marker_alive(store->cache, e->fetch_id, tmp));
}

/* Another process or thread is fetching: wait for a copy newer than had,
 * bounded by the fetch timeout, so that the requests that arrive during a
 * cold start or a key rotation are answered by that one fetch rather than
 * refused. Nothing in flight: no wait. */
static void wait_for_fetch(mcp_docstore_t *store, local_entry_t *e, mcp_doc_parse_fn parse, const void *ctx,
                           const mcp_doc_policy_t *policy, apr_time_t had, int grace, apr_pool_t *tmp)
{
    apr_time_t until = apr_time_now() + apr_time_from_msec(policy->fetch.timeout_ms);
    apr_time_t fresh_until, fetched_at;

    apr_atomic_inc32(&e->waiting);
    if (grace && store->cache && !fetch_in_flight(store, e, tmp)
        && mcp_cache_marker_younger(store->cache, e->refetch_id, JUST_CLAIMED, tmp)) {
        apr_sleep(WAIT_STEP);
        adopt_shared(store, e, parse, ctx, policy, tmp, &fresh_until, &fetched_at);
    }
    while (newest(store, e) <= had && apr_time_now() < until && fetch_in_flight(store, e, tmp)
           && !recently_failed(store, e, tmp)) {
        apr_sleep(WAIT_STEP);
        adopt_shared(store, e, parse, ctx, policy, tmp, &fresh_until, &fetched_at);
    }
    apr_atomic_dec32(&e->waiting);
    /* the fetch may have ended between our claim and the first look */
    if (newest(store, e) <= had)
        adopt_shared(store, e, parse, ctx, policy, tmp, &fresh_until, &fetched_at);
}

const mcp_doc_t *mcp_docstore_get(mcp_docstore_t *store, const char *url,
                                  mcp_doc_parse_fn parse, const void *parse_ctx,
                                  const mcp_doc_policy_t *policy, int force,
                                  apr_pool_t *rpool, const char **err)
{
    local_entry_t *e;
    apr_time_t now = apr_time_now(), fresh_until = 0, fetched_at = 0, had = 0;
    apr_pool_t *tmp;
    const mcp_doc_t *doc;
    apr_interval_time_t fetch_ttl = apr_time_from_msec(policy->fetch.timeout_ms)
                                    + apr_time_from_sec(5);
    const char *fetch_err = NULL, *shown;

    *err = NULL;
    apr_thread_mutex_lock(store->mutex);
    e = entry_for(store, url, parse, policy, rpool);
    /* A fresh parsed copy needs no shared-cache access at all: a rotation
     * fetched by another process reaches us through the forced path. An
     * unknown kid within a second of the last forced look is answered from
     * here too, unless a fetch is under way: then it waits for it, with
     * the threads already waiting. */
    if (e->current && (force ? now - e->forced_at < FORCED_RECHECK && apr_atomic_read32(&e->waiting) == 0
                                   && apr_atomic_read32(&e->deciding) == 0 && now >= e->fetch_until
                             : now < e->current->doc.fresh_until)) {
        local_doc_t *ld = take_locked(e);

        e->users--; /* still in the table: evictions take the mutex held here */
        apr_thread_mutex_unlock(store->mutex);
        return hand_over(ld, rpool);
    }
    had = e->current ? e->current->doc.fetched_at : 0;
    if (force) {
        /* from here until it knows whether it fetches, this thread keeps
         * the others of its process off the fast path above */
        e->forced_at = now;
        apr_atomic_inc32(&e->deciding);
    }
    apr_thread_mutex_unlock(store->mutex);

    apr_pool_create(&tmp, rpool);
    if (adopt_shared(store, e, parse, parse_ctx, policy, tmp, &fresh_until, &fetched_at)
        && now < fresh_until && (!force || fetched_at > had)) {
        if (force)
            apr_atomic_dec32(&e->deciding);
        apr_pool_destroy(tmp);
        doc = take(store, e, rpool);
        entry_done(store, e);
        return doc;
    }
    if (force) {
        /* RFC 8725 §3.10 / OIDC Core §10.1.1: a kid miss may mean rotation,
         * but unknown kids must not turn into a fetch per request. A kid
         * miss while the refetch is under way waits for it; so do this
         * process's other threads while this one claims and fetches. A
         * closed window costs reads only: an unknown-kid flood must not
         * churn the shared cache with markers. */
        int fetched = 0, window = claim(store, e->refetch_id, &e->refetch_until, policy->min_refetch, tmp);

        if (window && !published_meanwhile(store, e, parse, parse_ctx, policy, had, tmp)
            && claim(store, e->fetch_id, &e->fetch_until, fetch_ttl, tmp)) {
            fetch_guarded(store, e, parse, parse_ctx, policy, e->fetch_id, tmp, &fetch_err);
            fetched = 1;
        }
        apr_atomic_dec32(&e->deciding);
        /* a window just taken by another process: its in-flight marker
         * follows within a claim's settling time, so look once more then */
        if (!fetched && newest(store, e) <= had)
            wait_for_fetch(store, e, parse, parse_ctx, policy, had, !window, tmp);
    }
    else if (!recently_failed(store, e, tmp) && claim(store, e->fetch_id, &e->fetch_until, fetch_ttl, tmp)) {
        if (published_meanwhile(store, e, parse, parse_ctx, policy, had, tmp))
            release_fetch(store, e, e->fetch_id, tmp);
        else
            fetch_guarded(store, e, parse, parse_ctx, policy, e->fetch_id, tmp, &fetch_err);
    }
    else if (had == 0) {
        /* another process is fetching the first copy: wait for it */
        wait_for_fetch(store, e, parse, parse_ctx, policy, had, 0, tmp);
    }

    doc = take(store, e, rpool);
    shown = mcp_url_redacted(rpool, url);
    if (doc == NULL) {
        *err = fetch_err ? apr_psprintf(rpool, "cannot fetch %s: %s", shown, fetch_err)
               : recently_failed(store, e, tmp)
                   ? apr_psprintf(rpool, "no copy of %s: the last fetch failed, next try within %d s",
                                  shown, (int)apr_time_sec(FAILURE_BACKOFF))
                   : apr_psprintf(rpool, "no copy of %s yet (fetch in progress elsewhere)", shown);
    }
    else if (apr_time_now() > doc->fresh_until + policy->max_stale) {
        /* fail closed: keys this old may have been revoked */
        *err = apr_psprintf(rpool, "copy of %s expired beyond the stale limit%s%s", shown,
                            fetch_err ? ": " : "", fetch_err ? fetch_err : "");
        doc = NULL;
    }
    else if (fetch_err) {
        /* serving the last good copy; the caller logs this */
        *err = apr_psprintf(rpool, "refresh of %s failed (%s); using the copy from %" APR_TIME_T_FMT "s ago",
                            shown, fetch_err, apr_time_sec(apr_time_now() - doc->fetched_at));
    }
    apr_pool_destroy(tmp);
    entry_done(store, e);
    return doc;
}

void mcp_docstore_status(mcp_docstore_t *store, const char *url, mcp_doc_parse_fn parse,
                         const void *parse_ctx, const mcp_doc_policy_t *policy,
                         apr_pool_t *rpool, mcp_doc_status_t *status)
{
    local_entry_t *e;
    fetch_stats_t fs;
    apr_time_t fresh_until, fetched_at;

    apr_thread_mutex_lock(store->mutex);
    e = entry_for(store, url, parse, policy, rpool);
    apr_thread_mutex_unlock(store->mutex);
    adopt_shared(store, e, parse, parse_ctx, policy, rpool, &fresh_until, &fetched_at);
    read_stats(store, e, rpool, &fs);
    memset(status, 0, sizeof(*status));
    status->fetches = fs.fetches;
    status->failures = fs.failures;
    status->last_attempt = fs.last_attempt;
    status->last_ok = fs.last_ok;
    apr_cpystrn(status->last_error, fs.last_error, sizeof(status->last_error));
    status->doc = take(store, e, rpool);
    entry_done(store, e);
}
