/* What the relay seals (mcp_seal.h), each under its own purpose:
 *   client   a registration: the IdP client behind it and the client's
 *            redirect URIs (mcp_client.h); this is the client_id
 *   state    a login in flight, given to the IdP as its state: which
 *            client, its redirect URI and state, when it expires, and a
 *            nonce that makes it single use
 *   code     the IdP's code, bound to the client and redirect URI it was
 *            issued for (RFC 6749 §4.1.3), given to the client as its code
 *   ticket   the authorize request behind a consent page, with the CSRF
 *            value its form must come back with
 *   consent  a browser's approval of one client, in a cookie
 * The threats this answers are listed in README.md ("The OAuth relay"). */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_atomic.h>
#include <apr_escape.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "mcp_cache.h"
#include "mcp_b64url.h"
#include "mcp_client.h"
#include "mcp_client_auth.h"
#include "mcp_discovery.h"
#include "mcp_docstore.h"
#include "mcp_facade.h"
#include "mcp_fetch.h"
#include "mcp_scope.h"
#include "mcp_seal.h"
#include "mcp_url.h"
#include "mcp_body.h"
#include "mcp_cors.h"
#include "mcp_endpoints.h"
#include "mcp_httpd.h"
#include "mcp_locations.h"
#include "mcp_presentation.h"
#include "mcp_relay.h"
#include "mcp_consent.h"
#include "mcp_relay_bounds.h"
#include "mcp_relay_idp.h"
#include "mcp_relay_key.h"
#include "mcp_relay_seal.h"
#include "mcp_request_keys.h"
#include "mcp_respond.h"
#include "mcp_shared_cache.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

#define REQUEST_LIMIT (64 * 1024)
#define STATE_LIFETIME 600       /* seconds a login may take at the IdP */
#define CODE_LIFETIME 300        /* seconds a client has to redeem its code */
/* logins one browser may have under way at once (tabs, clients) */
#define MAX_LOGINS_IN_FLIGHT 8
#define REFRESH_RECORD_LIFETIME (30 * 86400) /* seconds a rotated-out refresh token stays refused */
#define MAX_CLIENT_ID 4096       /* sealed client ids beyond this are refused at registration */
#define MAX_PARAM 1024           /* client state and scope: they travel sealed */

/* ---- small tools ---- */

static const char *form_pair(apr_pool_t *p, const char *name, const char *value)
{
    return apr_pstrcat(p, name, "=", apr_pescape_urlencoded(p, value), NULL);
}

/* Appends name=value (value NULL: nothing) to a query being built. */
static void add_param(apr_pool_t *p, const char **q, const char *name, const char *value)
{
    if (value)
        *q = apr_pstrcat(p, *q, **q ? "&" : "", form_pair(p, name, value), NULL);
}

static const char *with_query(apr_pool_t *p, const char *url, const char *query)
{
    return apr_pstrcat(p, url, strchr(url, '?') ? "&" : "?", query, NULL);
}

static int redirect_to(request_rec *r, const char *url)
{
    apr_table_setn(r->headers_out, "Location", url);
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    return HTTP_MOVED_TEMPORARILY;
}

/* RFC 6749 §4.1.2.1: an error the client's redirect URI may hear, with its
 * state and, RFC 9207, the gateway as issuer. */
static int redirect_error(request_rec *r, const mcp_dir_conf_t *conf, const char *redirect_uri,
                          const char *state, const char *error, const char *description)
{
    const char *q = "";

    add_param(r->pool, &q, "error", error);
    add_param(r->pool, &q, "error_description", description);
    add_param(r->pool, &q, "state", state);
    add_param(r->pool, &q, "iss", mcp_authorization_server(r, conf));
    return redirect_to(r, with_query(r->pool, redirect_uri, q));
}

/* ---- clients ---- */

/* A Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document)
 * as a client: fetched with the module's fetcher (size cap, timeouts,
 * same-origin redirects only), from public addresses only unless
 * MCPAuthClientMetadataAllowPrivate, kept in the shared cache by its
 * Cache-Control like the IdP's documents. */
static void *parse_metadata_document(apr_pool_t *pool, const char *body, apr_size_t len, const void *ctx,
                                     const char **err)
{
    mcp_client_t *client = apr_pcalloc(pool, sizeof(*client));
    const char *desc = NULL;

    if (mcp_client_from_metadata_document(pool, ctx, body, len, client, &desc) != NULL) {
        *err = desc;
        return NULL;
    }
    return client;
}

/* Client metadata lookups under way in this process, and how many may be:
 * a slow server named by a client then holds a few threads, not all. */
