/* Rules over MCP tools, prompts and resources: parsing, glob matching and
 * the verdict for a caller. */

#include <string.h>

#include <arpa/inet.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "mcp_policy.h"
#include "mcp_scope.h"

const char *mcp_kind_name(mcp_kind_t kind)
{
    switch (kind) {
    case MCP_KIND_TOOL:
        return "tool";
    case MCP_KIND_PROMPT:
        return "prompt";
    case MCP_KIND_RESOURCE:
        return "resource";
    default:
        return "?";
    }
}

static int is_keyword(const char *w)
{
    return strcmp(w, "allow") == 0 || strcmp(w, "deny") == 0 || strcmp(w, "scope") == 0 || strcmp(w, "claim") == 0;
}

const char *mcp_rule_parse(apr_pool_t *pool, mcp_kind_t kind, int argc, char *const argv[], mcp_rule_t *rule)
{
    int i = 1;

    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    rule->counter = -1;
    rule->scopes = apr_array_make(pool, 2, sizeof(const char *));
    rule->claims = apr_array_make(pool, 1, sizeof(mcp_claim_req_t));
    if (argc < 2)
        return "takes a name pattern and at least one requirement (allow, deny, scope S..., claim NAME VALUE)";
    if (!*argv[0])
        return "the name pattern is empty";
    rule->pattern = apr_pstrdup(pool, argv[0]);
    rule->text = apr_pstrdup(pool, argv[0]);
    while (i < argc) {
        const char *w = argv[i++];

        rule->text = apr_pstrcat(pool, rule->text, " ", w, NULL);
        if (strcmp(w, "allow") == 0)
            rule->allow = 1;
        else if (strcmp(w, "deny") == 0)
            rule->deny = 1;
        else if (strcmp(w, "scope") == 0) {
            int n = 0;

            for (; i < argc && !is_keyword(argv[i]); i++, n++) {
                if (!mcp_scope_is_token(argv[i]))
                    return apr_psprintf(pool, "\"%s\" is not a scope (RFC 6749 §3.3)", argv[i]);
                APR_ARRAY_PUSH(rule->scopes, const char *) = apr_pstrdup(pool, argv[i]);
                rule->text = apr_pstrcat(pool, rule->text, " ", argv[i], NULL);
            }
            if (n == 0)
                return "scope needs at least one scope after it";
        }
        else if (strcmp(w, "claim") == 0) {
            mcp_claim_req_t *c;

            if (i + 2 > argc || is_keyword(argv[i]))
                return "claim needs a claim name and a value";
            c = apr_array_push(rule->claims);
            c->name = apr_pstrdup(pool, argv[i]);
            c->value = apr_pstrdup(pool, argv[i + 1]);
            rule->text = apr_pstrcat(pool, rule->text, " ", argv[i], " ", argv[i + 1], NULL);
            i += 2;
        }
        else {
            return apr_psprintf(pool, "unknown requirement \"%s\" (allow, deny, scope S..., claim NAME VALUE)", w);
        }
    }
    if (rule->allow + rule->deny > 1 || ((rule->allow || rule->deny) && (rule->scopes->nelts || rule->claims->nelts)))
        return "allow and deny stand alone: a rule is allow, deny, or scopes and claims that must all hold";
    return NULL;
}

/* Iterative, with one backtrack point per star: linear in practice,
 * never exponential whatever the pattern. */
