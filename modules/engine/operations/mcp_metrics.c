/* The metrics registry: fixed families in one shared-memory segment, slots
 * per location and per rule named at startup (never by what a client
 * sends), so every label has a bounded set of values. Counts are 64-bit
 * atomic adds without locks; the segment belongs to the process pool and
 * so outlives graceful restarts, and a location keeps its slot by name. */

#include <stdio.h>
#include <string.h>

#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "mcp_metrics.h"

#define REGISTRY_KEY "mcp_auth metrics registry"
#define MAGIC 0x4d435061u /* "MCPa" */

enum { STEP_REGISTER, STEP_AUTHORIZE, STEP_TOKEN, STEP_CALLBACK, STEPS };
enum { RESULT_OK, RESULT_CLIENT_ERROR, RESULT_SERVER_ERROR, RESULTS };
enum { KIND_JWKS, KIND_METADATA, KIND_CLIENT_METADATA, KIND_OTHER, KINDS };

static const char *const result_names[MCP_REFUSAL_MAX] = {
    "accepted",      "no_token",    "invalid_request",    "malformed", "keys_unavailable",
    "unknown_kid",   "bad_signature", "expired",          "not_yet_valid", "issuer",
    "audience",      "other_claim", "insufficient_scope", "sender",    "unavailable",
    "inactive",      "mcp_rule",    "mcp_request",        "mcp_session", "require",
    "exchange_refused", "exchange_unavailable",
};
static const char *const step_names[STEPS] = { "register", "authorize", "token", "callback" };
static const char *const step_results[RESULTS] = { "ok", "client_error", "server_error" };
static const char *const kind_names[KINDS] = { "jwks", "metadata", "client_metadata", "other" };

/* Upper bounds in microseconds; the last bucket is +Inf. The module's own
 * time is a few microseconds on a cached token, milliseconds with a key
 * fetch or a token exchange. */
static const apr_uint64_t bucket_us[] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 100000, 1000000 };
static const char *const bucket_le[] = { "5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025",
                                         "0.0005", "0.001", "0.0025", "0.01", "0.1", "1", "+Inf" };
#define BUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

typedef struct {
    char server[MCP_METRICS_NAME_MAX];
    char location[MCP_METRICS_NAME_MAX];
    apr_uint32_t generation;          /* the last configuration generation that named it */
    apr_uint64_t tokens[MCP_COUNT_MAX];
    apr_uint64_t refusals[MCP_REFUSAL_MAX];
    apr_uint64_t relay[STEPS][RESULTS];
    apr_uint64_t buckets[BUCKETS];    /* per bucket, not cumulative */
    apr_uint64_t duration_us;
} location_t;

typedef struct {
    apr_uint32_t location;
    apr_uint32_t generation;
    char name[MCP_METRICS_NAME_MAX * 2];
    apr_uint64_t refused;
} rule_t;

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t generation;
    apr_uint32_t locations, rules;    /* slots in use */
    apr_uint64_t fetches[KINDS][2];   /* [kind][ok] */
    apr_uint64_t cache_lookups[2];    /* [hit] */
    apr_int64_t cache_bytes;
    location_t location[MCP_METRICS_LOCATIONS];
    rule_t rule[MCP_METRICS_RULES];
} registry_t;

static registry_t *reg;

#define ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define READ(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

static void name_other(location_t *l)
{
    apr_cpystrn(l->server, MCP_METRICS_OTHER_NAME, sizeof(l->server));
    apr_cpystrn(l->location, MCP_METRICS_OTHER_NAME, sizeof(l->location));
}

int mcp_metrics_attach(apr_pool_t *keep)
{
    apr_shm_t *shm = NULL;
    void *found = NULL;

    apr_pool_userdata_get(&found, REGISTRY_KEY, keep);
    if (found) {
        shm = found;
    }
    else {
        if (apr_shm_create(&shm, sizeof(registry_t), NULL, keep) != APR_SUCCESS)
            return (reg = NULL), 0;
        memset(apr_shm_baseaddr_get(shm), 0, sizeof(registry_t));
        apr_pool_userdata_set(shm, REGISTRY_KEY, apr_pool_cleanup_null, keep);
    }
    reg = apr_shm_baseaddr_get(shm);
    if (reg->magic != MAGIC) {
        reg->magic = MAGIC;
        reg->locations = 1;
        name_other(&reg->location[MCP_METRICS_OTHER]);
    }
    reg->generation++;
    reg->location[MCP_METRICS_OTHER].generation = reg->generation;
    return 1;
}