static apr_uint32_t metadata_lookups;
#define MAX_METADATA_LOOKUPS 8
#define METADATA_CONNECT_TIMEOUT_MS 3000L
#define METADATA_TIMEOUT_MS 5000L

static const mcp_client_t *mcp_client_metadata_document(request_rec *r, const mcp_dir_conf_t *conf,
                                                        const char *url, const char **why)
{
    mcp_doc_policy_t policy;
    const mcp_doc_t *doc;
    const char *err = NULL;

    if (!mcp_cimd_enabled(conf) || (conf->client_id == NULL && !mcp_relay_idp_registers(r, conf))) {
        *why = "client metadata documents are not accepted here";
        return NULL;
    }
    if (!mcp_is_http_url(url) || strchr(url, '#') || strlen(url) > 2048) {
        *why = "the client id is not a usable https URL";
        return NULL;
    }
    mcp_doc_policy_of(conf, &policy);
    policy.kind = MCP_DOC_CLIENT_METADATA;
    policy.fetch.public_only = conf->client_metadata_private != 1;
    policy.fetch.max_bytes = 64 * 1024;
    if (policy.fetch.connect_timeout_ms > METADATA_CONNECT_TIMEOUT_MS)
        policy.fetch.connect_timeout_ms = METADATA_CONNECT_TIMEOUT_MS;
    if (policy.fetch.timeout_ms > METADATA_TIMEOUT_MS)
        policy.fetch.timeout_ms = METADATA_TIMEOUT_MS;
    if (apr_atomic_inc32(&metadata_lookups) >= MAX_METADATA_LOOKUPS) {
        apr_atomic_dec32(&metadata_lookups);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "MCPAUTH0048: %d client metadata documents are being fetched already; refused %s",
                      MAX_METADATA_LOOKUPS, mcp_url_redacted(r->pool, url));
        *why = "too many client metadata documents are being fetched; try again shortly";
        return NULL;
    }
    doc = mcp_docstore_get(mcp_shared_client_docstore(), url, parse_metadata_document, url, &policy, 0, r->pool, &err);
    apr_atomic_dec32(&metadata_lookups);
    if (doc == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0044: client metadata document: %s", err);
        *why = "the client metadata document cannot be fetched or is not valid";
        return NULL;
    }
    return doc->parsed;
}

/* A client id the gateway handed out, or (CIMD) an https URL whose
 * document names the client. NULL with *why for the error page. */
static const mcp_client_t *client_of(request_rec *r, const mcp_dir_conf_t *conf, const char *client_id,
                                     const char **why)
{
    mcp_client_t *client = apr_pcalloc(r->pool, sizeof(*client));
    json_t *doc;
    char *text;
    int ok;

    if (client_id == NULL || !*client_id) {
        *why = "client_id is missing";
        return NULL;
    }
    if (strncmp(client_id, "https://", 8) == 0)
        return mcp_client_metadata_document(r, conf, client_id, why);
    doc = mcp_relay_unseal_json(r, "client", client_id);
    if (doc == NULL) {
        *why = "unknown client_id";
        return NULL;
    }
    text = json_dumps(doc, JSON_COMPACT);
    ok = text && mcp_client_from_json(r->pool, text, strlen(text), client);
    free(text);
    json_decref(doc);
    if (!ok) {
        *why = "unknown client_id";
        return NULL;
    }
    return client;
}

/* The start of the POST endpoints (register, token): CORS for browser
 * clients, POST only, the body read within its limit. OK, or the answer. */
static int read_post(request_rec *r, const mcp_dir_conf_t *conf, const char **body, apr_size_t *len)
{
    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, conf, 1, "POST, OPTIONS");
    mcp_cors_headers(r, conf, 1);
    if (r->method_number != M_POST)
        return mcp_method_not_allowed(r, conf, "POST, OPTIONS");
    if (mcp_read_body(r, REQUEST_LIMIT, body, len) <= 0)
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    return OK;
}

/* ---- register ---- */

/* The client's own registration at the IdP, for the gateway's callback. */
static const char *idp_registration(request_rec *r, const protected_location_t *pl, const char *body,
                                    apr_size_t len, mcp_client_t *client, int *status, const char **answer)
{
    /* an initial access token (RFC 7591 §3) goes on; other credentials,
     * such as an administrator's Basic password for a protected register
     * endpoint, are for httpd, not the IdP */
    const char *bearer = apr_table_get(r->headers_in, "Authorization");

    if (bearer && strncasecmp(bearer, "Bearer ", 7) != 0)
        bearer = NULL;
    return mcp_relay_register_at_idp(r, pl,
                                     mcp_client_idp_registration(r->pool, body, len,
                                                                 mcp_endpoint_url(r, pl, MCP_ENDPOINT_CALLBACK)),
                                     bearer, &client->idp_client_id, &client->idp_client_secret, status, answer);
}

