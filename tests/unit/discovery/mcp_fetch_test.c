/* Unit tests of mcp_fetch: which addresses a fetch may reach when only
 * public ones may be (SSRF). */

#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "mcp_fetch.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_public_address(void)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
    static const char *const priv4[] = { "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                         "100.64.0.1", "0.0.0.0", "224.0.0.1", NULL };
    static const char *const priv6[] = { "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "64:ff9b::a00:1",
                                         "::127.0.0.1", "64:ff9b:1::1", "fec0::1", "2002:a00:1::1", "2001:0:1::1", NULL };
    int i, refused = 1;

    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    inet_pton(AF_INET, "93.184.216.34", &v4.sin_addr);
    CHECK(mcp_address_is_public((struct sockaddr *)&v4), "SSRF: a public IPv4 address is allowed");
    for (i = 0; priv4[i]; i++) {
        inet_pton(AF_INET, priv4[i], &v4.sin_addr);
        refused &= !mcp_address_is_public((struct sockaddr *)&v4);
    }
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    for (i = 0; priv6[i]; i++) {
        inet_pton(AF_INET6, priv6[i], &v6.sin6_addr);
        refused &= !mcp_address_is_public((struct sockaddr *)&v6);
    }
    CHECK(refused, "SSRF: loopback, private, link-local (metadata service), CGNAT, mapped and NAT64 forms are refused");
    inet_pton(AF_INET6, "2606:4700::1111", &v6.sin6_addr);
    CHECK(mcp_address_is_public((struct sockaddr *)&v6), "SSRF: a public IPv6 address is allowed");
}

void mcp_fetch_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_public_address();
    apr_pool_destroy(pool);
}
