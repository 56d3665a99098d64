/* Consent for static clients (MCP "Confused Deputy Problem"): the page,
 * the form's answer, and the cookies the relay sets on the browser. */

#include <string.h>
#include <strings.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <httpd.h>
#include <http_protocol.h>
#include <jansson.h>

#include "mcp_client.h"
#include "mcp_scope.h"
#include "mcp_seal.h"
#include "mcp_body.h"
#include "mcp_consent.h"
#include "mcp_endpoints.h"
#include "mcp_relay_seal.h"
#include "mcp_urls.h"

#define TICKET_LIFETIME 900      /* seconds a consent page stays usable */
#define MAX_APPROVALS 24         /* approval cookies one browser keeps */
#define REQUEST_LIMIT (64 * 1024)

/* What an approval is for: a client and the redirect URI its answers go
 * to (one registration may list several; the page named only one). */
static const char *consent_key(request_rec *r, const char *client_id, const char *redirect_uri)
{
    return mcp_relay_hash(r->pool, apr_pstrcat(r->pool, client_id, "\n", redirect_uri, NULL));
}

const char *mcp_relay_cookie_name(request_rec *r, const char *what, const char *id)
{
    return apr_pstrcat(r->pool, "mcp_auth_", mcp_relay_site_tag(r), "_", what, id ? "_" : "",
                       id ? apr_pstrndup(r->pool, id, 16) : "", NULL);
}

/* One cookie per approval (a shared name would keep only the last one). */
static const char *consent_cookie_name(request_rec *r, const char *key)
{
    return mcp_relay_cookie_name(r, "consent", key);
}

/* Fetch Metadata (Sec-Fetch-Site): none for a navigation the user or an
 * app started, same-origin for the gateway's own page. Another origin,
 * even another port of this host, can write this host's cookies (cookies
 * ignore ports): an approval or a CSRF cookie it planted must not answer
 * for the user. A form posted by a browser without Fetch Metadata is taken
 * at its Origin, which browsers send with every POST: one with neither
 * header is refused. A navigation without Fetch Metadata (browsers before
 * 2023) cannot tell where it came from and is let through: an approval
 * then counts for it, as it did before such browsers sent the header. */
static int started_here(request_rec *r, const mcp_dir_conf_t *conf, int navigation)
{
    const char *site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    const char *origin = apr_table_get(r->headers_in, "Origin");

    if (site)
        return strcmp(site, "same-origin") == 0 || (navigation && strcmp(site, "none") == 0);
    if (navigation)
        return 1;
    return origin != NULL && strcasecmp(origin, mcp_external_url(r, conf, "")) == 0;
}

int mcp_consented(request_rec *r, const mcp_dir_conf_t *conf, const char *client_id, const char *redirect_uri,
                  const char *scope)
{
    const char *key = consent_key(r, client_id, redirect_uri);
    json_t *doc = started_here(r, conf, 1) ? mcp_relay_unseal_json(r, "consent", mcp_relay_cookie(r, consent_cookie_name(r, key)))
                                     : NULL;
    const char *approved = mcp_relay_member(r->pool, doc, "c");
    const char *scopes = mcp_relay_member(r->pool, doc, "s");

    json_decref(doc);
    /* more access than the user saw on the page asks again; a request
     * without scope gets the IdP's default, which the page showed only as
     * "(default)": approved as such, or not at all */
    if (approved == NULL || strcmp(approved, key) != 0 || scopes == NULL)
        return 0;
    if (scope == NULL || !*scope)
        return !*scopes;
    return *scopes && mcp_scope_list_covers(r->pool, scopes, scope);
}

/* The cookies the browser sent whose names start with prefix (all of
 * them for ""), as name/value pairs in a table. */
static apr_table_t *cookies_named(request_rec *r, const char *prefix)
{
    const char *header = apr_table_get(r->headers_in, "Cookie");
    apr_table_t *found = apr_table_make(r->pool, 4);
    char *copy, *c, *eq, *state = NULL;
    apr_size_t n = strlen(prefix);

    if (header == NULL)
        return found;
    copy = apr_pstrdup(r->pool, header);
    for (c = apr_strtok(copy, ";", &state); c; c = apr_strtok(NULL, ";", &state)) {
        while (*c == ' ')
            c++;
        if (strncmp(c, prefix, n) == 0 && (eq = strchr(c, '=')) != NULL) {
            *eq = '\0';
            apr_table_addn(found, c, eq + 1);
        }
    }
    return found;
}