int mcp_metrics_location(const char *server, const char *location)
{
    location_t *l;
    apr_uint32_t i;

    if (reg == NULL)
        return MCP_METRICS_OTHER;
    for (i = 1; i < reg->locations; i++) {
        l = &reg->location[i];
        if (strcmp(l->server, server) == 0 && strcmp(l->location, location) == 0) {
            l->generation = reg->generation;
            return (int)i;
        }
    }
    /* longer names than a slot holds would be cut and could meet */
    if (reg->locations >= MCP_METRICS_LOCATIONS || strlen(server) >= sizeof(l->server)
        || strlen(location) >= sizeof(l->location))
        return MCP_METRICS_OTHER;
    l = &reg->location[i];
    apr_cpystrn(l->server, server, sizeof(l->server));
    apr_cpystrn(l->location, location, sizeof(l->location));
    l->generation = reg->generation;
    __atomic_store_n(&reg->locations, i + 1, __ATOMIC_RELEASE);
    return (int)i;
}

int mcp_metrics_rule(int location, const char *rule)
{
    rule_t *r;
    apr_uint32_t i;

    if (reg == NULL || location < 0 || (apr_uint32_t)location >= reg->locations)
        return -1;
    for (i = 0; i < reg->rules; i++) {
        r = &reg->rule[i];
        if (r->location == (apr_uint32_t)location && strcmp(r->name, rule) == 0) {
            r->generation = reg->generation;
            return (int)i;
        }
    }
    if (reg->rules >= MCP_METRICS_RULES || strlen(rule) >= sizeof(r->name))
        return -1;
    r = &reg->rule[i];
    r->location = (apr_uint32_t)location;
    apr_cpystrn(r->name, rule, sizeof(r->name));
    r->generation = reg->generation;
    __atomic_store_n(&reg->rules, i + 1, __ATOMIC_RELEASE);
    return (int)i;
}

static location_t *slot(int location)
{
    if (reg == NULL || location < 0 || location >= MCP_METRICS_LOCATIONS)
        return NULL;
    return &reg->location[location];
}

void mcp_metrics_token(int location, mcp_count_t result)
{
    location_t *l = slot(location);

    if (l && result >= 0 && result < MCP_COUNT_MAX)
        ADD(l->tokens[result], 1);
}

void mcp_metrics_refused(int location, int reason)
{
    location_t *l = slot(location);

    if (l && reason > MCP_COUNT_ACCEPTED && reason < MCP_REFUSAL_MAX)
        ADD(l->refusals[reason], 1);
}

void mcp_metrics_rule_refused(int rule)
{
    if (reg && rule >= 0 && rule < MCP_METRICS_RULES)
        ADD(reg->rule[rule].refused, 1);
}

const char *mcp_count_name(int what)
{
    return what >= 0 && what < MCP_REFUSAL_MAX ? result_names[what] : "other";
}

apr_uint64_t mcp_metrics_rule_count(int rule)
{
    return reg && rule >= 0 && rule < MCP_METRICS_RULES ? READ(reg->rule[rule].refused) : 0;
}

void mcp_metrics_relay(int location, const char *step, int status)
{
    location_t *l = slot(location);
    int i;

    if (l == NULL)
        return;
    for (i = 0; i < STEPS; i++) {
        if (strcmp(step, step_names[i]) == 0) {
            ADD(l->relay[i][status >= 500 ? RESULT_SERVER_ERROR : status >= 400 ? RESULT_CLIENT_ERROR : RESULT_OK], 1);
            return;
        }
    }
}

void mcp_metrics_duration(int location, apr_interval_time_t spent)
{
    location_t *l = slot(location);
    apr_uint64_t us = spent > 0 ? (apr_uint64_t)spent : 0;
    size_t b = 0;

    if (l == NULL)
        return;
    while (b < BUCKETS - 1 && us > bucket_us[b])
        b++;
    ADD(l->buckets[b], 1);
    ADD(l->duration_us, us);
}

void mcp_metrics_fetch(const char *kind, int ok)
{
    int k = KIND_OTHER;

    if (reg == NULL)
        return;
    if (kind && strcmp(kind, "jwks") == 0)
        k = KIND_JWKS;
    else if (kind && strcmp(kind, "idp-metadata") == 0)
        k = KIND_METADATA;
    else if (kind && strcmp(kind, "client-metadata") == 0)
        k = KIND_CLIENT_METADATA;
    ADD(reg->fetches[k][ok ? 1 : 0], 1);
}

void mcp_metrics_token_cache(int hit)
{
    if (reg)
        ADD(reg->cache_lookups[hit ? 1 : 0], 1);
}

void mcp_metrics_token_cache_bytes(apr_int64_t delta)
{
    if (reg && delta)
        ADD(reg->cache_bytes, delta);
}