int mcp_relay_register(request_rec *r, const protected_location_t *pl)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const char *body, *error, *desc = NULL, *answer = NULL, *client_id, *text;
    apr_size_t len;
    mcp_client_t client;
    int status = HTTP_BAD_REQUEST, rc;
    long issued = mcp_relay_now();

    mcp_relay_bind(r, pl);

    if ((rc = read_post(r, conf, &body, &len)) != OK)
        return rc;
    /* RFC 7591 §3.2.2: the client's metadata is checked here first, so a
     * bad redirect URI never reaches the IdP */
    if ((error = mcp_client_from_registration(r->pool, body, len, &client, &desc)) != NULL)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, error, desc);
    if (conf->client_id == NULL
        && (desc = idp_registration(r, pl, body, len, &client, &status, &answer)) != NULL) {
        if (answer) {
            r->status = status;
            return mcp_send_json(r, status, "no-store", answer);
        }
        if (status == HTTP_SERVICE_UNAVAILABLE)
            return mcp_idp_unavailable(r, desc);
        return mcp_send_oauth_error(r, status, "invalid_request", desc);
    }
    text = mcp_client_to_json(r->pool, &client);
    client_id = mcp_relay_key_or_log(r) ? mcp_seal(r->pool, mcp_relay_key(), mcp_relay_purpose(r, "client"), text, strlen(text)) : NULL;
    if (client_id == NULL)
        return mcp_send_oauth_error(r, HTTP_INTERNAL_SERVER_ERROR, "server_error", "cannot register now");
    /* a client id must be usable where it comes back (authorize, token) */
    if (strlen(client_id) > MAX_CLIENT_ID)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_client_metadata",
                                    "the registration is too large (fewer or shorter redirect URIs)");
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0042: registered client %s for %s",
                  mcp_loggable(r, client.client_name ? client.client_name : "(no name)"), r->uri);
    return mcp_send_json(r, HTTP_CREATED, "no-store",
                         mcp_client_registration_response(r->pool, client_id, &client, issued));
}

/* ---- authorize ---- */

/* An authorize error: to the client's redirect URI, or, for a client the
 * user has not approved, on a page here. */
static int refuse(request_rec *r, const mcp_dir_conf_t *conf, int unconfirmed, const char *redirect_uri,
                  const char *state, const char *error, const char *description)
{
    if (unconfirmed)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, error, description);
    return redirect_error(r, conf, redirect_uri, state, error, description);
}

/* The login goes on at the IdP: the gateway's client and callback, the
 * client's PKCE challenge (its verifier comes with the token request, so
 * the IdP itself checks PKCE end to end), and the transaction sealed into
 * state. */
