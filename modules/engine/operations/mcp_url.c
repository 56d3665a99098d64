/* Redaction works on the text as written: a URL that does not parse still
 * loses whatever looks like userinfo or a query. */

#include <string.h>

#include <apr_strings.h>

#include "mcp_url.h"

const char *mcp_url_redacted(apr_pool_t *pool, const char *url)
{
    const char *scheme_end, *authority, *authority_end, *at, *query, *fragment;
    const char *out;

    if (url == NULL)
        return NULL;
    scheme_end = strstr(url, "://");
    authority = scheme_end ? scheme_end + 3 : url;
    authority_end = authority + strcspn(authority, "/?#");
    at = NULL;
    for (const char *p = authority; p < authority_end; p++) {
        if (*p == '@')
            at = p;
    }
    out = at ? apr_pstrcat(pool, apr_pstrmemdup(pool, url, (apr_size_t)(authority - url)), "***",
                           at, NULL)
             : url;
    query = strchr(out, '?');
    if (query == NULL)
        return out;
    fragment = strchr(query, '#');
    return apr_pstrcat(pool, apr_pstrmemdup(pool, out, (apr_size_t)(query - out + 1)), "***",
                       fragment ? fragment : "", NULL);
}
