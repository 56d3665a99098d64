/* Answers the gateway writes itself (JSON documents, OAuth error documents,
 * 405s), and client-supplied words made fit for the error log. */
#ifndef MCP_RESPOND_H
#define MCP_RESPOND_H

#include <httpd.h>
#include <util_filter.h>

#include "mcp_config.h"

/* Answers with a JSON document (status, Cache-Control, body). Returns OK. */
int mcp_send_json(request_rec *r, int status, const char *cache_control, const char *body);

/* An RFC 6749 §5.2-style error document, not cacheable. Returns OK. */
int mcp_send_oauth_error(request_rec *r, int status, const char *error, const char *description);

/* {"error":…,"error_description":…} (RFC 6749 §5.2), in p. */
const char *mcp_oauth_error_body(apr_pool_t *p, const char *error, const char *description);

/* 405 with the right Allow header (and CORS, for browsers to read it). */
int mcp_method_not_allowed(request_rec *r, const mcp_dir_conf_t *conf, const char *allow);

/* A page of the module's own (SetHandler NAME, read-only): DECLINED when
 * r is not for it, the 405 for a method other than GET and HEAD, else OK. */
int mcp_page_request(request_rec *r, const char *handler);

/* Whether r's output filter chain has the filter of this registration. */
int mcp_has_output_filter(request_rec *r, const ap_filter_rec_t *frec);

/* X-Forwarded-For for a request the gateway makes to the IdP for r. */
const char *mcp_forwarded_for(request_rec *r);

/* s escaped for a log line and cut at 128 characters ("-" for NULL). */
const char *mcp_loggable(request_rec *r, const char *s);

#endif