const char *mcp_relay_cookie(request_rec *r, const char *name)
{
    return apr_table_get(cookies_named(r, name), name);
}

/* A Cookie header longer than this is trimmed of the relay's own cookies
 * (httpd refuses a header field over 8190 bytes by default). */
#define MAX_COOKIE_HEADER 4096

void mcp_relay_cookie_expire(request_rec *r, const char *name)
{
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_pstrcat(r->pool, name, "=", mcp_relay_cookie_attrs(r, "Lax", 0), NULL));
}

void mcp_relay_cookies_trim(request_rec *r, const char *prefix, int max)
{
    const char *header = apr_table_get(r->headers_in, "Cookie");
    const apr_array_header_t *named = apr_table_elts(cookies_named(r, prefix));
    int i;

    if (named->nelts < max && (header == NULL || strlen(header) <= MAX_COOKIE_HEADER))
        return;
    for (i = 0; i < named->nelts; i++)
        mcp_relay_cookie_expire(r, APR_ARRAY_IDX(named, i, apr_table_entry_t).key);
}

static const char *cookie_path(request_rec *r)
{
    return MCP_ENDPOINT_PREFIX "/";
}

const char *mcp_relay_cookie_attrs(request_rec *r, const char *same_site, long max_age)
{
    return apr_psprintf(r->pool, "; Path=%s; Max-Age=%ld; HttpOnly; SameSite=%s%s", cookie_path(r), max_age,
                        same_site, strcmp(ap_http_scheme(r), "https") == 0 ? "; Secure" : "");
}

/* Text from the client for the page (UTF-8 as it is, the page says so):
 * HTML-escaped, and without the invisible characters that reorder or hide
 * what the user reads (bidirectional overrides and isolates, zero-width
 * marks), which become U+FFFD. */
static const char *shown(request_rec *r, const char *s)
{
    static const char *const hidden[] = { "\xe2\x80\x8b", "\xe2\x80\x8c", "\xe2\x80\x8d", "\xe2\x80\x8e",
                                          "\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac",
                                          "\xe2\x80\xad", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7",
                                          "\xe2\x81\xa8", "\xe2\x81\xa9", "\xd8\x9c" };
    char *copy = apr_pstrdup(r->pool, s), *at;
    size_t i;

    for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
        size_t n = strlen(hidden[i]);

        while ((at = strstr(copy, hidden[i])) != NULL) {
            copy = apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, copy, (apr_size_t)(at - copy)), "\xef\xbf\xbd",
                               at + n, NULL);
        }
    }
    return ap_escape_html2(r->pool, copy, 0);
}

/* The consent page: who is asking, for what, and where the answer goes.
 * Its form comes back to authorize by POST with a sealed ticket and a
 * CSRF value that must match a cookie set with the page. */
