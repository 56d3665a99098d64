/* Where a request carries its bearer token: the Authorization header, the
 * query and a form body (RFC 6750 §2.1-2.3), each only when enabled. */

#include <string.h>
#include <strings.h>

#include <apr_buckets.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "mcp_body.h"
#include "mcp_presentation.h"

/* RFC 6750 §2.2: only an application/x-www-form-urlencoded body counts; a
 * JSON MCP request body is never touched, and neither is a compressed one
 * (it is forwarded as it came, unread). */
static int is_form_request(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *ce = apr_table_get(r->headers_in, "Content-Encoding");
    apr_size_t n = sizeof("application/x-www-form-urlencoded") - 1;

    if (r->header_only || !ap_request_has_body(r))
        return 0;
    if (ce && strcasecmp(ce, "identity") != 0)
        return 0;
    if (ct == NULL || strncasecmp(ct, "application/x-www-form-urlencoded", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t';
}

static void set_malformed(mcp_presented_t *out, const char *why)
{
    out->result = MCP_TOKEN_MALFORMED;
    out->why = why;
    out->token = NULL;
    out->len = 0;
}

/* One token more from some method: the first one found is kept. */
static void add_found(mcp_presented_t *out, const char *token, apr_size_t len, int method)
{
    if (out->result == MCP_TOKEN_MALFORMED)
        return;
    if (out->result == MCP_TOKEN_PRESENT) {
        set_malformed(out, "token presented by more than one method");
        return;
    }
    out->result = MCP_TOKEN_PRESENT;
    out->token = token;
    out->len = len;
    out->method = method;
}

/* Judges the access_token parameters of a form; counts them only when the
 * method they came by is enabled. */
static void from_form(request_rec *r, const char *form, apr_size_t len, int method, int enabled,
                      mcp_presented_t *out, const char **rest, apr_size_t *rest_len)
{
    const char *token;
    int n = mcp_token_from_form(r->pool, form, len, &token, rest, rest_len);

    if (n == 0 || !enabled)
        return;
    if (n > 1)
        set_malformed(out, "access_token parameter repeated");
    else if (!mcp_token_is_b64token(token))
        set_malformed(out, "access_token is not a b64token");
    else
        add_found(out, token, strlen(token), method);
}

/* s with its query (after the first '?') replaced by args, or cut when
 * args is NULL. */
static const char *with_query(apr_pool_t *p, const char *s, const char *args)
{
    const char *q = strchr(s, '?');

    if (q)
        s = apr_pstrmemdup(p, s, (apr_size_t)(q - s));
    return args ? apr_pstrcat(p, s, "?", args, NULL) : s;
}

/* A token parameter leaves the query in every form the request line lives
 * on: what mod_proxy forwards (r->args; r->filename, which ProxyPass nocanon
 * and RewriteRule [P] fill from the raw request), the access log's %r and
 * CGI's REQUEST_URI (both read r->the_request), and r->unparsed_uri. */
static void cut_from_query(request_rec *r, const char *rest, apr_size_t rest_len)
{
    char *line;
    const char *sp1, *sp2, *token, *fq, *frest;
    apr_size_t frest_len;

    r->args = rest_len ? apr_pstrmemdup(r->pool, rest, rest_len) : NULL;
    r->parsed_uri.query = r->args;
    r->unparsed_uri = (char *)with_query(r->pool, r->unparsed_uri, r->args);
    if (r->the_request && (sp1 = strchr(r->the_request, ' ')) != NULL
        && (sp2 = strrchr(r->the_request, ' ')) != NULL && sp2 > sp1) {
        line = apr_pstrmemdup(r->pool, sp1 + 1, (apr_size_t)(sp2 - sp1 - 1));
        r->the_request = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, r->the_request,
                                                             (apr_size_t)(sp1 - r->the_request + 1)),
                                     with_query(r->pool, line, r->args), sp2, NULL);
    }
    if (r->filename && strncmp(r->filename, "proxy:", 6) == 0 && (fq = strchr(r->filename, '?')) != NULL
        && mcp_token_from_form(r->pool, fq + 1, strlen(fq + 1), &token, &frest, &frest_len))
        r->filename = (char *)with_query(r->pool, r->filename, frest_len ? frest : NULL);
}

void mcp_find_token(request_rec *r, int methods, mcp_presented_t *out)
{
    const char *header, *rest, *token, *why;
    apr_size_t rest_len;
    unsigned long len;

    memset(out, 0, sizeof(*out));
    out->result = MCP_TOKEN_ABSENT;

    /* A reverse proxy's backend has no use for proxy credentials, and a
     * bearer token there would pass unchecked. */
    apr_table_unset(r->headers_in, "Proxy-Authorization");

    /* A bearer Authorization header leaves the request whether or not the
     * header method is enabled: it is judged only when it is. */
    header = apr_table_get(r->headers_in, "Authorization");
    switch (mcp_token_from_authorization(header, &token, &len, &why)) {
    case MCP_TOKEN_PRESENT:
        if (methods & MCP_BEARER_HEADER)
            add_found(out, apr_pstrmemdup(r->pool, token, len), len, MCP_BEARER_HEADER);
        apr_table_unset(r->headers_in, "Authorization");
        break;
    case MCP_TOKEN_MALFORMED:
        if (methods & MCP_BEARER_HEADER)
            set_malformed(out, why);
        apr_table_unset(r->headers_in, "Authorization");
        break;
    case MCP_TOKEN_ABSENT:
        break;
    }

    /* Likewise a query token, which is also in the access log. */
    if (r->args) {
        rest = NULL;
        from_form(r, r->args, strlen(r->args), MCP_BEARER_QUERY, methods & MCP_BEARER_QUERY, out, &rest,
                  &rest_len);
        if (rest)
            cut_from_query(r, rest, rest_len);
    }

    if ((methods & MCP_BEARER_BODY) && r->main == NULL && r->prev == NULL && is_form_request(r)) {
        const char *body;
        apr_size_t body_len;

        if (!mcp_read_body(r, MCP_FORM_BODY_LIMIT, &body, &body_len)) {
            set_malformed(out, "form body unreadable or too large");
            return;
        }
        rest = NULL;
        from_form(r, body, body_len, MCP_BEARER_BODY, 1, out, &rest, &rest_len);
        if (rest && (r->method_number == M_GET || r->header_only))
            set_malformed(out, "access_token in the body of a GET request"); /* RFC 6750 §2.2 */
        if (rest)
            mcp_body_replay(r, rest, rest_len);
        else
            mcp_body_replay(r, body, body_len);
    }
}
