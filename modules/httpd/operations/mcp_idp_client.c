#include <string.h>

#include <apr_strings.h>
#include <httpd.h>

#include "mcp_discovery.h"
#include "mcp_url.h"
#include "mcp_idp_client.h"
#include "mcp_request_keys.h"

const char *mcp_idp_endpoint(request_rec *r, const mcp_dir_conf_t *conf, const char *configured, apr_size_t offset,
                             const char *name, const char **why)
{
    const mcp_discovery_t *d;
    const char *err = NULL, *endpoint;

    if (configured)
        return configured;
    d = mcp_idp_metadata(r, conf, &err);
    if (d == NULL) {
        *why = apr_pstrcat(r->pool, "the issuer's metadata is unavailable: ", err, NULL);
        return NULL;
    }
    endpoint = *(const char *const *)((const char *)d + offset);
    if (endpoint == NULL)
        *why = apr_pstrcat(r->pool, "the issuer's metadata names no ", name, NULL);
    return endpoint;
}

apr_status_t mcp_idp_post(request_rec *r, const mcp_dir_conf_t *conf, const mcp_idp_client_t *client,
                          const char *endpoint, const char *what, const char *form, mcp_fetch_result_t *res,
                          const char **why)
{
    mcp_doc_policy_t policy;
    mcp_post_t post;
    const char *params = "", *err = NULL;
    apr_status_t rv;

    memset(&post, 0, sizeof(post));
    if (client) {
        params = mcp_client_credentials(r->pool, client, conf->issuer, endpoint, (long)apr_time_sec(apr_time_now()),
                                        &post.authorization);
        if (params == NULL) {
            *why = "the client assertion could not be signed";
            return APR_EGENERAL;
        }
    }
    mcp_doc_policy_of(conf, &policy);
    post.url = endpoint;
    post.content_type = "application/x-www-form-urlencoded";
    post.accept = "application/json";
    post.body = apr_pstrcat(r->pool, form, params, NULL);
    post.len = strlen(post.body);
    rv = mcp_fetch_post(r->pool, &post, &policy.fetch, res, &err);
    if (rv == APR_SUCCESS && res->status == 0)
        rv = APR_EGENERAL;
    if (rv != APR_SUCCESS)
        *why = apr_pstrcat(r->pool, what, " at ", mcp_url_redacted(r->pool, endpoint), " failed: ",
                           err ? err : "no answer", NULL);
    return rv;
}
