/* Where a request carries its bearer token (RFC 6750 §2): the httpd side of
 * token extraction, which reads headers, the query and a form body. */
#ifndef MCP_PRESENTATION_H
#define MCP_PRESENTATION_H

#include <httpd.h>

#include "mcp_token.h"

/* Form bodies larger than this are not read for a token: 400. */
#define MCP_FORM_BODY_LIMIT (64 * 1024)

typedef struct mcp_presented {
    mcp_token_result_t result;
    const char *token;
    apr_size_t len;
    int method;         /* for PRESENT: the MCP_BEARER_* it came by */
    const char *why;    /* for MALFORMED: a short reason fit for the client */
    int dpop;           /* for PRESENT: "Authorization: DPoP" (RFC 9449 §7.1) */
    const char *proof;  /* the DPoP header, or NULL */
    int proofs;         /* how many DPoP header fields came (httpd joins them) */
    const char *proven_jkt; /* the key a proof of this request was accepted for */
} mcp_presented_t;

/* Looks for a token by each enabled method, and for a DPoP proof. Whatever token it finds leaves
 * the request for good (header unset, query parameter cut, form field cut
 * and the rest of the body replayed), so it is never forwarded. A method that
 * is not enabled is not looked at. Two tokens, by two methods or by one
 * repeated parameter, are MALFORMED. */
void mcp_find_token(request_rec *r, int methods, mcp_presented_t *out);

/* Hides r's query wherever the access log and CGI read it (the request
 * line, r->unparsed_uri, r->args: %r, %U%q), for queries that carry
 * secrets (an IdP's code); read the query before. */
void mcp_hide_logged_query(request_rec *r);

#endif