static int to_idp(request_rec *r, const protected_location_t *pl, const mcp_client_t *client,
                  const char *client_id, apr_table_t *p)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const mcp_discovery_t *d;
    const char *err = NULL, *idp_id, *idp_secret, *state, *q = "";
    mcp_provider_t provider = mcp_provider_of(conf);
    unsigned char nonce[16], browser[16];
    const char *nonce_hex, *browser_hex;

    d = mcp_idp_metadata(r, conf, &err);
    if (d == NULL || d->authorization_endpoint == NULL)
        return mcp_idp_unavailable(r, d ? "no authorization_endpoint" : err);
    if (!mcp_relay_idp_client(r, pl, client, &idp_id, &idp_secret, &err))
        return redirect_error(r, conf, apr_table_get(p, "redirect_uri"), apr_table_get(p, "state"),
                              "server_error", err);
    if (!mcp_seal_random(nonce, sizeof(nonce)) || !mcp_seal_random(browser, sizeof(browser)))
        return HTTP_INTERNAL_SERVER_ERROR;
    nonce_hex = apr_pescape_hex(r->pool, nonce, sizeof(nonce), 0);
    browser_hex = apr_pescape_hex(r->pool, browser, sizeof(browser), 0);
    state = mcp_relay_seal_json(r, "state", json_pack("{sssssssssssssssI}", "c", client_id, "r", apr_table_get(p, "redirect_uri"),
                                            "s", apr_table_get(p, "state") ? apr_table_get(p, "state") : "",
                                            "n", nonce_hex, "b", mcp_relay_hash(r->pool, browser_hex),
                                            "cc", apr_table_get(p, "code_challenge"),
                                            "sc", apr_table_get(p, "scope") ? apr_table_get(p, "scope") : "",
                                            "e", (json_int_t)(mcp_relay_now() + STATE_LIFETIME)));
    if (state == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    /* the login is bound to this browser: the callback wants this cookie
     * back, so a victim sent to the IdP with another's state (to skip
     * consent, or to log in as someone else) is refused. A page that sends
     * the browser here again and again must not grow its Cookie header
     * past what httpd accepts. */
    mcp_relay_cookies_trim(r, mcp_relay_cookie_name(r, "login", ""), MAX_LOGINS_IN_FLIGHT);
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   apr_pstrcat(r->pool, mcp_relay_cookie_name(r, "login", nonce_hex), "=", browser_hex,
                               mcp_relay_cookie_attrs(r, "Lax", STATE_LIFETIME), NULL));
    add_param(r->pool, &q, "response_type", "code");
    add_param(r->pool, &q, "client_id", idp_id);
    add_param(r->pool, &q, "redirect_uri", mcp_endpoint_url(r, pl, MCP_ENDPOINT_CALLBACK));
    add_param(r->pool, &q, "scope", apr_table_get(p, "scope"));
    add_param(r->pool, &q, "state", state);
    add_param(r->pool, &q, "code_challenge", apr_table_get(p, "code_challenge"));
    add_param(r->pool, &q, "code_challenge_method", "S256");
    /* Entra refuses RFC 8707 resource; Auth0 and Okta bind by audience */
    if (provider != MCP_PROVIDER_ENTRA)
        add_param(r->pool, &q, "resource", mcp_resource_of(r, conf));
    if (provider == MCP_PROVIDER_AUTH0 || provider == MCP_PROVIDER_OKTA)
        add_param(r->pool, &q, "audience", mcp_resource_of(r, conf));
    add_param(r->pool, &q, "prompt", apr_table_get(p, "prompt"));
    add_param(r->pool, &q, "login_hint", apr_table_get(p, "login_hint"));
    return redirect_to(r, with_query(r->pool, d->authorization_endpoint, q));
}

int mcp_relay_authorize(request_rec *r, const protected_location_t *pl)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const char *query = r->args ? r->args : "", *dup = NULL, *why = NULL, *client_id, *redirect_uri, *state, *scope;
    const mcp_client_t *client;
    apr_table_t *p;
    int from_consent = 0, approved = 0, unconfirmed, scope_ok;

    mcp_relay_bind(r, pl);

    if (r->method_number == M_OPTIONS)
        return mcp_cors_preflight(r, conf, 1, "GET, POST, OPTIONS");
    if (r->method_number == M_POST) {
        p = mcp_consent_answer(r, conf, &query, &approved);
        if (p == NULL)
            return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                                        "the consent form is expired, altered or not from this browser");
        from_consent = 1;
    }
    else if (r->method_number == M_GET) {
        p = mcp_form_params(r->pool, query, &dup);
    }
    else {
        return mcp_method_not_allowed(r, conf, "GET, POST, OPTIONS");
    }
    client_id = apr_table_get(p, "client_id");
    redirect_uri = apr_table_get(p, "redirect_uri");
    state = apr_table_get(p, "state");
    scope = mcp_relay_scope_of(r, p, &scope_ok);
    /* Until the client and its redirect URI are known good, errors are
     * shown here and never sent anywhere (no open redirect, §4.1.2.1). */
    if (dup && (strcmp(dup, "client_id") == 0 || strcmp(dup, "redirect_uri") == 0))
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                                    apr_psprintf(r->pool, "%s is given more than once", dup));
    if ((client = client_of(r, conf, client_id, &why)) == NULL)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_client", why);
    if (redirect_uri == NULL || !mcp_client_has_redirect_uri(client, redirect_uri))
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                                    "redirect_uri is missing or not one the client registered");
    /* A static client the user has not approved yet is anyone's: its
     * errors are shown here rather than sent to its redirect URI, so the
     * gateway cannot be used to bounce browsers to it (RFC 9700 §4.11.2). */
    unconfirmed = client->idp_client_id == NULL && !from_consent
                  && !mcp_consented(r, conf, client_id, redirect_uri, scope);
    if (dup)
        return refuse(r, conf, unconfirmed, redirect_uri, state, "invalid_request",
                      apr_psprintf(r->pool, "%s is given more than once", dup));
    if (apr_table_get(p, "response_type") == NULL || strcmp(apr_table_get(p, "response_type"), "code") != 0)
        return refuse(r, conf, unconfirmed, redirect_uri, state, "unsupported_response_type", "only code is served");
    /* OAuth 2.1 §4.1.1 and the MCP spec: PKCE with S256, always */
    if (apr_table_get(p, "code_challenge") == NULL || apr_table_get(p, "code_challenge_method") == NULL
        || strcmp(apr_table_get(p, "code_challenge_method"), "S256") != 0)
        return refuse(r, conf, unconfirmed, redirect_uri, state, "invalid_request", "PKCE with S256 is required");
    /* RFC 7636 §4.2: an S256 challenge is a SHA-256 in base64url, 43 characters */
    if (strlen(apr_table_get(p, "code_challenge")) != 43
        || !mcp_b64url_is_strict(apr_table_get(p, "code_challenge"), 43))
        return refuse(r, conf, unconfirmed, redirect_uri, state, "invalid_request",
                      "code_challenge is not an S256 challenge (43 base64url characters)");
    if ((why = mcp_relay_foreign_resource(r, conf, apr_table_get(p, "resource"))) != NULL)
        return refuse(r, conf, unconfirmed, redirect_uri, state, "invalid_target", why);
    if ((why = mcp_relay_foreign_scope(r, conf, scope, scope_ok)) != NULL)
        return refuse(r, conf, unconfirmed, redirect_uri, state, "invalid_scope", why);
    /* they travel sealed in state and the consent ticket */
    if ((state && strlen(state) > MAX_PARAM) || (scope && strlen(scope) > MAX_PARAM))
        return refuse(r, conf, unconfirmed, redirect_uri, NULL, "invalid_request", "state or scope too long");
    /* MCP "Confused Deputy Problem": one IdP client stands for every
     * caller here, so the user approves each client first */
    if (client->idp_client_id == NULL) {
        if (from_consent && !approved)
            return redirect_error(r, conf, redirect_uri, state, "access_denied", "the user denied access");
        if (from_consent)
            mcp_consent_remember(r, conf, client_id, redirect_uri, scope);
        else if (unconfirmed) {
            return mcp_consent_page(r, pl, client, client_id, redirect_uri, scope, query);
        }
    }
    return to_idp(r, pl, client, client_id, p);
}

