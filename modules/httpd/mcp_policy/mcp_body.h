/* Request bodies the module reads before the handler does. */
#ifndef MCP_BODY_H
#define MCP_BODY_H

#include <httpd.h>

/* Reads the whole request body into memory, up to limit bytes: 1, or -1
 * when it is larger, 0 when it cannot be read (cut short, a bad chunk). */
int mcp_read_body(request_rec *r, apr_size_t limit, const char **body, apr_size_t *len);

/* The request the client sent, behind internal redirects and subrequests. */
request_rec *mcp_client_request(request_rec *r);

/* The body of the request the client sent, read (up to limit) by the first
 * request of its chain (internal redirects, subrequests) that asks, and
 * kept: every request of the chain that asks judges the same bytes, and it
 * and the client's request replay them to whoever reads next. As
 * mcp_read_body answers: 1, -1 larger than limit, 0 unreadable. */
int mcp_read_client_body(request_rec *r, apr_size_t limit, const char **body, apr_size_t *len);

/* Hands len bytes of body (which must live as long as the request), in
 * place of the one read, to whoever reads the request next, with a
 * Content-Length to match. */
void mcp_body_replay(request_rec *r, const char *body, apr_size_t len);

/* An internal redirect starts with httpd's own input filters: the body a
 * request it came from is replaying goes on being replayed to this one. */
void mcp_body_inherit(request_rec *r);

/* The parameters of a query or form body (application/x-www-form-urlencoded),
 * decoded. A parameter given twice is refused (RFC 6749 §3.1): *dup names
 * it. */
apr_table_t *mcp_form_params(apr_pool_t *p, const char *text, const char **dup);

/* Registers the input filter that replays a body. */
void mcp_body_register(apr_pool_t *p);

#endif