int mcp_consent_page(request_rec *r, const protected_location_t *pl, const mcp_client_t *client,
                        const char *client_id, const char *redirect_uri, const char *scope, const char *query)
{
    unsigned char raw[16];
    const char *csrf, *ticket;
    apr_uri_t u;
    /* a web redirect goes to its host; a native app's scheme to whatever
     * app claims it, so that is shown whole */
    int web = apr_uri_parse(r->pool, redirect_uri, &u) == APR_SUCCESS && u.hostname && u.scheme
              && (strcasecmp(u.scheme, "https") == 0 || strcasecmp(u.scheme, "http") == 0);
    const char *host = web ? (u.port_str ? apr_pstrcat(r->pool, u.hostname, ":", u.port_str, NULL) : u.hostname)
                           : redirect_uri;
    const char *name = client->client_name ? client->client_name : "An unnamed client";
    char *page;

    if (!mcp_seal_random(raw, sizeof(raw)))
        return HTTP_INTERNAL_SERVER_ERROR;
    csrf = apr_pescape_hex(r->pool, raw, sizeof(raw), 0);
    ticket = mcp_relay_seal_json(r, "ticket", json_pack("{sssssI}", "q", query, "x", csrf, "e",
                                              (json_int_t)(mcp_relay_now() + TICKET_LIFETIME)));
    if (ticket == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_pstrcat(r->pool, mcp_relay_cookie_name(r, "csrf", NULL), "=", csrf, mcp_relay_cookie_attrs(r, "Strict", TICKET_LIFETIME), NULL));
    /* no framing (clickjacking), no caching, nothing loaded from anywhere */
    apr_table_setn(r->err_headers_out, "Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
    apr_table_setn(r->err_headers_out, "X-Frame-Options", "DENY");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->err_headers_out, "Referrer-Policy", "no-referrer");
    page = apr_pstrcat(r->pool,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Allow access?</title>"
        "<style>body{font-family:sans-serif;max-width:34em;margin:3em auto}dt{font-weight:bold}"
        "button{font-size:1em;margin-right:1em}</style></head><body>\n"
        "<h1>Allow access to ", shown(r, mcp_resource_of(r, pl->conf)), "?</h1>\n"
        "<p><strong>", shown(r, name), "</strong> asks to use this MCP server "
        "on your behalf.</p>\n<dl>\n"
        "<dt>Answers go to</dt><dd>", shown(r, host), "</dd>\n",
        client->metadata_url ? "<dt>Client identity</dt><dd>" : "",
        client->metadata_url ? shown(r, client->metadata_url) : "",
        client->metadata_url ? "</dd>\n" : "",
        "<dt>Access asked for</dt><dd>", scope && *scope ? shown(r, scope) : "(default)",
        "</dd>\n</dl>\n<p>Only allow clients you started yourself.</p>\n"
        "<form method=\"post\" action=\"", ap_escape_html2(r->pool, r->uri, 1), "\">\n"
        "<input type=\"hidden\" name=\"ticket\" value=\"", ticket, "\">\n"
        "<input type=\"hidden\" name=\"csrf\" value=\"", csrf, "\">\n"
        "<button type=\"submit\" name=\"consent\" value=\"approve\">Approve</button>"
        "<button type=\"submit\" name=\"consent\" value=\"deny\">Deny</button>\n"
        "</form>\n</body></html>\n", NULL);
    (void)client_id;
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, (apr_off_t)strlen(page));
    if (!r->header_only)
        ap_rputs(page, r);
    return OK;
}

/* The answer to a consent form: its ticket holds the authorize request it
 * stands for; its CSRF value must match the cookie set with the page. */
apr_table_t *mcp_consent_answer(request_rec *r, const mcp_dir_conf_t *conf, const char **query, int *approved)
{
    const char *body, *dup, *csrf;
    apr_size_t len;
    apr_table_t *form;
    json_t *ticket;

    if (!started_here(r, conf, 0) || mcp_read_body(r, REQUEST_LIMIT, &body, &len) <= 0)
        return NULL;
    form = mcp_form_params(r->pool, body, &dup);
    ticket = mcp_relay_unseal_json(r, "ticket", apr_table_get(form, "ticket"));
    csrf = mcp_relay_cookie(r, mcp_relay_cookie_name(r, "csrf", NULL));
    if (dup || ticket == NULL || csrf == NULL || apr_table_get(form, "csrf") == NULL
        || strcmp(csrf, apr_table_get(form, "csrf")) != 0
        || strcmp(json_string_value(json_object_get(ticket, "x")) ? json_string_value(json_object_get(ticket, "x"))
                                                                   : "", csrf) != 0) {
        json_decref(ticket);
        return NULL;
    }
    *query = mcp_relay_member(r->pool, ticket, "q");
    *approved = apr_table_get(form, "consent") && strcmp(apr_table_get(form, "consent"), "approve") == 0;
    json_decref(ticket);
    return *query ? mcp_form_params(r->pool, *query, &dup) : NULL;
}

void mcp_consent_remember(request_rec *r, const mcp_dir_conf_t *conf, const char *client_id,
                          const char *redirect_uri, const char *scope)
{
    const char *key = consent_key(r, client_id, redirect_uri);
    const char *cookie = mcp_relay_seal_json(r, "consent",
                                             json_pack("{sssssI}", "c", key, "s", scope ? scope : "", "e",
                                                       (json_int_t)(mcp_relay_now() + mcp_consent_lifetime_of(conf))));

    /* approvals are many small cookies; past a few dozen they go, and the
     * user approves again rather than meet a Cookie header httpd refuses */
    mcp_relay_cookies_trim(r, mcp_relay_cookie_name(r, "consent", ""), MAX_APPROVALS);
    if (cookie)
        apr_table_addn(r->err_headers_out, "Set-Cookie",
                       apr_pstrcat(r->pool, consent_cookie_name(r, key), "=", cookie,
                                   mcp_relay_cookie_attrs(r, "Lax", mcp_consent_lifetime_of(conf)), NULL));
}
