#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "mcp_challenge.h"

/* error_description / scope: %x20-21 / %x23-5B / %x5D-7E; anything else,
 * including '"' and '\', becomes '?'. */
static const char *quotable(apr_pool_t *pool, const char *s)
{
    char *out = apr_pstrdup(pool, s), *p;

    for (p = out; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
            *p = '?';
    }
    return out;
}

/* One scheme's challenge; with_error: its error parameters too. */
static const char *challenge(apr_pool_t *pool, const mcp_challenge_t *c, const char *scheme, int with_error)
{
    const char *h = apr_pstrcat(pool, scheme, " resource_metadata=\"", quotable(pool, c->resource_metadata), "\"", NULL);

    if (strcmp(scheme, "DPoP") == 0)
        h = apr_pstrcat(pool, h, ", algs=\"", quotable(pool, c->dpop_algs), "\"", NULL);
    if (!with_error)
        return h;
    if (c->error)
        h = apr_pstrcat(pool, h, ", error=\"", quotable(pool, c->error), "\"", NULL);
    if (c->error && c->description)
        h = apr_pstrcat(pool, h, ", error_description=\"", quotable(pool, c->description), "\"", NULL);
    if (c->scope && *c->scope)
        h = apr_pstrcat(pool, h, ", scope=\"", quotable(pool, c->scope), "\"", NULL);
    return h;
}

const char *mcp_challenge_header(apr_pool_t *pool, const mcp_challenge_t *c)
{
    int dpop = c->dpop_algs != NULL, bearer = !(dpop && c->no_bearer);
    int error_in_dpop = dpop && (c->error_in_dpop || !bearer);

    /* Bearer first: clients that read only the first challenge find the
     * metadata there (RFC 9728 §5.1) */
    if (bearer && dpop)
        return apr_pstrcat(pool, challenge(pool, c, "Bearer", !error_in_dpop), ", ",
                           challenge(pool, c, "DPoP", error_in_dpop), NULL);
    return challenge(pool, c, bearer ? "Bearer" : "DPoP", 1);
}

const char *mcp_challenge_body(apr_pool_t *pool, const mcp_challenge_t *c)
{
    json_t *doc = json_object();
    char *text;
    const char *copy;

    json_object_set_new(doc, "error", json_string(c->error ? c->error : "unauthorized"));
    json_object_set_new(doc, "error_description",
                        json_string(c->description ? c->description
                                                   : "a Bearer access token is required"));
    if (c->resource_metadata)
        json_object_set_new(doc, "resource_metadata", json_string(c->resource_metadata));
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    copy = apr_pstrdup(pool, text ? text : "{}");
    free(text);
    json_decref(doc);
    return copy;
}
