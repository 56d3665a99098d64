/* The issuer's metadata and signing keys, as a request needs them: the glue
 * between httpd's per-directory configuration and the shared docstore. */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <httpd.h>
#include <http_log.h>

#include "mcp_url.h"
#include "mcp_httpd.h"
#include "mcp_request_keys.h"
#include "mcp_shared_cache.h"

APLOG_USE_MODULE(mcp_auth);

void *mcp_parse_jwks(apr_pool_t *pool, const char *body, apr_size_t len, const void *ctx,
                     const char **err)
{
    return mcp_jwks_parse(pool, body, len, err);
}

/* Where the issuer's discovery document was last found, per process, so that
 * a 404 on the first candidate is not paid on every request. */
static apr_hash_t *discovery_hits;
static apr_thread_mutex_t *discovery_mutex;

void mcp_request_keys_child_init(apr_pool_t *pchild)
{
    discovery_hits = apr_hash_make(pchild);
    apr_thread_mutex_create(&discovery_mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
}

int mcp_discovery_candidates(request_rec *r, const mcp_dir_conf_t *conf, const char **urls,
                             const char **issuer_out)
{
    const char *hit, *issuer = conf->issuer;
    int n = 0;

    /* Entra publishes metadata only for its v2 issuer form */
    if (mcp_provider_of(conf) == MCP_PROVIDER_ENTRA && mcp_entra_is_v1(issuer))
        issuer = mcp_entra_other_issuer(r->pool, issuer);
    apr_thread_mutex_lock(discovery_mutex);
    hit = apr_hash_get(discovery_hits, issuer, APR_HASH_KEY_STRING);
    apr_thread_mutex_unlock(discovery_mutex);
    if (hit)
        urls[n++] = hit;
    urls[n] = mcp_discovery_url_rfc8414(r->pool, issuer);
    if (hit == NULL || strcmp(hit, urls[n]) != 0)
        n++;
    urls[n] = mcp_discovery_url_oidc(r->pool, issuer);
    if (hit == NULL || strcmp(hit, urls[n]) != 0)
        n++;
    *issuer_out = issuer;
    return n;
}

static const mcp_discovery_t *discover(request_rec *r, const mcp_dir_conf_t *conf,
                                       const mcp_doc_policy_t *policy, const char **err)
{
    const char *candidates[3], *issuer;
    const mcp_doc_t *doc;
    int i, n = mcp_discovery_candidates(r, conf, candidates, &issuer);

    for (i = 0; i < n; i++) {
        doc = mcp_docstore_get(mcp_shared_docstore(), candidates[i], mcp_discovery_parse, issuer,
                               policy, 0, r->pool, err);
        if (doc) {
            if (*err)
                ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MCPAUTH0010: %s", *err);
            /* with three candidates, the first is the one remembered already */
            if (n < 3 || i > 0) {
                apr_thread_mutex_lock(discovery_mutex);
                apr_hash_set(discovery_hits, apr_pstrdup(apr_hash_pool_get(discovery_hits), issuer),
                             APR_HASH_KEY_STRING,
                             apr_pstrdup(apr_hash_pool_get(discovery_hits), candidates[i]));
                apr_thread_mutex_unlock(discovery_mutex);
            }
            return doc->parsed;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "MCPAUTH0011: discovery at %s: %s",
                      mcp_url_redacted(r->pool, candidates[i]), *err);
    }
    *err = apr_psprintf(r->pool, "no discovery document for issuer %s (tried %s and %s)",
                        mcp_url_redacted(r->pool, issuer), mcp_url_redacted(r->pool, candidates[n - 2]),
                        mcp_url_redacted(r->pool, candidates[n - 1]));
    return NULL;
}

const mcp_discovery_t *mcp_idp_metadata(request_rec *r, const mcp_dir_conf_t *conf,
                                        const char **err)
{
    mcp_doc_policy_t policy;

    mcp_doc_policy_of(conf, &policy);
    policy.kind = MCP_DOC_IDP_METADATA;
    return discover(r, conf, &policy, err);
}

const mcp_keyset_t *mcp_keys_for(request_rec *r, const mcp_dir_conf_t *conf, int force,
                                 apr_time_t *generation)
{
    const char *uri = conf->jwks_uri, *err = NULL;
    const mcp_doc_t *doc;
    mcp_doc_policy_t policy;

    mcp_doc_policy_of(conf, &policy);
    if (uri == NULL) {
        const mcp_discovery_t *d;

        policy.kind = MCP_DOC_IDP_METADATA;
        d = discover(r, conf, &policy, &err);

        if (d == NULL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0012: %s", err);
            return NULL;
        }
        uri = d->jwks_uri;
    }
    policy.kind = MCP_DOC_JWKS;
    doc = mcp_docstore_get(mcp_shared_docstore(), uri, mcp_parse_jwks, NULL, &policy, force, r->pool, &err);
    if (doc == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0013: no signing keys: %s", err);
        return NULL;
    }
    if (err)
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "MCPAUTH0014: %s", err);
    *generation = doc->fetched_at;
    return doc->parsed;
}

