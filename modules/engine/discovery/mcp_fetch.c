#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <strings.h>

#include <apr_date.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <curl/curl.h>

#include "mcp_cache_control.h"
#include "mcp_buffer.h"
#include "mcp_fetch.h"
#include "mcp_url.h"

typedef struct fetch_state {
    apr_pool_t *pool;
    mcp_buffer_t body;
    apr_size_t max;
    int too_large;
    long max_age;
    apr_time_t expires;
    int no_store;
} fetch_state_t;

void mcp_fetch_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    fetch_state_t *st = userdata;
    apr_size_t n = size * nmemb;

    if (st->body.len + n > st->max) {
        st->too_large = 1;
        return 0; /* aborts the transfer */
    }
    mcp_buffer_append(st->pool, &st->body, data, n);
    return n;
}

/* Freshness from Cache-Control max-age (RFC 9111 §5.2.2.1) or Expires. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    fetch_state_t *st = userdata;
    apr_size_t n = size * nmemb;
    char *line = apr_pstrmemdup(st->pool, data, n);
    char *colon = strchr(line, ':'), *value;

    if (colon == NULL)
        return n;
    *colon = '\0';
    value = colon + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    apr_collapse_spaces(line, line);
    if (strcasecmp(line, "Cache-Control") == 0) {
        mcp_cache_control_t cc;

        mcp_cache_control_init(&cc);
        mcp_cache_control_add(&cc, value);
        if (cc.max_age >= 0)
            st->max_age = cc.max_age;
        if (cc.no_store)
            st->no_store = 1;
    }
    else if (strcasecmp(line, "Expires") == 0) {
        char *end = value + strlen(value);
        while (end > value && (end[-1] == '\r' || end[-1] == '\n'))
            *--end = '\0';
        st->expires = apr_date_parse_http(value);
    }
    return n;
}

/* scheme://host:port of url, ports made explicit, or NULL. */
static char *origin_of(apr_pool_t *pool, const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *origin = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        origin = apr_pstrcat(pool, scheme, "://", host, ":", port, NULL);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return origin;
}

static int ipv4_is_public(const unsigned char *a)
{
    return !(a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224            /* this, private, loopback, multicast, reserved */
             || (a[0] == 100 && (a[1] & 0xc0) == 64)                          /* 100.64/10 CGNAT */
             || (a[0] == 169 && a[1] == 254)                                  /* link-local */
             || (a[0] == 172 && (a[1] & 0xf0) == 16)                          /* 172.16/12 */
             || (a[0] == 192 && a[1] == 168)                                  /* 192.168/16 */
             || (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2))        /* IETF, TEST-NET-1 */
             || (a[0] == 198 && (a[1] & 0xfe) == 18)                          /* 198.18/15 benchmarking */
             || (a[0] == 198 && a[1] == 51 && a[2] == 100)                    /* TEST-NET-2 */
             || (a[0] == 203 && a[1] == 0 && a[2] == 113));                   /* TEST-NET-3 */
}

int mcp_address_is_public(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET)
        return ipv4_is_public((const unsigned char *)&((const struct sockaddr_in *)addr)->sin_addr);
    if (addr->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
        static const unsigned char zero[16];

        static const unsigned char v4compat[12];

        /* IPv4 inside IPv6: mapped, NAT64, IPv4-compatible, 6to4 */
        if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0
            || memcmp(a, v4compat, 12) == 0)
            return ipv4_is_public(a + 12);
        if (a[0] == 0x20 && a[1] == 0x02)
            return ipv4_is_public(a + 2);
        return !(memcmp(a, zero, 15) == 0                      /* :: and ::1 */
                 || (a[0] & 0xfe) == 0xfc                       /* fc00::/7 unique local */
                 || (a[0] == 0xfe && (a[1] & 0x80) == 0x80)     /* fe80::/10 link-local, fec0::/10 site-local */
                 || a[0] == 0xff                                /* multicast */
                 || (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b) /* 64:ff9b::/32 NAT64 */
                 || (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x00 && a[3] == 0x00) /* Teredo */
                 || (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)); /* documentation */
    }
    return 0;
}

/* libcurl asks before each connection: the address it would connect to is
 * the one checked, so a name that resolves differently later (DNS
 * rebinding) is caught too. */
static curl_socket_t open_public_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
    if (purpose != CURLSOCKTYPE_IPCXN || !mcp_address_is_public(&address->addr))
        return CURL_SOCKET_BAD;
    return socket(address->family, address->socktype, address->protocol);
}

/* One request, no redirects followed. *location is set for a 3xx. A POST
 * when post is given. */
