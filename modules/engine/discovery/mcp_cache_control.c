/* Directives are compared by name, case-insensitively, and an argument is
 * read only where the module needs it (max-age); a quoted argument that
 * contains a comma is rare enough in these headers to be read as two. */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp_cache_control.h"

void mcp_cache_control_init(mcp_cache_control_t *cc)
{
    cc->max_age = -1;
    cc->no_store = 0;
    cc->shared_ok = 0;
    cc->private_ = 0;
}

int mcp_cache_control_shared_store(const mcp_cache_control_t *cc)
{
    return cc->shared_ok && !cc->private_ && !cc->no_store;
}

/* Whether the directive at p (up to end) is name, alone or with =ARG. */
static int is_directive(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    return (size_t)(end - p) >= n && strncasecmp(p, name, n) == 0
           && (p + n == end || strchr("= \t\r\n", p[n]) != NULL);
}

void mcp_cache_control_add(mcp_cache_control_t *cc, const char *value)
{
    const char *p = value;

    while (p && *p) {
        const char *end = strchr(p, ',');

        if (end == NULL)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (is_directive(p, end, "max-age") && p[7] == '=' && isdigit((unsigned char)p[8]))
            cc->max_age = strtol(p + 8, NULL, 10);
        else if (is_directive(p, end, "no-store") || is_directive(p, end, "no-cache"))
            cc->no_store = 1;
        else if (is_directive(p, end, "private"))
            cc->private_ = 1;
        else if (is_directive(p, end, "public") || is_directive(p, end, "s-maxage")
                 || is_directive(p, end, "must-revalidate") || is_directive(p, end, "proxy-revalidate"))
            cc->shared_ok = 1;
        p = *end ? end + 1 : end;
    }
}