/* ---- callback ---- */

/* The IdP's answer for a login the gateway started. Checked as a careful
 * client would: the state must be ours, unexpired and unused; the iss
 * parameter, when present, must be the IdP's issuer, and must be present
 * when the IdP promises it (RFC 9207 §2.4: mix-up). Then the answer goes to
 * the client's redirect URI, with the code sealed to that client and the
 * gateway as issuer. */
int mcp_relay_callback(request_rec *r, const protected_location_t *pl)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const char *dup, *client_id, *redirect_uri, *cstate, *iss, *code, *err = NULL, *sealed, *q = "";
    const char *challenge, *scope, *browser, *login_cookie, *record;
    const mcp_discovery_t *d;
    apr_table_t *p;
    json_t *txn;
    mcp_claim_t once;

    mcp_relay_bind(r, pl);

    /* the IdP's code is a secret: not in the access log, whatever comes */
    p = mcp_form_params(r->pool, r->args, &dup);
    mcp_hide_logged_query(r);
    if (r->method_number != M_GET)
        return mcp_method_not_allowed(r, conf, "GET");
    txn = dup ? NULL : mcp_relay_unseal_json(r, "state", apr_table_get(p, "state"));
    if (txn == NULL)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                                    "unknown or expired state: start the login again from the client");
    client_id = mcp_relay_member(r->pool, txn, "c");
    redirect_uri = mcp_relay_member(r->pool, txn, "r");
    cstate = mcp_relay_member(r->pool, txn, "s");
    challenge = mcp_relay_member(r->pool, txn, "cc");
    scope = mcp_relay_member(r->pool, txn, "sc");
    login_cookie = mcp_relay_cookie_name(r, "login", mcp_relay_member(r->pool, txn, "n") ? mcp_relay_member(r->pool, txn, "n") : "");
    browser = mcp_relay_cookie(r, login_cookie);
    /* used once: the browser need not carry it any longer */
    if (browser)
        mcp_relay_cookie_expire(r, login_cookie);
    if (browser == NULL || mcp_relay_member(r->pool, txn, "b") == NULL
        || strcmp(mcp_relay_hash(r->pool, browser), mcp_relay_member(r->pool, txn, "b")) != 0) {
        json_decref(txn);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0046: authorization response in a browser that did "
                      "not start the login: refused");
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request",
                                    "this login was not started in this browser: start it again from the client");
    }
    if (cstate && !*cstate)
        cstate = NULL;
    once = mcp_use_once(r, MCP_ONCE_ANYONE, "relay-state", mcp_relay_hash(r->pool, mcp_relay_member(r->pool, txn, "n")), STATE_LIFETIME + 60, &record);
    json_decref(txn);
    if (once == MCP_CLAIM_UNAVAILABLE) {
        apr_table_setn(r->err_headers_out, "Retry-After", "10");
        return mcp_send_oauth_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable", MCP_RELAY_STORE_DOWN);
    }
    if (once == MCP_CLAIM_HELD)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request", "this login was finished already");
    if (client_id == NULL || redirect_uri == NULL)
        return mcp_send_oauth_error(r, HTTP_BAD_REQUEST, "invalid_request", "unusable state");
    d = mcp_idp_metadata(r, conf, &err);
    if (d == NULL)
        return mcp_idp_unavailable(r, err);
    iss = apr_table_get(p, "iss");
    if ((iss && strcmp(iss, d->issuer) != 0) || (iss == NULL && d->iss_parameter)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      "MCPAUTH0043: authorization response with iss %s, expected %s: refused (mix-up)",
                      mcp_loggable(r, iss), mcp_loggable(r, d->issuer));
        return redirect_error(r, conf, redirect_uri, cstate, "server_error",
                              "the identity provider's answer failed the issuer check");
    }
    if (apr_table_get(p, "error"))
        return redirect_error(r, conf, redirect_uri, cstate, apr_table_get(p, "error"),
                              apr_table_get(p, "error_description"));
    code = apr_table_get(p, "code");
    if (code == NULL || !*code)
        return redirect_error(r, conf, redirect_uri, cstate, "server_error", "the identity provider sent no code");
    sealed = mcp_relay_seal_json(r, "code", json_pack("{sssssssssssI}", "i", code, "c", client_id, "r", redirect_uri,
                                            "cc", challenge ? challenge : "", "sc", scope ? scope : "", "e",
                                            (json_int_t)(mcp_relay_now() + CODE_LIFETIME)));
    if (sealed == NULL)
        return HTTP_INTERNAL_SERVER_ERROR;
    add_param(r->pool, &q, "code", sealed);
    add_param(r->pool, &q, "state", cstate);
    add_param(r->pool, &q, "iss", mcp_authorization_server(r, conf));
    return redirect_to(r, with_query(r->pool, redirect_uri, q));
}

