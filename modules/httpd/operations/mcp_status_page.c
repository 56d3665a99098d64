/* Visibility: SetHandler mcp-auth-status (JSON) and a section in mod_status's
 * server-status page, showing each key set and the token counters. */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <apr_date.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_main.h>
#include <mod_status.h>
#include <jansson.h>

#include "mcp_metrics.h"
#include "mcp_url.h"
#include "mcp_config.h"
#include "mcp_httpd.h"
#include "mcp_respond.h"
#include "mcp_request_keys.h"
#include "mcp_shared_cache.h"
#include "mcp_rules.h"
#include "mcp_status_page.h"
#include "mcp_token_check.h"

APLOG_USE_MODULE(mcp_auth);

static char *iso_time(apr_pool_t *p, apr_time_t t)
{
    char *buf = apr_palloc(p, APR_RFC822_DATE_LEN);

    if (t == 0)
        return NULL;
    apr_rfc822_date(buf, t);
    return buf;
}

static void set_time(json_t *obj, const char *key, apr_pool_t *p, apr_time_t t)
{
    const char *s = iso_time(p, t);

    json_object_set_new(obj, key, s ? json_string(s) : json_null());
}

static json_t *document_json(request_rec *r, const char *url, mcp_doc_parse_fn parse,
                             const void *ctx, const mcp_doc_policy_t *policy,
                             const mcp_doc_t **doc_out)
{
    json_t *j = json_object();
    mcp_doc_status_t st;
    apr_time_t now = apr_time_now();

    mcp_docstore_status(mcp_shared_docstore(), url, parse, ctx, policy, r->pool, &st);
    json_object_set_new(j, "url", json_string(mcp_url_redacted(r->pool, url)));
    json_object_set_new(j, "fetches", json_integer(st.fetches));
    json_object_set_new(j, "failures", json_integer(st.failures));
    set_time(j, "last_fetch", r->pool, st.last_attempt);
    json_object_set_new(j, "last_fetch_ok", json_boolean(st.last_ok));
    if (!st.last_ok && st.last_error[0])
        json_object_set_new(j, "last_error", json_string(st.last_error));
    if (st.doc) {
        set_time(j, "fetched_at", r->pool, st.doc->fetched_at);
        set_time(j, "next_refresh", r->pool, st.doc->fresh_until);
        json_object_set_new(j, "age_seconds", json_real((double)(now - st.doc->fetched_at) / APR_USEC_PER_SEC));
        json_object_set_new(j, "stale", json_boolean(now >= st.doc->fresh_until));
        json_object_set_new(j, "usable", json_boolean(now < st.doc->fresh_until + policy->max_stale));
    }
    else {
        json_object_set_new(j, "usable", json_false());
    }
    *doc_out = st.doc;
    return j;
}

json_t *mcp_key_sets_json(request_rec *r)
{
    json_t *list = json_array();
    apr_hash_t *seen = apr_hash_make(r->pool);
    server_rec *s;

    for (s = ap_server_conf; s; s = s->next) {
        mcp_server_conf_t *sconf = mcp_server_conf_of(s);
        int i;

        for (i = 0; i < sconf->protected->nelts; i++) {
            const mcp_dir_conf_t *conf = APR_ARRAY_IDX(sconf->protected, i, protected_location_t).conf;
            const char *jwks_uri = conf->jwks_uri, *key;
            const mcp_doc_t *doc = NULL;
            mcp_doc_policy_t policy;
            json_t *entry = json_object();

            key = apr_pstrcat(r->pool, conf->issuer, " ", jwks_uri ? jwks_uri : "", NULL);
            if (apr_hash_get(seen, key, APR_HASH_KEY_STRING))
                continue;
            apr_hash_set(seen, key, APR_HASH_KEY_STRING, key);
            mcp_doc_policy_of(conf, &policy);
            json_object_set_new(entry, "issuer", json_string(mcp_url_redacted(r->pool, conf->issuer)));
            if (jwks_uri == NULL) {
                /* whichever candidate has a copy, in this process or shared;
                 * else the first one that was tried at all */
                const char *urls[3], *issuer;
                int k, n = mcp_discovery_candidates(r, conf, urls, &issuer);
                json_t *shown = NULL;

                for (k = 0; k < n && jwks_uri == NULL; k++) {
                    json_t *d;

                    policy.kind = MCP_DOC_IDP_METADATA;
                    d = document_json(r, urls[k], mcp_discovery_parse, issuer, &policy, &doc);

                    if (doc)
                        jwks_uri = ((const mcp_discovery_t *)doc->parsed)->jwks_uri;
                    if (doc || (shown == NULL && json_integer_value(json_object_get(d, "fetches")) > 0)) {
                        json_decref(shown);
                        shown = d;
                    }
                    else {
                        json_decref(d);
                    }
                }
                if (shown)
                    json_object_set_new(entry, "discovery", shown);
            }
            if (jwks_uri) {
                json_t *jwks, *kids = json_array();

                policy.kind = MCP_DOC_JWKS;
                jwks = document_json(r, jwks_uri, mcp_parse_jwks, NULL, &policy, &doc);

                if (doc) {
                    const mcp_keyset_t *ks = doc->parsed;
                    int k;

                    for (k = 0; k < ks->keys->nelts; k++) {
                        const char *kid = APR_ARRAY_IDX(ks->keys, k, mcp_key_t).kid;
                        json_array_append_new(kids, kid ? json_string(kid) : json_null());
                    }
                }
                json_object_set_new(jwks, "kids", kids);
                json_object_set_new(entry, "jwks", jwks);
            }
            json_array_append_new(list, entry);
        }
    }
    return list;
}

