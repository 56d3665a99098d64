/* The checks a presented token goes through for a location: its key set,
 * the per-process token cache (a token seen before skips decoding and the
 * signature check), and the claims by the location's policy, every time. */

#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "mcp_facade.h"
#include "mcp_introspect.h"
#include "mcp_jwt.h"
#include "mcp_metrics.h"
#include "mcp_tokencache.h"
#include "mcp_connection_memo.h"
#include "mcp_httpd.h"
#include "mcp_introspection.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_token_check.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

/* Signature checks remembered per process; claims are checked every time. */
#define TOKEN_CACHE_SLOTS 2048
#define TOKEN_CACHE_MAX_AGE apr_time_from_sec(600)
static mcp_tokencache_t *token_cache;
static apr_size_t budget;
/* what this process last added to the host's mcp_auth_token_cache_bytes */
static apr_int64_t published_bytes;

/* The host-wide gauge follows this process's cache by differences. */
static void publish_cache_bytes(void)
{
    apr_int64_t now = (apr_int64_t)mcp_tokencache_bytes(token_cache);
    apr_int64_t before = __atomic_exchange_n(&published_bytes, now, __ATOMIC_RELAXED);

    mcp_metrics_token_cache_bytes(now - before);
}

/* An exiting process takes its share away (a crashed one cannot). */
static apr_status_t unpublish_cache_bytes(void *data)
{
    mcp_metrics_token_cache_bytes(-__atomic_exchange_n(&published_bytes, 0, __ATOMIC_RELAXED));
    return APR_SUCCESS;
}

static mcp_count_t claim_failure_kind(const char *why)
{
    static const struct {
        const char *why;
        mcp_count_t kind;
    } kinds[] = {
        { "token expired", MCP_COUNT_EXPIRED },
        { "token not yet valid", MCP_COUNT_NOT_YET_VALID },
        { "issuer mismatch", MCP_COUNT_ISSUER },
        { "audience mismatch", MCP_COUNT_AUDIENCE },
    };
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(why, kinds[i].why) == 0)
            return kinds[i].kind;
    }
    return MCP_COUNT_OTHER_CLAIM;
}

/* An opaque token's claims, as the IdP's introspection endpoint gives them
 * (RFC 7662); NULL with *why and *kind. */
static mcp_jwt_t *introspected(request_rec *r, const mcp_dir_conf_t *conf, const char *token, apr_size_t len,
                               const char **why, mcp_count_t *kind)
{
    json_t *claims = NULL;

    switch (mcp_introspect(r, conf, token, len, &claims, why)) {
    case MCP_INTROSPECT_ACTIVE:
        return mcp_jwt_verified(r->pool, claims, "-", NULL, NULL);
    case MCP_INTROSPECT_INACTIVE:
        *why = "token is not active, or not an access token";
        *kind = MCP_COUNT_INACTIVE;
        return NULL;
    case MCP_INTROSPECT_BROKEN:
        break;
    }
    /* the details are in the log, not for the client */
    *why = "the token cannot be checked right now: the authorization server does not answer";
    *kind = MCP_COUNT_UNAVAILABLE;
    return NULL;
}

/* The cache key of the token a connection presented last is kept with a
 * copy of the token: the same token on the next request is not hashed
 * again. */
static void token_cache_key(request_rec *r, const char *token, apr_size_t len, const void *scope,
                            unsigned char key[MCP_TOKENCACHE_KEY_LEN])
{
    conn_rec *c = r->connection;
    mcp_connection_memo_t *last = mcp_connection_memo(c);

    if (last->scope == scope && mcp_kept_bytes_equal(&last->token, token, len)) {
        memcpy(key, last->key, MCP_TOKENCACHE_KEY_LEN);
        return;
    }
    mcp_tokencache_key(token, len, scope, key);
    if (len > MCP_JWT_DEFAULT_MAX_LEN)
        return;
    mcp_kept_bytes_set(&last->token, c->pool, token, len);
    memcpy(last->key, key, MCP_TOKENCACHE_KEY_LEN);
    last->scope = scope;
}