/* ---- token ---- */

static int token_error(request_rec *r, int status, const char *error, const char *description)
{
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "MCPAUTH0045: token request refused: %s (%s)", error, description);
    return mcp_send_oauth_error(r, status, error, description);
}

/* A client that shares the static IdP client: the IdP cannot tell it from
 * the others, so the gateway must (OAuth 2.1 §4.3.1, refresh tokens bound
 * to their client). */
static int shares_idp_client(const mcp_client_t *client)
{
    return client->idp_client_id == NULL;
}

/* The IdP's token answer with its refresh token sealed to client_id and
 * the scope the user approved, so that no other client of the shared IdP
 * client can redeem it nor this one widen it; anything else in the answer
 * is left as it is. NULL when there is nothing to seal. */
static char *bind_refresh_token(request_rec *r, const char *client_id, const char *approved, const char *body,
                                apr_size_t len, apr_size_t *out_len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *rt = doc ? json_object_get(doc, "refresh_token") : NULL;
    const char *sealed;
    char *text, *out = NULL;

    if (!json_is_string(rt)) {
        json_decref(doc);
        return NULL;
    }
    sealed = mcp_relay_seal_json(r, "refresh", json_pack("{ssssss}", "c", mcp_relay_hash(r->pool, client_id),
                                                         "t", json_string_value(rt), "s", approved ? approved : ""));
    /* a refresh token that cannot be bound is not handed out */
    if (sealed)
        json_object_set_new(doc, "refresh_token", json_string(sealed));
    else
        json_object_del(doc, "refresh_token");
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text) {
        *out_len = strlen(text);
        out = apr_pstrmemdup(r->pool, text, *out_len);
        free(text);
    }
    return out;
}

/* Sends form to the IdP's token endpoint as the IdP client, and the IdP's
 * answer back as it came (but for a shared IdP client's refresh token,
 * sealed to the client it was issued for). */
/* Whether the IdP's token answer rotated the refresh token old: a new one
 * came, so old is spent (OAuth 2.1 §4.3.1). */