json_t *mcp_metrics_tokens_json(void)
{
    apr_uint64_t sums[MCP_COUNT_MAX] = { 0 };
    json_t *doc = json_object(), *rejected = json_object();
    apr_uint32_t i, n = reg ? __atomic_load_n(&reg->locations, __ATOMIC_ACQUIRE) : 0;
    int k;

    for (i = 0; i < n; i++) {
        for (k = 0; k < MCP_COUNT_MAX; k++)
            sums[k] += READ(reg->location[i].tokens[k]);
        /* a lack of scope is known only after the token check */
        sums[MCP_COUNT_INSUFFICIENT_SCOPE] += READ(reg->location[i].refusals[MCP_COUNT_INSUFFICIENT_SCOPE]);
    }
    json_object_set_new(doc, "accepted", json_integer((json_int_t)sums[MCP_COUNT_ACCEPTED]));
    for (k = MCP_COUNT_ACCEPTED + 1; k < MCP_COUNT_MAX; k++)
        json_object_set_new(rejected, result_names[k], json_integer((json_int_t)sums[k]));
    json_object_set_new(doc, "rejected", rejected);
    return doc;
}

/* ---- the text exposition format ---- */

const char *mcp_metrics_label_value(apr_pool_t *p, const char *value)
{
    apr_size_t n = 0;
    const char *s;
    char *out, *o;

    for (s = value; *s; s++)
        n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
    o = out = apr_palloc(p, n + 1);
    for (s = value; *s; s++) {
        if (*s == '\\' || *s == '"')
            *o++ = '\\', *o++ = *s;
        else if (*s == '\n')
            *o++ = '\\', *o++ = 'n';
        else
            *o++ = *s;
    }
    *o = '\0';
    return out;
}

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *parts;
} out_t;

