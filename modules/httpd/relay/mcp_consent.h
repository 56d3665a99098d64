/* Consent for static clients, and the relay's cookies. */
#ifndef MCP_CONSENT_H
#define MCP_CONSENT_H

#include <httpd.h>

#include "mcp_client.h"
#include "mcp_config.h"

/* Whether this browser approved client_id, answering at redirect_uri, for
 * at least scope, at r's location (a sealed cookie), and this request is a
 * navigation the user or an app started (Sec-Fetch-Site none), never one
 * another site or port sent the browser on. */
int mcp_consented(request_rec *r, const mcp_dir_conf_t *conf, const char *client_id, const char *redirect_uri,
                  const char *scope);

/* Sets the cookie that remembers the approval (MCPAuthConsentLifetime). */
void mcp_consent_remember(request_rec *r, const mcp_dir_conf_t *conf, const char *client_id,
                          const char *redirect_uri, const char *scope);

/* The consent page for an authorize request (query): who asks, for what,
 * where the answer goes; a POST form with a sealed ticket and a CSRF value
 * bound to a cookie; not framable, not cached. */
int mcp_consent_page(request_rec *r, const protected_location_t *pl, const mcp_client_t *client,
                     const char *client_id, const char *redirect_uri, const char *scope, const char *query);

/* The consent form's answer: the authorize request its ticket holds, and
 * whether the user approved; NULL when the ticket is expired, altered, or
 * its CSRF value does not match the cookie, or the form was posted from
 * another origin (Sec-Fetch-Site, else Origin). */
apr_table_t *mcp_consent_answer(request_rec *r, const mcp_dir_conf_t *conf, const char **query, int *approved);

/* The name of one of the relay's cookies on this site:
 * mcp_auth_<site tag>_<what>[_<first 16 characters of id>]. */
const char *mcp_relay_cookie_name(request_rec *r, const char *what, const char *id);

/* Tells the browser to drop the relay's cookie name. */
void mcp_relay_cookie_expire(request_rec *r, const char *name);

/* Drops every cookie of the relay named prefix* that the browser sent when
 * it sent max or more of them, or a Cookie header over 4 KiB. */
void mcp_relay_cookies_trim(request_rec *r, const char *prefix, int max);

/* The value of the cookie name, or NULL. */
const char *mcp_relay_cookie(request_rec *r, const char *name);

/* "; Path=...; Max-Age=...; HttpOnly; SameSite=...[; Secure]" for the
 * relay's cookies (path: the gateway's endpoints). */
const char *mcp_relay_cookie_attrs(request_rec *r, const char *same_site, long max_age);

#endif