static int rotated(const mcp_fetch_result_t *res, const char *old)
{
    json_t *doc = res->status == HTTP_OK ? json_loadb(res->body, res->len, 0, NULL) : NULL;
    const char *fresh = json_string_value(json_object_get(doc, "refresh_token"));
    int yes = fresh && old && strcmp(fresh, old) != 0;

    json_decref(doc);
    return yes;
}

static int to_idp_token(request_rec *r, const protected_location_t *pl, const mcp_client_t *client,
                        const char *client_id, const char *approved, const char *form,
                        const char *refresh_token, const char *refresh_record)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const mcp_discovery_t *d;
    const char *err = NULL, *idp_id, *idp_secret;
    mcp_post_t post;
    mcp_fetch_result_t res;

    d = mcp_idp_metadata(r, conf, &err);
    if (d == NULL || d->token_endpoint == NULL)
        return mcp_idp_unavailable(r, d ? "no token_endpoint" : err);
    if (!mcp_relay_idp_client(r, pl, client, &idp_id, &idp_secret, &err))
        return token_error(r, HTTP_BAD_REQUEST, "invalid_client", err);
    memset(&post, 0, sizeof(post));
    if (idp_secret) {
        post.authorization = mcp_client_secret_basic(r->pool, idp_id, idp_secret);
    }
    else {
        form = apr_pstrcat(r->pool, form, "&", form_pair(r->pool, "client_id", idp_id), NULL);
    }
    post.url = d->token_endpoint;
    post.content_type = "application/x-www-form-urlencoded";
    post.body = form;
    if (!mcp_relay_post(r, conf, &post, &res)) {
        if (refresh_record)
            mcp_give_back(r, refresh_record);
        apr_table_setn(r->headers_out, "Retry-After", "30");
        return token_error(r, HTTP_BAD_GATEWAY, "temporarily_unavailable", "the authorization server did not answer");
    }
    /* an IdP that lets refresh tokens be used again keeps them usable here */
    if (refresh_record && !rotated(&res, refresh_token))
        mcp_give_back(r, refresh_record);
    if (res.status == HTTP_OK && shares_idp_client(client)) {
        apr_size_t bound_len = 0;
        char *bound = bind_refresh_token(r, client_id, approved, res.body, res.len, &bound_len);

        if (bound) {
            res.body = bound;
            res.len = bound_len;
        }
    }
    r->status = (int)res.status;
    ap_set_content_type(r, res.content_type ? res.content_type : "application/json");
    apr_table_setn(r->err_headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)res.len);
    if (!r->header_only && res.len)
        ap_rwrite(res.body, (int)res.len, r);
    return OK;
}

