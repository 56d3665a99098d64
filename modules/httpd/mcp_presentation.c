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

/* RFC 6750 §2.2: only a single-part form body on a method with body
 * semantics counts; a JSON MCP request body is never touched. */
static int is_form_request(request_rec *r)
{
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    apr_size_t n = sizeof("application/x-www-form-urlencoded") - 1;

    if (r->method_number == M_GET || r->method_number == M_OPTIONS || r->header_only)
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
static void add_found(mcp_presented_t *out, const char *token, apr_size_t len)
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
}

static void from_form(request_rec *r, const char *form, apr_size_t len, mcp_presented_t *out,
                      const char **rest)
{
    const char *token;
    int n = mcp_token_from_form(r->pool, form, len, &token, rest);

    if (n == 0)
        return;
    if (n > 1)
        set_malformed(out, "access_token parameter repeated");
    else if (!mcp_token_is_b64token(token))
        set_malformed(out, "access_token is not a b64token");
    else
        add_found(out, token, strlen(token));
}

void mcp_find_token(request_rec *r, int methods, mcp_presented_t *out)
{
    const char *rest;

    memset(out, 0, sizeof(*out));
    out->result = MCP_TOKEN_ABSENT;

    if (methods & MCP_BEARER_HEADER) {
        const char *header = apr_table_get(r->headers_in, "Authorization");
        const char *token, *why;
        unsigned long len;

        switch (mcp_token_from_authorization(header, &token, &len, &why)) {
        case MCP_TOKEN_PRESENT:
            add_found(out, apr_pstrmemdup(r->pool, token, len), len);
            apr_table_unset(r->headers_in, "Authorization");
            break;
        case MCP_TOKEN_MALFORMED:
            set_malformed(out, why);
            apr_table_unset(r->headers_in, "Authorization");
            break;
        case MCP_TOKEN_ABSENT:
            break;
        }
    }

    if ((methods & MCP_BEARER_QUERY) && r->args) {
        rest = NULL;
        from_form(r, r->args, strlen(r->args), out, &rest);
        if (rest) {
            /* what mod_proxy forwards is rebuilt from r->args */
            r->args = *rest ? apr_pstrdup(r->pool, rest) : NULL;
            r->parsed_uri.query = r->args;
            r->unparsed_uri = apr_pstrcat(r->pool, r->uri, r->args ? "?" : "", r->args ? r->args : "",
                                          NULL);
        }
    }

    if ((methods & MCP_BEARER_BODY) && r->main == NULL && r->prev == NULL && is_form_request(r)) {
        const char *body;
        apr_size_t len;

        if (!mcp_read_body(r, MCP_FORM_BODY_LIMIT, &body, &len)) {
            set_malformed(out, "form body unreadable or too large");
            return;
        }
        rest = NULL;
        from_form(r, body, len, out, &rest);
        mcp_body_replay(r, rest ? rest : body);
    }
}
