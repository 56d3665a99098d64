/* The module's own answers: small JSON documents with the status and
 * caching they need, and the bits every handler of its shares. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <httpd.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "mcp_cors.h"
#include "mcp_respond.h"

int mcp_send_json(request_rec *r, int status, const char *cache_control, const char *body)
{
    r->status = status;
    ap_set_content_type(r, "application/json");
    /* err_headers_out: kept even when the answer is an error status */
    apr_table_setn(r->err_headers_out, "Cache-Control", cache_control);
    ap_set_content_length(r, (apr_off_t)strlen(body));
    if (!r->header_only)
        ap_rputs(body, r);
    return OK;
}

const char *mcp_oauth_error_body(apr_pool_t *p, const char *error, const char *description)
{
    json_t *doc = json_pack("{ssss}", "error", error, "error_description", description);
    char *text = json_dumps(doc, JSON_COMPACT);
    const char *copy = apr_pstrdup(p, text ? text : "{}");

    free(text);
    json_decref(doc);
    return copy;
}

int mcp_send_oauth_error(request_rec *r, int status, const char *error, const char *description)
{
    return mcp_send_json(r, status, "no-store", mcp_oauth_error_body(r->pool, error, description));
}

int mcp_method_not_allowed(request_rec *r, const mcp_dir_conf_t *conf, const char *allow)
{
    char *methods = apr_pstrdup(r->pool, allow), *m, *state = NULL;

    ap_clear_method_list(r->allowed_methods);
    r->allowed = 0;
    for (m = apr_strtok(methods, ", ", &state); m; m = apr_strtok(NULL, ", ", &state))
        ap_method_list_add(r->allowed_methods, m);
    mcp_cors_headers(r, conf, 1);
    return HTTP_METHOD_NOT_ALLOWED;
}

int mcp_page_request(request_rec *r, const char *handler)
{
    if (r->handler == NULL || strcmp(r->handler, handler) != 0)
        return DECLINED;
    return r->method_number == M_GET ? OK : mcp_method_not_allowed(r, mcp_conf_of(r), "GET, HEAD");
}

/* Token fields are the client's words: escaped, and cut short so that a
 * 16 KiB kid cannot turn each refused request into a 16 KiB log line. */
#define LOGGABLE_MAX 128

const char *mcp_loggable(request_rec *r, const char *s)
{
    if (s == NULL)
        return "-";
    if (strlen(s) > LOGGABLE_MAX)
        s = apr_pstrcat(r->pool, apr_pstrndup(r->pool, s, LOGGABLE_MAX), "...", NULL);
    return ap_escape_logitem(r->pool, s);
}

int mcp_has_output_filter(request_rec *r, const ap_filter_rec_t *frec)
{
    ap_filter_t *f;

    for (f = r->output_filters; f; f = f->next) {
        if (f->frec == frec)
            return 1;
    }
    return 0;
}

/* X-Forwarded-For as mod_proxy writes it: what came in, then the client
 * httpd saw (after mod_remoteip, if configured), so that IdP policies by
 * client address see the client rather than the gateway. */
const char *mcp_forwarded_for(request_rec *r)
{
    const char *in = apr_table_get(r->headers_in, "X-Forwarded-For");

    return in ? apr_pstrcat(r->pool, in, ", ", r->useragent_ip, NULL) : r->useragent_ip;
}