mcp_jwt_t *mcp_token_validate(request_rec *r, const mcp_dir_conf_t *conf, const char *token,
                              apr_size_t len, const char **why, mcp_count_t *kind)
{
    mcp_jwt_t *jwt = NULL;
    const mcp_keyset_t *keys;
    mcp_jwt_policy_t policy;
    mcp_jwt_status_t st;
    unsigned char cache_key[MCP_TOKENCACHE_KEY_LEN];
    apr_time_t generation = 0;

    *kind = MCP_COUNT_MALFORMED;
    if (mcp_introspects(conf, token, len)) {
        jwt = introspected(r, conf, token, len, why, kind);
        if (jwt == NULL) {
            if (*kind == MCP_COUNT_UNAVAILABLE)
                return NULL; /* logged, and no verdict on the token */
            goto invalid;
        }
        goto check_claims;
    }
    keys = mcp_keys_for(r, conf, 0, &generation);
    if (keys) {
        /* a token seen before skips decoding and the signature check */
        token_cache_key(r, token, len, keys, cache_key);
        switch (mcp_tokencache_lookup(token_cache, cache_key, generation, r->pool, &jwt)) {
        case MCP_TC_VALID:
            mcp_metrics_token_cache(1);
            /* the cache is shared by locations that may narrow typ */
            if (!mcp_jwt_type_accepted(jwt, conf->token_types)) {
                *why = "token type is not an access token";
                goto invalid;
            }
            goto check_claims;
        case MCP_TC_BAD_SIGNATURE:
            mcp_metrics_token_cache(1);
            *why = "signature verification failed";
            *kind = MCP_COUNT_BAD_SIGNATURE;
            goto invalid;
        case MCP_TC_MISS:
            mcp_metrics_token_cache(0);
            break;
        }
    }
    if (mcp_jwt_parse(r->pool, token, len, MCP_JWT_DEFAULT_MAX_LEN, conf->token_types, &jwt, why)
        != MCP_JWT_VALID)
        goto invalid;
    *kind = MCP_COUNT_KEYS_UNAVAILABLE;
    if (keys == NULL) {
        *why = "signing keys unavailable";
        goto invalid;
    }
    st = mcp_jwt_verify(jwt, keys, why);
    if (st == MCP_JWT_KEY_UNKNOWN) {
        /* maybe a rotation at the IdP: one throttled refetch decides */
        keys = mcp_keys_for(r, conf, 1, &generation);
        st = keys ? mcp_jwt_verify(jwt, keys, why) : MCP_JWT_INVALID;
        if (keys)
            token_cache_key(r, token, len, keys, cache_key);
    }
    if (st == MCP_JWT_MALFORMED) {
        *kind = MCP_COUNT_MALFORMED;
        goto invalid;
    }
    if (st != MCP_JWT_VALID) {
        *kind = st == MCP_JWT_KEY_UNKNOWN ? MCP_COUNT_UNKNOWN_KID : MCP_COUNT_BAD_SIGNATURE;
        /* only a check that ran is remembered: a refusal found without
         * one is as cheap to find again, and reads the same each time */
        if (st == MCP_JWT_INVALID && keys && mcp_jwt_signature_checked(jwt)) {
            mcp_tokencache_store_bad(token_cache, cache_key, generation, TOKEN_CACHE_MAX_AGE);
            publish_cache_bytes();
        }
        goto invalid;
    }
    mcp_tokencache_store_valid(token_cache, cache_key, generation, jwt, TOKEN_CACHE_MAX_AGE);
    publish_cache_bytes();

check_claims:
    policy.issuer = conf->issuer;
    policy.alt_issuer = mcp_provider_of(conf) == MCP_PROVIDER_ENTRA
                            ? mcp_entra_other_issuer(r->pool, conf->issuer) : NULL;
    policy.leeway = mcp_clock_skew_of(conf);
    policy.audiences = mcp_audiences_of(r, conf);
    if (mcp_jwt_check_claims(jwt, &policy, (double)apr_time_now() / APR_USEC_PER_SEC, why)
        != MCP_JWT_VALID) {
        *kind = claim_failure_kind(*why);
        goto invalid;
    }
    *kind = MCP_COUNT_ACCEPTED;
    return jwt;

invalid:
    /* the escaped alg and kid are made only for a log that keeps the line */
    if (APLOGrinfo(r))
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "MCPAUTH0001: rejected bearer token for %s: %s (alg %s, kid %s)", r->uri, *why,
                      jwt ? mcp_loggable(r, mcp_jwt_alg(jwt)) : "-", jwt ? mcp_loggable(r, mcp_jwt_kid(jwt)) : "-");
    return NULL;
}

void mcp_token_check_child_init(apr_pool_t *pchild, server_rec *s)
{
    budget = mcp_token_cache_budget(s);
    mcp_tokencache_create(&token_cache, pchild, TOKEN_CACHE_SLOTS, budget);
    apr_pool_cleanup_register(pchild, NULL, unpublish_cache_bytes, apr_pool_cleanup_null);
}

json_t *mcp_token_cache_json(void)
{
    json_t *j = json_object();

    json_object_set_new(j, "bytes", json_integer(token_cache ? (json_int_t)mcp_tokencache_bytes(token_cache) : 0));
    json_object_set_new(j, "budget", json_integer((json_int_t)budget));
    return j;
}
