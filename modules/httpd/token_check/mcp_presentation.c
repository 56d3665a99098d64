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
#include "mcp_connection_memo.h"
#include "mcp_jwt.h"
#include "mcp_presentation.h"

/* RFC 6750 §2.2: only an application/x-www-form-urlencoded body counts; a
 * JSON MCP request body is never touched, and neither is a compressed one
 * (it is forwarded as it came, unread). A Content-Type that names the form
 * type anywhere in a list (httpd joins repeated headers with ", ", and some
 * parsers read the first, some the last) counts. */
static int is_form_request(request_rec *r)
{
    static const char form[] = "application/x-www-form-urlencoded";
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    const char *ce = apr_table_get(r->headers_in, "Content-Encoding");
    const char *p;

    if (!ap_request_has_body(r))
        return 0;
    if (ce && *ce && strcasecmp(ce, "identity") != 0)
        return 0;
    for (p = ct; p && *p; p++) {
        if (strncasecmp(p, form, sizeof(form) - 1) == 0 && (p == ct || strchr(", \t", p[-1]))
            && strchr(";, \t", p[sizeof(form) - 1]))   /* the terminating NUL matches too */
            return 1;
    }
    return 0;
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

/* request-target of a request line "METHOD SP target [SP protocol]" (an
 * HTTP/0.9 line has no protocol), as start and length. */
static int request_target(const char *line, const char **start, apr_size_t *len)
{
    const char *sp1 = line ? strchr(line, ' ') : NULL, *sp2;

    if (sp1 == NULL)
        return 0;
    sp2 = strrchr(line, ' ');
    *start = sp1 + 1;
    *len = sp2 > sp1 ? (apr_size_t)(sp2 - sp1 - 1) : strlen(sp1 + 1);
    return 1;
}

/* s (a URL or request target) without access_token parameters in its
 * query; s itself when it has none. */
static const char *without_token(apr_pool_t *p, const char *s)
{
    const char *q = s ? strchr(s, '?') : NULL, *token, *rest;
    apr_size_t rest_len;

    if (q == NULL || !mcp_token_from_form(p, q + 1, strlen(q + 1), &token, &rest, &rest_len))
        return s;
    return with_query(p, s, rest_len ? apr_pstrmemdup(p, rest, rest_len) : NULL);
}

/* The request line of r rebuilt around its target as edit changes it. */
static void edit_request_line(request_rec *r, const char *(*edit)(apr_pool_t *, const char *))
{
    const char *target, *cut;
    apr_size_t len;

    if (!request_target(r->the_request, &target, &len))
        return;
    cut = edit(r->pool, apr_pstrmemdup(r->pool, target, len));
    r->the_request = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, r->the_request, (apr_size_t)(target - r->the_request)),
                                 cut, target + len, NULL);
}

static void cut_from_request_line(request_rec *r)
{
    edit_request_line(r, without_token);
}

static const char *query_hidden(apr_pool_t *p, const char *s)
{
    return strchr(s, '?') ? with_query(p, s, "(hidden)") : s;
}

void mcp_hide_logged_query(request_rec *r)
{
    r->unparsed_uri = (char *)query_hidden(r->pool, r->unparsed_uri);
    edit_request_line(r, query_hidden);
    if (r->args) {
        r->args = "(hidden)";
        r->parsed_uri.query = r->args;
    }
}

/* A token parameter leaves the query in every form the request line lives
 * on: what mod_proxy forwards (r->args; r->filename, which ProxyPass nocanon
 * and RewriteRule [P] fill from the raw request), the access log's %r and
 * CGI's REQUEST_URI (both read the_request), r->unparsed_uri; and the same
 * in the requests this one was redirected from (mod_log_config logs the
 * first one's %r, CGI sees REDIRECT_QUERY_STRING). */
static void cut_from_query(request_rec *r, const char *rest, apr_size_t rest_len)
{
    request_rec *prev;

    r->args = rest_len ? apr_pstrmemdup(r->pool, rest, rest_len) : NULL;
    r->parsed_uri.query = r->args;
    r->unparsed_uri = (char *)with_query(r->pool, r->unparsed_uri, r->args);
    cut_from_request_line(r);
    if (r->filename && strncmp(r->filename, "proxy:", 6) == 0)
        r->filename = (char *)without_token(r->pool, r->filename);
    for (prev = r->prev; prev; prev = prev->prev) {
        const char *args = prev->args ? without_token(prev->pool, apr_pstrcat(prev->pool, "?", prev->args, NULL)) : NULL;

        prev->args = args && args[1] ? (char *)args + 1 : NULL;
        prev->unparsed_uri = (char *)without_token(prev->pool, prev->unparsed_uri);
        cut_from_request_line(prev);
    }
}