int mcp_relay_token(request_rec *r, const protected_location_t *pl)
{
    const mcp_dir_conf_t *conf = pl->conf;
    const char *body, *dup, *grant, *client_id, *why = NULL, *form = "", *approved = NULL;
    const char *refresh_token = NULL, *record = NULL;
    mcp_claim_t once;
    const mcp_client_t *client;
    apr_size_t len;
    apr_table_t *p;
    int entra = mcp_provider_of(conf) == MCP_PROVIDER_ENTRA, rc, scope_ok;

    mcp_relay_bind(r, pl);

    if ((rc = read_post(r, conf, &body, &len)) != OK)
        return rc;
    if (strlen(body) != len)
        return token_error(r, HTTP_BAD_REQUEST, "invalid_request", "the request body holds a NUL byte");
    p = mcp_form_params(r->pool, body, &dup);
    if (dup)
        return token_error(r, HTTP_BAD_REQUEST, "invalid_request",
                           apr_psprintf(r->pool, "%s is given more than once", dup));
    grant = apr_table_get(p, "grant_type");
    client_id = apr_table_get(p, "client_id");
    if ((client = client_of(r, conf, client_id, &why)) == NULL)
        return token_error(r, HTTP_UNAUTHORIZED, "invalid_client", why);
    /* before any code or refresh token is spent */
    if ((why = mcp_relay_foreign_resource(r, conf, apr_table_get(p, "resource"))) != NULL)
        return token_error(r, HTTP_BAD_REQUEST, "invalid_target", why);
    if (grant && strcmp(grant, "authorization_code") == 0) {
        json_t *code = mcp_relay_unseal_json(r, "code", apr_table_get(p, "code"));
        const char *redirect_uri = apr_table_get(p, "redirect_uri");
        int bound = code && json_is_string(json_object_get(code, "c")) && json_is_string(json_object_get(code, "r"))
                    && strcmp(json_string_value(json_object_get(code, "c")), client_id) == 0
                    && redirect_uri && strcmp(json_string_value(json_object_get(code, "r")), redirect_uri) == 0;

        if (!bound) {
            json_decref(code);
            return token_error(r, HTTP_BAD_REQUEST, "invalid_grant",
                               "the code is unknown, expired, or was issued to another client or redirect URI");
        }
        /* RFC 7636 §4.6, checked here too: the relay does not rely on the
         * IdP to enforce the challenge it was given */
        if (!mcp_client_pkce_s256_matches(apr_table_get(p, "code_verifier"), mcp_relay_member(r->pool, code, "cc"))) {
            json_decref(code);
            return token_error(r, HTTP_BAD_REQUEST, "invalid_grant", "the code_verifier does not match the challenge");
        }
        add_param(r->pool, &form, "grant_type", "authorization_code");
        add_param(r->pool, &form, "code", mcp_relay_member(r->pool, code, "i"));
        add_param(r->pool, &form, "redirect_uri", mcp_endpoint_url(r, pl, MCP_ENDPOINT_CALLBACK));
        add_param(r->pool, &form, "code_verifier", apr_table_get(p, "code_verifier"));
        approved = mcp_relay_member(r->pool, code, "sc");
        once = mcp_use_once(r, MCP_ONCE_AFTER_CHECK, "relay-code", mcp_relay_hash(r->pool, mcp_relay_member(r->pool, code, "i")), CODE_LIFETIME + 60, &record);
        json_decref(code);
        record = NULL; /* a code is spent whatever the IdP answers */
        if (once == MCP_CLAIM_UNAVAILABLE)
            return token_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable", MCP_RELAY_STORE_DOWN);
        if (once == MCP_CLAIM_HELD)
            return token_error(r, HTTP_BAD_REQUEST, "invalid_grant", "the code was used already");
    }
    else if (grant && strcmp(grant, "refresh_token") == 0) {
        const char *scope = mcp_relay_scope_of(r, p, &scope_ok);

        refresh_token = apr_table_get(p, "refresh_token");
        if (refresh_token == NULL)
            return token_error(r, HTTP_BAD_REQUEST, "invalid_request", "refresh_token is missing");
        if (shares_idp_client(client)) {
            json_t *bound = mcp_relay_unseal_json(r, "refresh", refresh_token);
            const char *owner = mcp_relay_member(r->pool, bound, "c");

            refresh_token = mcp_relay_member(r->pool, bound, "t");
            approved = mcp_relay_member(r->pool, bound, "s");
            json_decref(bound);
            if (owner == NULL || refresh_token == NULL || strcmp(owner, mcp_relay_hash(r->pool, client_id)) != 0)
                return token_error(r, HTTP_BAD_REQUEST, "invalid_grant",
                                   "the refresh token is unknown or was issued to another client");
            /* RFC 6749 §6: never more than was granted, and here granted
             * means what the user approved on the consent page */
            if (!mcp_scope_list_covers(r->pool, approved ? approved : "", scope))
                return token_error(r, HTTP_BAD_REQUEST, "invalid_scope",
                                   "the scope asked for is more than the user approved");
            if (scope == NULL && approved && *approved)
                scope = approved;
        }
        if ((why = mcp_relay_foreign_scope(r, conf, scope, scope_ok)) != NULL)
            return token_error(r, HTTP_BAD_REQUEST, "invalid_scope", why);
        add_param(r->pool, &form, "grant_type", "refresh_token");
        add_param(r->pool, &form, "refresh_token", refresh_token);
        add_param(r->pool, &form, "scope", scope);
        once = mcp_use_once(r, MCP_ONCE_AFTER_CHECK, "relay-refresh", mcp_relay_hash(r->pool, refresh_token), REFRESH_RECORD_LIFETIME, &record);
        if (once == MCP_CLAIM_UNAVAILABLE)
            return token_error(r, HTTP_SERVICE_UNAVAILABLE, "temporarily_unavailable", MCP_RELAY_STORE_DOWN);
        if (once == MCP_CLAIM_HELD)
            return token_error(r, HTTP_BAD_REQUEST, "invalid_grant", "the refresh token was used already");
    }
    else {
        return token_error(r, HTTP_BAD_REQUEST, "unsupported_grant_type",
                           "only authorization_code and refresh_token are served");
    }
    if (!entra)
        add_param(r->pool, &form, "resource", mcp_resource_of(r, conf));
    return to_idp_token(r, pl, client, client_id, approved, form, refresh_token, record);
}