static void put(out_t *o, const char *s)
{
    APR_ARRAY_PUSH(o->parts, const char *) = s;
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, apr_psprintf(o->p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
}

/* {server="...",location="..." */
static const char *where(out_t *o, const location_t *l)
{
    return apr_pstrcat(o->p, "{server=\"", mcp_metrics_label_value(o->p, l->server), "\",location=\"",
                       mcp_metrics_label_value(o->p, l->location), "\"", NULL);
}

static int shown(const location_t *l, apr_uint32_t index)
{
    size_t b;

    if (index != MCP_METRICS_OTHER)
        return READ(l->generation) == READ(reg->generation);
    /* "(other)" only once something was counted there */
    for (b = 0; b < BUCKETS; b++)
        if (READ(l->buckets[b]))
            return 1;
    for (b = 0; b < MCP_REFUSAL_MAX; b++)
        if ((b < MCP_COUNT_MAX && READ(l->tokens[b])) || READ(l->refusals[b]))
            return 1;
    return 0;
}

static void render_locations(out_t *o, apr_uint32_t n)
{
    apr_uint32_t i;
    int k, s, r;

    family(o, "mcp_auth_token_checks_total", "counter",
           "Tokens judged by a location's policy, by result (accepted, no_token, expired, ...).");
    for (i = 0; i < n; i++) {
        const location_t *l = &reg->location[i];

        if (!shown(l, i))
            continue;
        for (k = 0; k < MCP_COUNT_MAX; k++)
            if (k != MCP_COUNT_INSUFFICIENT_SCOPE)
                put(o, apr_psprintf(o->p, "mcp_auth_token_checks_total%s,result=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                    where(o, l), result_names[k], READ(l->tokens[k])));
    }
    family(o, "mcp_auth_refusals_total", "counter", "Requests the module refused, by reason.");
    for (i = 0; i < n; i++) {
        const location_t *l = &reg->location[i];

        if (!shown(l, i))
            continue;
        for (k = MCP_COUNT_ACCEPTED + 1; k < MCP_REFUSAL_MAX; k++)
            put(o, apr_psprintf(o->p, "mcp_auth_refusals_total%s,reason=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                where(o, l), result_names[k], READ(l->refusals[k])));
    }
    family(o, "mcp_auth_relay_steps_total", "counter",
           "Steps of the OAuth relay answered, by step and result (ok, client_error, server_error).");
    for (i = 0; i < n; i++) {
        const location_t *l = &reg->location[i];
        apr_uint64_t any = 0;

        for (s = 0; s < STEPS; s++)
            for (r = 0; r < RESULTS; r++)
                any += READ(l->relay[s][r]);
        /* only where the relay answered at all: most locations have none */
        if (!shown(l, i) || any == 0)
            continue;
        for (s = 0; s < STEPS; s++)
            for (r = 0; r < RESULTS; r++)
                put(o, apr_psprintf(o->p,
                                    "mcp_auth_relay_steps_total%s,step=\"%s\",result=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                    where(o, l), step_names[s], step_results[r], READ(l->relay[s][r])));
    }
    family(o, "mcp_auth_request_duration_seconds", "histogram",
           "Time the module spent on a request (token check, rules, body reading, token exchange).");
    for (i = 0; i < n; i++) {
        const location_t *l = &reg->location[i];
        const char *w;
        apr_uint64_t cumulative = 0;
        size_t b;

        if (!shown(l, i))
            continue;
        w = where(o, l);
        for (b = 0; b < BUCKETS; b++) {
            cumulative += READ(l->buckets[b]);
            put(o, apr_psprintf(o->p, "mcp_auth_request_duration_seconds_bucket%s,le=\"%s\"} %" APR_UINT64_T_FMT
                                "\n", w, bucket_le[b], cumulative));
        }
        /* _count from the buckets themselves: +Inf and _count always agree */
        put(o, apr_psprintf(o->p, "mcp_auth_request_duration_seconds_sum%s} %.6f\n", w,
                            (double)READ(l->duration_us) / 1e6));
        put(o, apr_psprintf(o->p, "mcp_auth_request_duration_seconds_count%s} %" APR_UINT64_T_FMT "\n", w,
                            cumulative));
    }
}

static void render_rules(out_t *o)
{
    apr_uint32_t i, n = __atomic_load_n(&reg->rules, __ATOMIC_ACQUIRE);

    family(o, "mcp_auth_rule_refusals_total", "counter",
           "Calls refused by an MCP authorization rule, by location and rule as configured.");
    for (i = 0; i < n; i++) {
        const rule_t *r = &reg->rule[i];

        if (READ(r->generation) != READ(reg->generation))
            continue;
        put(o, apr_psprintf(o->p, "mcp_auth_rule_refusals_total%s,rule=\"%s\"} %" APR_UINT64_T_FMT "\n",
                            where(o, &reg->location[r->location]), mcp_metrics_label_value(o->p, r->name),
                            READ(r->refused)));
    }
}

static void render_host(out_t *o, const mcp_metrics_keyset_t *keysets, int nkeysets)
{
    int k, ok;

    family(o, "mcp_auth_fetches_total", "counter",
           "Fetches of IdP documents (key sets, metadata, client metadata), by kind and result.");
    for (k = 0; k < KINDS; k++)
        for (ok = 1; ok >= 0; ok--)
            put(o, apr_psprintf(o->p, "mcp_auth_fetches_total{kind=\"%s\",result=\"%s\"} %" APR_UINT64_T_FMT "\n",
                                kind_names[k], ok ? "ok" : "error", READ(reg->fetches[k][ok])));
    family(o, "mcp_auth_key_set_age_seconds", "gauge",
           "Seconds since the key set in the shared cache was fetched from the IdP.");
    for (k = 0; k < nkeysets; k++)
        put(o, apr_psprintf(o->p, "mcp_auth_key_set_age_seconds{url=\"%s\"} %.3f\n",
                            mcp_metrics_label_value(o->p, keysets[k].url), keysets[k].age_seconds));
    family(o, "mcp_auth_token_cache_lookups_total", "counter",
           "Lookups in the token caches of all processes (verified signatures), by result.");
    put(o, apr_psprintf(o->p, "mcp_auth_token_cache_lookups_total{result=\"hit\"} %" APR_UINT64_T_FMT "\n",
                        READ(reg->cache_lookups[1])));
    put(o, apr_psprintf(o->p, "mcp_auth_token_cache_lookups_total{result=\"miss\"} %" APR_UINT64_T_FMT "\n",
                        READ(reg->cache_lookups[0])));
    family(o, "mcp_auth_token_cache_bytes", "gauge",
           "Bytes the token caches of all processes hold, as counted against MCPAuthTokenCacheSize.");
    put(o, apr_psprintf(o->p, "mcp_auth_token_cache_bytes %" APR_INT64_T_FMT "\n", READ(reg->cache_bytes)));
}

char *mcp_metrics_render(apr_pool_t *p, const mcp_metrics_keyset_t *keysets, int nkeysets)
{
    out_t o = { p, apr_array_make(p, 256, sizeof(const char *)) };

    if (reg == NULL)
        return apr_pstrdup(p, "");
    render_locations(&o, __atomic_load_n(&reg->locations, __ATOMIC_ACQUIRE));
    render_rules(&o);
    render_host(&o, keysets, nkeysets);
    return apr_array_pstrcat(p, o.parts, 0);
}
