/* Unit tests of mcp_b64url: base64url as JOSE uses it (RFC 7515 §2),
 * strictly. */

#include "mcp_b64url.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_b64url(void)
{
    CHECK(mcp_b64url_is_strict("eyJhbGciOiJSUzI1NiJ9", 20), "base64url: a JOSE header passes");
    CHECK(!mcp_b64url_is_strict("eyJhbGciOiJSUzI1NiJ9==", 22), "base64url: padding is refused");
    CHECK(!mcp_b64url_is_strict("ab+/", 4), "base64url: the base64 alphabet's + and / are refused");
    CHECK(!mcp_b64url_is_strict("QR", 2), "base64url: non-zero unused bits are refused");
    CHECK(mcp_b64url_is_strict("QQ", 2), "base64url: zero unused bits pass");
    CHECK(!mcp_b64url_is_strict("QUFBQ", 5), "base64url: a length of 1 mod 4 is refused");
    CHECK(!mcp_b64url_is_strict("", 0), "base64url: empty is refused");
    CHECK(!mcp_b64url_is_strict("QU\0B", 4), "base64url: a NUL inside is refused");
}

void mcp_b64url_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_b64url();
    apr_pool_destroy(pool);
}