int mcp_glob_matches(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name, *star = NULL, *resume = NULL;

    while (*n) {
        if (*p == '*') {
            star = p++;
            resume = n;
        }
        else if (*p == '?' || *p == *n) {
            p++;
            n++;
        }
        else if (star) {
            p = star + 1;
            n = ++resume;
        }
        else {
            return 0;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int mcp_policy_has_kind(const apr_array_header_t *rules, mcp_kind_t kind)
{
    int i;

    for (i = 0; rules && i < rules->nelts; i++)
        if (APR_ARRAY_IDX(rules, i, const mcp_rule_t *)->kind == kind)
            return 1;
    return 0;
}

static int is_unreserved(int c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int hex_value(char c)
{
    return apr_isdigit(c) ? c - '0' : apr_tolower(c) - 'a' + 10;
}

/* WHATWG URL's special schemes, and their default ports. */
static int special_scheme(const char *scheme, const char **default_port)
{
    static const struct { const char *scheme, *port; } special[] = {
        { "http", "80" }, { "https", "443" }, { "ws", "80" }, { "wss", "443" }, { "ftp", "21" }, { "file", NULL },
    };
    size_t i;

    for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (strcmp(scheme, special[i].scheme) == 0) {
            *default_port = special[i].port;
            return 1;
        }
    }
    *default_port = NULL;
    return 0;
}

/* A WHATWG IPv4 host (dotted parts in decimal, 0x hex or 0 octal, the last
 * part filling the bytes left) in dotted decimal; NULL if host is not one. */
static const char *ipv4_of(apr_pool_t *pool, const char *host)
{
    apr_uint64_t parts[4], v;
    int n = 0, i;
    const char *p = host;

    if (!*host)
        return NULL;
    while (*p) {
        int base = 10;
        const char *digits;

        if (n == 4)
            return NULL;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
            base = 16;
            p += 2;
        }
        else if (p[0] == '0' && p[1] && p[1] != '.') {
            base = 8;
            p++;
        }
        digits = p;
        v = 0;
        while (*p && *p != '.') {
            int d = apr_isxdigit(*p) ? hex_value(*p) : 99;

            if (d >= base || v > 0xffffffffULL)
                return NULL;
            v = v * (apr_uint64_t)base + (apr_uint64_t)d;
            p++;
        }
        if (p == digits && base != 16)
            return NULL;
        parts[n++] = v;
        if (*p == '.' && *++p == '\0')
            break; /* one trailing dot is allowed */
    }
    for (i = 0; i < n - 1; i++)
        if (parts[i] > 255)
            return NULL;
    if (parts[n - 1] >= (1ULL << (8 * (5 - n))))
        return NULL;
    v = parts[n - 1];
    for (i = 0; i < n - 1; i++)
        v += parts[i] << (8 * (3 - i));
    return apr_psprintf(pool, "%u.%u.%u.%u", (unsigned)(v >> 24) & 255, (unsigned)(v >> 16) & 255,
                        (unsigned)(v >> 8) & 255, (unsigned)v & 255);
}

/* A WHATWG IPv6 host ("[...]") as WHATWG serialises it: lower-case hex
 * without leading zeros, the first longest run of two or more zero pieces
 * as "::", an embedded IPv4 tail in hex. NULL if it is not one. */
static const char *ipv6_of(apr_pool_t *pool, const char *host)
{
    unsigned char a[16];
    char *inner, *out, *o;
    int best = -1, best_len = 0, i, run;

    if (host[0] != '[' || host[strlen(host) - 1] != ']')
        return NULL;
    inner = apr_pstrmemdup(pool, host + 1, strlen(host) - 2);
    if (strchr(inner, '%') || inet_pton(AF_INET6, inner, a) != 1)
        return NULL;
    for (i = 0; i < 8; i += run ? run : 1) {
        for (run = 0; i + run < 8 && a[2 * (i + run)] == 0 && a[2 * (i + run) + 1] == 0; run++)
            ;
        if (run > best_len && run >= 2) {
            best = i;
            best_len = run;
        }
    }
    o = out = apr_palloc(pool, 48);
    *o++ = '[';
    for (i = 0; i < 8; i++) {
        if (i == best) {
            *o++ = ':';
            if (i == 0)
                *o++ = ':';
            i += best_len - 1;
            continue;
        }
        o += apr_snprintf(o, 6, "%x", (unsigned)(a[2 * i] << 8 | a[2 * i + 1]));
        if (i < 7)
            *o++ = ':';
    }
    *o++ = ']';
    *o = '\0';
    return out;
}

/* Escapes of characters that stand for themselves decoded ("%65" is "e",
 * as a server that decodes the path reads it; "%C3%A9" is the "é" a rule
 * names, and the "é" a WHATWG parser escapes); other escapes upper-cased. */
static char *decode_unreserved(apr_pool_t *pool, const char *s, apr_size_t n)
{
    char *out = apr_palloc(pool, n + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && apr_isxdigit(s[i + 1]) && apr_isxdigit(s[i + 2])) {
            int c = hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]);

            if (is_unreserved(c) || c >= 0x80)
                *o++ = (char)c;
            else {
                *o++ = '%';
                *o++ = (char)apr_toupper(s[i + 1]);
                *o++ = (char)apr_toupper(s[i + 2]);
            }
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* path with its dot segments removed (RFC 3986 §5.2.4), "%2e" counting as
 * "." as WHATWG counts it. Linear in the path's length: a URI may hold
 * hundreds of thousands of segments. */
static const char *without_dot_segments(apr_pool_t *pool, const char *path)
{
    apr_array_header_t *segs = apr_array_make(pool, 8, sizeof(const char *));
    char *copy = apr_pstrdup(pool, path), *seg, *next;
    const char *joined;
    int trailing = 0;

    for (seg = copy + (*copy == '/'); seg; seg = next) {
        next = strchr(seg, '/');
        if (next)
            *next++ = '\0';
        trailing = 0;
        if (*seg == '\0' && next == NULL) {
            trailing = 1; /* the path ends with "/" */
            continue;
        }
        if (strcmp(seg, ".") == 0 || strcasecmp(seg, "%2e") == 0) {
            trailing = 1;
            continue;
        }
        if (strcmp(seg, "..") == 0 || strcasecmp(seg, ".%2e") == 0 || strcasecmp(seg, "%2e.") == 0
            || strcasecmp(seg, "%2e%2e") == 0) {
            if (segs->nelts)
                apr_array_pop(segs);
            trailing = 1;
            continue;
        }
        APR_ARRAY_PUSH(segs, const char *) = seg;
    }
    if (segs->nelts == 0)
        return "/";
    joined = apr_array_pstrcat(pool, segs, '/');
    return apr_pstrcat(pool, "/", joined, trailing ? "/" : "", NULL);
}

const char *mcp_resource_uri_normalized(apr_pool_t *pool, const char *uri)
{
    const char *p, *end, *scheme_end, *default_port, *rest, *auth, *auth_end, *host, *port = NULL, *path, *tail;
    char *clean, *c, *scheme;
    apr_size_t n;
    int special, i;

    /* what a URL parser drops: C0 controls and spaces around, tabs and
     * newlines anywhere */
    while (*uri && (unsigned char)*uri <= 0x20)
        uri++;
    n = strlen(uri);
    while (n && (unsigned char)uri[n - 1] <= 0x20)
        n--;
    clean = c = apr_palloc(pool, n + 1);
    for (p = uri; p < uri + n; p++)
        if (*p != '\t' && *p != '\n' && *p != '\r')
            *c++ = *p;
    *c = '\0';
    for (p = clean; apr_isalnum(*p) || *p == '+' || *p == '-' || *p == '.'; p++)
        ;
    if (*p != ':' || p == clean || !apr_isalpha(*clean))
        return clean; /* no scheme: nothing a URL parser would rewrite */
    scheme_end = p;
    scheme = apr_pstrmemdup(pool, clean, (apr_size_t)(scheme_end - clean));
    for (i = 0; scheme[i]; i++)
        scheme[i] = (char)apr_tolower(scheme[i]);
    special = special_scheme(scheme, &default_port);
    rest = scheme_end + 1;
    if (special) {
        /* a backslash is a slash; any run of them opens the authority
         * (file URLs: exactly two name a host, otherwise it is empty) */
        char *r = apr_pstrdup(pool, rest);
        int slashes = 0;

        for (c = r; *c && *c != '?' && *c != '#'; c++)
            if (*c == '\\')
                *c = '/';
        while (r[slashes] == '/')
            slashes++;
        rest = r + slashes;
        if (strcmp(scheme, "file") == 0 && slashes != 2) {
            rest = apr_pstrcat(pool, "/", rest, NULL);
            auth = auth_end = "";
        }
        else {
            auth = rest;
            auth_end = auth + strcspn(auth, "/?#");
            rest = auth_end;
        }
    }
    else if (rest[0] == '/' && rest[1] == '/') {
        auth = rest + 2;
        auth_end = auth + strcspn(auth, "/?#");
        rest = auth_end;
    }
    else {
        /* an opaque URI (mcp:thing, urn:...): only its path can have dots */
        auth = auth_end = NULL;
    }
    path = rest;
    end = path + strcspn(path, "?#");
    tail = end;
    if (auth) {
        const char *at = NULL, *q;
        char *h;

        for (q = auth; q < auth_end; q++)
            if (*q == '@')
                at = q;
        host = at ? at + 1 : auth; /* the rules speak of hosts, not of users */
        for (q = auth_end; q > host && apr_isdigit(q[-1]); q--)
            ;
        if (q > host && q[-1] == ':' && !(host[0] == '[' && memchr(q, ']', (apr_size_t)(auth_end - q)))) {
            port = q;
            h = apr_pstrmemdup(pool, host, (apr_size_t)(q - 1 - host));
            port = apr_pstrmemdup(pool, port, (apr_size_t)(auth_end - port));
            while (*port == '0' && port[1])
                port++;
            if (!*port || (default_port && strcmp(port, default_port) == 0))
                port = NULL;
        }
        else {
            h = apr_pstrmemdup(pool, host, (apr_size_t)(auth_end - host));
        }
        if (special && h[0] == '[') {
            /* an IPv6 literal has one spelling to WHATWG; none, no URL */
            if ((h = (char *)ipv6_of(pool, h)) == NULL)
                return NULL;
        }
        else if (special) {
            const char *v4;

            h = decode_unreserved(pool, h, strlen(h));
            for (c = h; *c; c++) {
                /* WHATWG maps a host beyond ASCII by UTS #46 (full-width
                 * letters, ignored code points, other dots) before anyone
                 * sees it: such a host is not judged by its spelling */
                if ((unsigned char)*c >= 0x80 || *c == '%')
                    return NULL;
                *c = (char)apr_tolower(*c);
            }
            if ((v4 = ipv4_of(pool, h)) != NULL)
                h = (char *)v4;
            if (strcmp(scheme, "file") == 0 && strcmp(h, "localhost") == 0)
                h = "";
        }
        else {
            /* an opaque host keeps its case; servers match it decoded */
            h = decode_unreserved(pool, h, strlen(h));
        }
        /* a special URL's empty path is "/" */
        return apr_pstrcat(pool, scheme, "://", h, port ? ":" : "", port ? port : "",
                           special && path == end ? "/"
                               : path == end ? ""
                               : without_dot_segments(pool, decode_unreserved(pool, path, (apr_size_t)(end - path))),
                           tail, NULL);
    }
    path = decode_unreserved(pool, path, (apr_size_t)(end - path));
    return apr_pstrcat(pool, scheme, ":", *path == '/' ? without_dot_segments(pool, path) : path, tail, NULL);
}

/* The stricter of two verdicts. */
static int severity(mcp_verdict_t v)
{
    return v == MCP_VERDICT_DENY ? 2 : v == MCP_VERDICT_SCOPE ? 1 : 0;
}

static mcp_verdict_t decide_name(apr_pool_t *pool, const apr_array_header_t *rules, int default_deny,
                                 mcp_kind_t kind, const char *name, const mcp_jwt_t *jwt,
                                 const mcp_rule_t **matched, const char **scopes);

mcp_verdict_t mcp_policy_decide(apr_pool_t *pool, const apr_array_header_t *rules, int default_deny,
                                mcp_kind_t kind, const char *name, const mcp_jwt_t *jwt,
                                const mcp_rule_t **matched, const char **scopes)
{
    mcp_verdict_t v = decide_name(pool, rules, default_deny, kind, name, jwt, matched, scopes);
    const char *normal = kind == MCP_KIND_RESOURCE ? mcp_resource_uri_normalized(pool, name) : name;

    /* a URI whose meaning depends on mapping its host: denied where any
     * rule speaks of resources (the log says "not a canonical resource URI") */
    if (normal == NULL && (default_deny || mcp_policy_has_kind(rules, kind))) {
        *matched = NULL;
        *scopes = NULL;
        return MCP_VERDICT_DENY;
    }

    /* a resource URI is judged as it is spelled and as a server reads it
     * after normalising it: the stricter answer counts, so another spelling
     * of a denied URI is denied too */
    if (normal != NULL && normal != name && strcmp(normal, name) != 0) {
        const mcp_rule_t *m2;
        const char *s2;
        mcp_verdict_t v2 = decide_name(pool, rules, default_deny, kind, normal, jwt, &m2, &s2);

        if (severity(v2) > severity(v)) {
            *matched = m2;
            *scopes = s2;
            v = v2;
        }
    }
    return v;
}

static mcp_verdict_t decide_name(apr_pool_t *pool, const apr_array_header_t *rules, int default_deny,
                                 mcp_kind_t kind, const char *name, const mcp_jwt_t *jwt,
                                 const mcp_rule_t **matched, const char **scopes)
{
    int i, k;

    *matched = NULL;
    *scopes = NULL;
    for (i = 0; rules && i < rules->nelts; i++) {
        const mcp_rule_t *rule = APR_ARRAY_IDX(rules, i, const mcp_rule_t *);

        if (rule->kind != kind || !mcp_glob_matches(rule->pattern, name))
            continue;
        *matched = rule;
        if (rule->allow)
            return MCP_VERDICT_ALLOW;
        if (rule->deny)
            return MCP_VERDICT_DENY;
        /* a claim the token lacks is not fixed by asking for more scope */
        for (k = 0; k < rule->claims->nelts; k++) {
            const mcp_claim_req_t *c = &APR_ARRAY_IDX(rule->claims, k, mcp_claim_req_t);

            if (jwt == NULL || !mcp_jwt_claim_holds(pool, jwt, c->name, c->value))
                return MCP_VERDICT_DENY;
        }
        if (rule->scopes->nelts && (jwt == NULL || !mcp_claims_grant_scopes(mcp_jwt_claims(jwt), rule->scopes))) {
            *scopes = mcp_scope_list_add(pool, "", rule->scopes);
            return MCP_VERDICT_SCOPE;
        }
        return MCP_VERDICT_ALLOW;
    }
    return default_deny ? MCP_VERDICT_DENY : MCP_VERDICT_ALLOW;
}
