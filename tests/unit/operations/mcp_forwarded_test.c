/* Unit tests of mcp_forwarded: what a proxy in front says of the original
 * request: X-Forwarded-* and Forwarded (RFC 7239), the last element only. */

#include <string.h>

#include "mcp_forwarded.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_forwarded(void)
{
    const char *host, *proto;

    CHECK(strcmp(mcp_forwarded_last_value(pool, "evil.example, mcp.example.com"), "mcp.example.com") == 0,
          "X-Forwarded-*: the last (proxy-appended) value counts");
    CHECK(strcmp(mcp_forwarded_last_value(pool, " https "), "https") == 0, "X-Forwarded-*: one value, trimmed");
    CHECK(mcp_forwarded_last_value(pool, "a, ") == NULL && mcp_forwarded_last_value(pool, NULL) == NULL,
          "X-Forwarded-*: an empty last value is none");
    CHECK(mcp_forwarded_parse_last(pool, "host=evil;proto=http, for=10.0.0.1;host=\"mcp.example.com:8443\";proto=https",
                                   &host, &proto)
              && strcmp(host, "mcp.example.com:8443") == 0 && strcmp(proto, "https") == 0,
          "Forwarded: host and proto of the last element, quoted values unquoted");
    CHECK(mcp_forwarded_parse_last(pool, "for=\"a,b\";Host=x.test", &host, &proto) && strcmp(host, "x.test") == 0
              && proto == NULL,
          "Forwarded: a comma inside quotes splits nothing; names without case");
    CHECK(mcp_forwarded_parse_last(pool, "for=1.2.3.4", &host, &proto) && host == NULL,
          "Forwarded: no host parameter, no host");
    CHECK(!mcp_forwarded_parse_last(pool, "host=\"unterminated", &host, &proto)
              && !mcp_forwarded_parse_last(pool, "host", &host, &proto),
          "Forwarded: broken syntax is refused");
    CHECK(mcp_forwarded_is_host("mcp.example.com") && mcp_forwarded_is_host("mcp.example.com:8443")
              && mcp_forwarded_is_host("[::1]:8080") && mcp_forwarded_is_host("10.0.0.1"),
          "host[:port] forms are hosts");
    CHECK(!mcp_forwarded_is_host("evil.example/path") && !mcp_forwarded_is_host("a@b") && !mcp_forwarded_is_host("")
              && !mcp_forwarded_is_host("h:") && !mcp_forwarded_is_host("h:123456") && !mcp_forwarded_is_host("[zz]"),
          "paths, userinfo, empty names and bad ports are not hosts");
}

void mcp_forwarded_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_forwarded();
    apr_pool_destroy(pool);
}