static CURLcode fetch_once(const char *url, const mcp_post_t *post, const mcp_fetch_opts_t *opts,
                           long timeout_ms, fetch_state_t *st, mcp_fetch_result_t *res,
                           char **location, char *errbuf)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    CURLcode rc;
    char *loc = NULL, *ct = NULL;

    if (curl == NULL)
        return CURLE_FAILED_INIT;
    if (post) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post->len);
        headers = curl_slist_append(headers, apr_pstrcat(st->pool, "Content-Type: ",
                                                         post->content_type ? post->content_type
                                                                            : "application/octet-stream",
                                                         NULL));
        if (post->authorization)
            headers = curl_slist_append(headers, apr_pstrcat(st->pool, "Authorization: ",
                                                             post->authorization, NULL));
        if (post->accept)
            headers = curl_slist_append(headers, apr_pstrcat(st->pool, "Accept: ", post->accept, NULL));
        if (post->forwarded_for)
            headers = curl_slist_append(headers, apr_pstrcat(st->pool, "X-Forwarded-For: ",
                                                             post->forwarded_for, NULL));
        headers = curl_slist_append(headers, "Expect:");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* threaded MPMs: no SIGALRM */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, opts->connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (opts->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, opts->ca_file);
    if (opts->public_only) {
        curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_public_socket);
        curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* the check must see the real peer */
    }
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)opts->max_bytes);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mod_mcp_auth");

    rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    if (rc != CURLE_OK) {
        curl_off_t connected = 0;

        /* a failure before any connection cannot depend on what was to be
         * sent; one after it (a read timeout, a closed connection) can */
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
        res->unreachable = connected == 0;
    }
    curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &loc);
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    *location = loc ? apr_pstrdup(st->pool, loc) : NULL;
    res->content_type = ct ? apr_pstrdup(st->pool, ct) : NULL;
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    return rc;
}

/* Redirects are followed only within the origin of the URL asked for, so a
 * compromised or confused IdP page cannot point the key fetch elsewhere. */
#define MCP_MAX_REDIRECTS 3

apr_status_t mcp_fetch_get(apr_pool_t *pool, const char *url, const mcp_fetch_opts_t *opts,
                           mcp_fetch_result_t *res, const char **err)
{
    fetch_state_t st;
    char errbuf[CURL_ERROR_SIZE];
    apr_time_t deadline = apr_time_now() + apr_time_from_msec(opts->timeout_ms);
    const char *origin = origin_of(pool, url), *target;
    char *location;
    CURLcode rc;
    int hops;

    memset(res, 0, sizeof(*res));
    res->max_age = -1;
    for (hops = 0;; hops++) {
        long left_ms = (long)apr_time_as_msec(deadline - apr_time_now());

        memset(&st, 0, sizeof(st));
        st.pool = pool;
        st.max = opts->max_bytes;
        st.max_age = -1;
        errbuf[0] = '\0';
        if (left_ms <= 0) {
            *err = "timed out following redirects";
            return APR_TIMEUP;
        }
        rc = fetch_once(url, NULL, opts, left_ms, &st, res, &location, errbuf);
        if (rc != CURLE_OK || res->status < 300 || res->status > 399 || location == NULL)
            break;
        if (hops == MCP_MAX_REDIRECTS) {
            *err = "too many redirects";
            return APR_EGENERAL;
        }
        target = origin_of(pool, location);
        if (origin == NULL || target == NULL || strcmp(origin, target) != 0) {
            *err = apr_psprintf(pool, "refusing redirect to another origin (%s)",
                                mcp_url_redacted(pool, location));
            return APR_EGENERAL;
        }
        url = location;
    }

    if (st.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        *err = apr_psprintf(pool, "response larger than %" APR_SIZE_T_FMT " bytes", opts->max_bytes);
        return APR_EGENERAL;
    }
    if (rc != CURLE_OK) {
        *err = apr_psprintf(pool, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return APR_EGENERAL;
    }
    if (res->status != 200) {
        *err = apr_psprintf(pool, "HTTP status %ld", res->status);
        return APR_EGENERAL;
    }
    res->body = st.body.data ? st.body.data : apr_pstrdup(pool, "");
    res->len = st.body.len;
    if (st.no_store)
        res->max_age = 0;
    else if (st.max_age >= 0)
        res->max_age = st.max_age;
    else if (st.expires > 0) {
        apr_time_t left = st.expires - apr_time_now();
        res->max_age = left > 0 ? (long)apr_time_sec(left) : 0;
    }
    return APR_SUCCESS;
}

apr_status_t mcp_fetch_post(apr_pool_t *pool, const mcp_post_t *post, const mcp_fetch_opts_t *opts,
                            mcp_fetch_result_t *res, const char **err)
{
    fetch_state_t st;
    char errbuf[CURL_ERROR_SIZE] = "";
    char *location;
    CURLcode rc;

    memset(res, 0, sizeof(*res));
    res->max_age = -1;
    memset(&st, 0, sizeof(st));
    st.pool = pool;
    st.max = opts->max_bytes;
    st.max_age = -1;
    rc = fetch_once(post->url, post, opts, opts->timeout_ms, &st, res, &location, errbuf);
    if (st.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        *err = apr_psprintf(pool, "response larger than %" APR_SIZE_T_FMT " bytes", opts->max_bytes);
        return APR_EGENERAL;
    }
    if (rc != CURLE_OK) {
        *err = apr_psprintf(pool, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return APR_EGENERAL;
    }
    res->body = st.body.data ? st.body.data : apr_pstrdup(pool, "");
    res->len = st.body.len;
    return APR_SUCCESS;
}
