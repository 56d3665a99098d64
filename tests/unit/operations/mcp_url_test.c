/* Unit tests of mcp_url: URLs as the module prints them (credentials
 * redacted). */

#include <string.h>

#include "mcp_url.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_redacted(void)
{
    CHECK(strcmp(mcp_url_redacted(pool, "https://user:pass@idp.example/jwks"), "https://***@idp.example/jwks") == 0,
          "redacted: userinfo");
    CHECK(strcmp(mcp_url_redacted(pool, "https://idp.example/jwks?key=s3cret#f"), "https://idp.example/jwks?***#f") == 0,
          "redacted: query");
    CHECK(strcmp(mcp_url_redacted(pool, "https://idp.example/a@b"), "https://idp.example/a@b") == 0,
          "redacted: an @ in the path is no userinfo");
}

void mcp_url_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_redacted();
    apr_pool_destroy(pool);
}
