/* SetHandler mcp-auth-metrics, and the metrics registry's link to httpd:
 * the slots of the protected locations, named by the virtual host and the
 * section as configured (never by anything a client sends), and the time
 * each request spent in the module. */

#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "mcp_httpd.h"
#include "mcp_respond.h"
#include "mcp_metrics_page.h"
#include "mcp_status_page.h"

APLOG_USE_MODULE(mcp_auth);

/* A section of the main server is in every virtual host's list too: it
 * counts under the first host that names it, the main server. */
int mcp_metrics_init(server_rec *s)
{
    server_rec *vs;
    int i, unnamed = 0;

    if (!mcp_metrics_attach(s->process->pool))
        return 0;
    for (vs = s; vs; vs = vs->next) {
        mcp_server_conf_t *sconf = mcp_server_conf_of(vs);
        const char *server = vs->server_hostname ? vs->server_hostname : "";

        if (vs->port)
            server = apr_psprintf(s->process->pconf, "%s:%u", server, (unsigned)vs->port);
        for (i = 0; i < sconf->protected->nelts; i++) {
            mcp_dir_conf_t *section = APR_ARRAY_IDX(sconf->protected, i, protected_location_t).section;

            if (section->metrics_slot < 0) {
                section->metrics_slot = mcp_metrics_location(server, section->location ? section->location : "");
                unnamed += section->metrics_slot == MCP_METRICS_OTHER;
            }
        }
    }
    if (unnamed)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "MCPAUTH0075: %d location(s) count under location=\"" MCP_METRICS_OTHER_NAME "\" in the "
                     "metrics: the registry holds %d locations over the life of the httpd parent (or a name "
                     "is longer than %d bytes); stop and start httpd to free the slots of removed locations",
                     unnamed, MCP_METRICS_LOCATIONS - 1, MCP_METRICS_NAME_MAX - 1);
    return 1;
}

int mcp_metrics_slot_of(const mcp_dir_conf_t *conf)
{
    return conf->metrics_slot >= 0 ? conf->metrics_slot : MCP_METRICS_OTHER;
}

void mcp_metrics_clock_add(mcp_metrics_clock_t *clock, const mcp_dir_conf_t *conf, apr_time_t started)
{
    /* the first location a request met is the one it counts under */
    if (clock->slot < 0)
        clock->slot = mcp_metrics_slot_of(conf);
    clock->spent += apr_time_now() - started;
}

void mcp_metrics_clock_observe(mcp_metrics_clock_t *clock)
{
    if (clock->slot >= 0)
        mcp_metrics_duration(clock->slot, clock->spent);
    clock->slot = -1;
}

/* The age of every key set in use, from the status page's view of them. */
static mcp_metrics_keyset_t *keyset_ages(request_rec *r, int *n)
{
    json_t *keys = mcp_key_sets_json(r), *entry;
    mcp_metrics_keyset_t *out = apr_pcalloc(r->pool, sizeof(*out) * (json_array_size(keys) + 1));
    apr_hash_t *seen = apr_hash_make(r->pool);
    size_t i;

    *n = 0;
    json_array_foreach(keys, i, entry) {
        json_t *jwks = json_object_get(entry, "jwks");
        const char *url = json_string_value(json_object_get(jwks, "url"));
        json_t *age = json_object_get(jwks, "age_seconds");

        /* one series per key set, whichever issuers share it */
        if (url == NULL || !json_is_number(age) || apr_hash_get(seen, url, APR_HASH_KEY_STRING))
            continue;
        apr_hash_set(seen, apr_pstrdup(r->pool, url), APR_HASH_KEY_STRING, "");
        out[*n].url = apr_pstrdup(r->pool, url);
        out[(*n)++].age_seconds = json_number_value(age);
    }
    json_decref(keys);
    return out;
}

int mcp_metrics_handler(request_rec *r)
{
    mcp_metrics_keyset_t *keysets;
    int n, status = mcp_page_request(r, "mcp-auth-metrics");

    if (status != OK)
        return status;
    keysets = keyset_ages(r, &n);
    /* the Prometheus text format, version 0.0.4 */
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only)
        ap_rputs(mcp_metrics_render(r->pool, keysets, n), r);
    return OK;
}
