/* Outbound HTTP GET for IdP documents (JWKS, discovery) with libcurl. */
#ifndef MCP_FETCH_H
#define MCP_FETCH_H

#include <apr_pools.h>
#include <sys/socket.h>

typedef struct mcp_fetch_opts {
    long connect_timeout_ms;
    long timeout_ms;          /* whole transfer: an idle timeout alone loses to slowloris */
    apr_size_t max_bytes;     /* body cap, enforced while receiving (chunked too) */
    const char *ca_file;      /* NULL: the system trust store */
    int public_only;          /* connect only to public addresses (client-supplied URLs) */
} mcp_fetch_opts_t;

typedef struct mcp_fetch_result {
    long status;              /* HTTP status, 0 when no response */
    const char *content_type; /* of the response, or NULL */
    char *body;               /* NUL-terminated, in the caller's pool */
    apr_size_t len;
    long max_age;             /* seconds from Cache-Control max-age or Expires, -1 if none */
    int unreachable;          /* failed before a connection was made (refused, connect timeout, name) */
} mcp_fetch_result_t;

/* Whether addr (IPv4 or IPv6) is a public unicast address: not loopback,
 * private (RFC 1918, RFC 4193), link-local, CGNAT, multicast, reserved or
 * unspecified, also when mapped into IPv6. Client-supplied URLs (Client ID
 * Metadata Documents) may only reach such addresses: SSRF. */
int mcp_address_is_public(const struct sockaddr *addr);

/* Process-wide libcurl setup; call once before any thread fetches. */
void mcp_fetch_global_init(void);

/* GET url (http or https only, TLS peer verified, redirects followed only
 * within the same origin, at most three). Returns
 * APR_SUCCESS only for a 200 response within the limits; otherwise *err says
 * what went wrong in a form fit for the error log. */
apr_status_t mcp_fetch_get(apr_pool_t *pool, const char *url, const mcp_fetch_opts_t *opts,
                           mcp_fetch_result_t *res, const char **err);

/* A POST passed on to the IdP (client registration, token requests).
 * Any status is returned as it came; redirects are not followed. */
typedef struct mcp_post {
    const char *url;
    const char *content_type;
    const char *authorization;  /* forwarded as is, or NULL */
    const char *accept;         /* or NULL */
    const char *forwarded_for;  /* X-Forwarded-For to send: who the client was, or NULL */
    const char *body;
    apr_size_t len;
} mcp_post_t;

apr_status_t mcp_fetch_post(apr_pool_t *pool, const mcp_post_t *post, const mcp_fetch_opts_t *opts,
                            mcp_fetch_result_t *res, const char **err);

#endif
