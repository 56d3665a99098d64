/* CORS (Fetch standard): the gateway's answers must be readable by browser
 * clients, 401 challenges included, and a backend must not add a second
 * Access-Control-Allow-Origin that makes browsers refuse the response. */

#include <string.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>
#include <util_filter.h>

#include "mcp_cors.h"
#include "mcp_respond.h"

#define CORS_FILTER "MCP_AUTH_CORS"
static ap_filter_rec_t *cors_filter_handle; /* added by registration, not looked up by name */

/* A browser client of a DPoP location sends its proof in a DPoP header (not
 * CORS-safelisted: without it here the preflight fails) and must read the
 * DPoP-Nonce of a use_dpop_nonce answer to retry (RFC 9449 §8, §9). */
#define ALLOW_HEADERS "Authorization, Content-Type, Mcp-Protocol-Version, Mcp-Session-Id, " \
                      "Last-Event-ID, Mcp-Method, Mcp-Name, DPoP"
#define EXPOSE_HEADERS "WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version, DPoP-Nonce"

/* The origin to allow, or NULL. Discovery documents default to any origin;
 * the MCP endpoint allows none until MCPAuthCORSOrigins says so. */
static const char *allowed_origin(request_rec *r, const mcp_dir_conf_t *conf, int well_known,
                                  int *listed)
{
    const char *origin = apr_table_get(r->headers_in, "Origin");
    int i;

    *listed = 0;
    if (conf->cors_origins == NULL)
        return well_known ? "*" : NULL;
    for (i = 0; i < conf->cors_origins->nelts; i++) {
        const char *o = APR_ARRAY_IDX(conf->cors_origins, i, const char *);

        if (strcmp(o, "*") == 0)
            return "*";
        *listed = 1;
        /* exact match, as browsers send it (RFC 6454 §6.2) */
        if (origin && strcmp(o, origin) == 0)
            return origin;
    }
    return NULL;
}

/* In err_headers_out, so that 401/403 answers carry them too: a browser
 * client must be able to read WWW-Authenticate to start the OAuth flow. */
void mcp_cors_headers(request_rec *r, const mcp_dir_conf_t *conf, int well_known)
{
    int listed;
    const char *origin = allowed_origin(r, conf, well_known, &listed);

    /* may run twice for one response (an internal redirect): no doubles */
    if (listed && !ap_find_token(r->pool, apr_table_get(r->err_headers_out, "Vary"), "Origin"))
        apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    if (origin) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Origin", origin);
        apr_table_setn(r->err_headers_out, "Access-Control-Expose-Headers", EXPOSE_HEADERS);
    }
    /* with a list, the list is the policy: see cors_filter */
    if ((origin || conf->cors_origins) && !mcp_has_output_filter(r, cors_filter_handle))
        ap_add_output_filter_handle(cors_filter_handle, NULL, r, r->connection);
}

static const char *const backend_cors_headers[] = {
    "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
    "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", NULL
};

/* A backend's CORS headers next to the gateway's. Where the gateway allowed
 * the origin, the gateway's Access-Control-Allow-Origin stands alone
 * (browsers refuse a response with two, Fetch standard) and the headers the
 * backend exposes are exposed as well. Where MCPAuthCORSOrigins did not
 * allow it, the backend cannot allow it either: its CORS headers go. */
static apr_status_t cors_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *exposed = apr_table_get(r->headers_out, "Access-Control-Expose-Headers");
    int i;

    if (apr_table_get(r->err_headers_out, "Access-Control-Allow-Origin")) {
        apr_table_unset(r->headers_out, "Access-Control-Allow-Origin");
        if (exposed) {
            apr_table_mergen(r->err_headers_out, "Access-Control-Expose-Headers", exposed);
            apr_table_unset(r->headers_out, "Access-Control-Expose-Headers");
        }
    }
    else {
        for (i = 0; backend_cors_headers[i]; i++)
            apr_table_unset(r->headers_out, backend_cors_headers[i]);
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

int mcp_cors_preflight(request_rec *r, const mcp_dir_conf_t *conf, int well_known,
                       const char *methods)
{
    mcp_cors_headers(r, conf, well_known);
    if (apr_table_get(r->err_headers_out, "Access-Control-Allow-Origin")) {
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Methods", methods);
        apr_table_setn(r->err_headers_out, "Access-Control-Allow-Headers", ALLOW_HEADERS);
        apr_table_setn(r->err_headers_out, "Access-Control-Max-Age", "86400");
    }
    apr_table_setn(r->err_headers_out, "Allow", methods);
    return HTTP_NO_CONTENT;
}

void mcp_cors_register(apr_pool_t *p)
{
    cors_filter_handle = ap_register_output_filter(CORS_FILTER, cors_filter, NULL, AP_FTYPE_CONTENT_SET);
}