int mcp_status_handler(request_rec *r)
{
    json_t *doc;
    char *text;
    int status = mcp_page_request(r, "mcp-auth-status");

    if (status != OK)
        return status;
    doc = json_object();
    json_object_set_new(doc, "cache", json_string(mcp_shared_cache_name() ? mcp_shared_cache_name() : "none"));
    json_object_set_new(doc, "pid", json_integer(getpid()));
    json_object_set_new(doc, "keys", mcp_key_sets_json(r));
    json_object_set_new(doc, "tokens", mcp_metrics_tokens_json());
    json_object_set_new(doc, "token_cache", mcp_token_cache_json());
    json_object_set_new(doc, "mcp_rules", mcp_rules_status(r->pool, mcp_server_conf_of(r->server)->protected));
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    ap_set_content_type(r, "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (text && !r->header_only)
        ap_rputs(text, r);
    free(text);
    return OK;
}

/* The same facts, as a section of mod_status's server-status page. */
int mcp_server_status_section(request_rec *r, int flags)
{
    json_t *counts = mcp_metrics_tokens_json(), *keys = mcp_key_sets_json(r), *v, *entry;
    const char *name;
    size_t i;

    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "MCPAuthAccepted: %" APR_INT64_T_FMT "\n",
                   (apr_int64_t)json_integer_value(json_object_get(counts, "accepted")));
        json_object_foreach(json_object_get(counts, "rejected"), name, v)
            ap_rprintf(r, "MCPAuthRejected_%s: %" APR_INT64_T_FMT "\n", name,
                       (apr_int64_t)json_integer_value(v));
    }
    else {
        ap_rputs("<hr />\n<h2>mod_mcp_auth</h2>\n<table border=\"0\">\n", r);
        ap_rprintf(r, "<tr><td>accepted tokens</td><td>%" APR_INT64_T_FMT "</td></tr>\n",
                   (apr_int64_t)json_integer_value(json_object_get(counts, "accepted")));
        json_object_foreach(json_object_get(counts, "rejected"), name, v)
            ap_rprintf(r, "<tr><td>rejected: %s</td><td>%" APR_INT64_T_FMT "</td></tr>\n", name,
                       (apr_int64_t)json_integer_value(v));
        ap_rputs("</table>\n<table border=\"0\"><tr><th>key set</th><th>kids</th><th>fetches</th>"
                 "<th>last fetch</th><th>next refresh</th><th>stale</th></tr>\n", r);
        json_array_foreach(keys, i, entry) {
            json_t *jwks = json_object_get(entry, "jwks");
            char *kids = jwks ? json_dumps(json_object_get(jwks, "kids"), JSON_COMPACT) : NULL;

            ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%" APR_INT64_T_FMT "</td><td>%s</td>"
                       "<td>%s</td><td>%s</td></tr>\n",
                       ap_escape_html(r->pool, jwks ? json_string_value(json_object_get(jwks, "url"))
                                                    : json_string_value(json_object_get(entry, "issuer"))),
                       ap_escape_html(r->pool, kids ? kids : "-"),
                       jwks ? (apr_int64_t)json_integer_value(json_object_get(jwks, "fetches")) : 0,
                       ap_escape_html(r->pool, jwks && json_is_string(json_object_get(jwks, "last_fetch"))
                                                   ? json_string_value(json_object_get(jwks, "last_fetch"))
                                                   : "-"),
                       ap_escape_html(r->pool, jwks && json_is_string(json_object_get(jwks, "next_refresh"))
                                                   ? json_string_value(json_object_get(jwks, "next_refresh"))
                                                   : "-"),
                       jwks && json_is_true(json_object_get(jwks, "stale")) ? "yes" : "no");
            free(kids);
        }
        ap_rputs("</table>\n", r);
    }
    json_decref(counts);
    json_decref(keys);
    return OK;
}