/* The token of an Authorization header. A connection's next request mostly
 * repeats the header of the one before byte for byte: that header was read
 * as a token presentation then, and its token is where it was. Any other
 * header is read in full (a token of a kilobyte, character by character). */
static mcp_token_result_t token_from_authorization(conn_rec *c, const char *header, const char **token,
                                                   unsigned long *len, int *dpop, const char **why)
{
    mcp_connection_memo_t *last;
    mcp_token_result_t result;
    apr_size_t header_len;

    if (header == NULL)
        return mcp_token_from_authorization(header, token, len, dpop, why);
    header_len = strlen(header);
    last = mcp_connection_memo(c);
    if (mcp_kept_bytes_equal(&last->header, header, header_len)) {
        *token = header + last->token_at;
        *len = (unsigned long)last->token_len;
        *dpop = last->dpop;
        *why = NULL;
        return MCP_TOKEN_PRESENT;
    }
    result = mcp_token_from_authorization(header, token, len, dpop, why);
    if (result == MCP_TOKEN_PRESENT && header_len <= MCP_JWT_DEFAULT_MAX_LEN) {
        mcp_kept_bytes_set(&last->header, c->pool, header, header_len);
        last->token_at = (apr_size_t)(*token - header);
        last->token_len = *len;
        last->dpop = *dpop;
    }
    return result;
}

void mcp_find_token(request_rec *r, int methods, mcp_presented_t *out)
{
    const char *header, *rest, *token, *why;
    apr_size_t rest_len;
    unsigned long len;
    int dpop;

    memset(out, 0, sizeof(*out));
    out->result = MCP_TOKEN_ABSENT;

    /* A reverse proxy's backend has no use for proxy credentials, and a
     * bearer token there would pass unchecked. */
    if (apr_table_get(r->headers_in, "Proxy-Authorization"))
        apr_table_unset(r->headers_in, "Proxy-Authorization");

    /* A bearer Authorization header leaves the request whether or not the
     * header method is enabled: it is judged only when it is. */
    header = apr_table_get(r->headers_in, "Authorization");
    switch (token_from_authorization(r->connection, header, &token, &len, &dpop, &why)) {
    case MCP_TOKEN_PRESENT:
        if (methods & MCP_BEARER_HEADER) {
            /* the header's value stays in the request's pool when the header
             * leaves the table: a token that ends it is a string already */
            add_found(out, token[len] == '\0' ? token : apr_pstrmemdup(r->pool, token, len), len, MCP_BEARER_HEADER);
            out->dpop = dpop;
        }
        apr_table_unset(r->headers_in, "Authorization");
        break;
    case MCP_TOKEN_MALFORMED:
        if (methods & MCP_BEARER_HEADER) {
            set_malformed(out, why);
            out->dpop = dpop; /* the scheme the refusal answers in */
        }
        apr_table_unset(r->headers_in, "Authorization");
        break;
    case MCP_TOKEN_ABSENT:
        break;
    }

    /* A DPoP proof is for this hop only. httpd joins repeated fields with
     * ", ", and a JWS has no comma: one comma, two proofs (RFC 9449 §4.3). */
    out->proof = apr_table_get(r->headers_in, "DPoP");
    if (out->proof) {
        out->proofs = strchr(out->proof, ',') ? 2 : 1;
        apr_table_unset(r->headers_in, "DPoP");
    }

    /* Likewise a query token, which is also in the access log. */
    if (r->args) {
        rest = NULL;
        from_form(r, r->args, strlen(r->args), MCP_BEARER_QUERY, methods & MCP_BEARER_QUERY, out, &rest,
                  &rest_len);
        if (rest)
            cut_from_query(r, rest, rest_len);
    }

    if ((methods & MCP_BEARER_BODY) && r->main == NULL && is_form_request(r)) {
        const char *body;
        apr_size_t body_len;

        if (mcp_read_body(r, MCP_FORM_BODY_LIMIT, &body, &body_len) <= 0) {
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
