/* Unit tests of mcp_cache_control: Cache-Control (RFC 9111 §5.2): freshness,
 * and whether a shared cache may store (§3.5). */

#include "mcp_cache_control.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_cache_control(void)
{
    mcp_cache_control_t cc;

    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "private, max-age=60");
    CHECK(cc.max_age == 60 && !cc.shared_ok && !cc.no_store, "Cache-Control: private, max-age");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "no-cache\r\n");
    CHECK(cc.no_store && cc.max_age == -1, "Cache-Control: no-cache with the line ending curl leaves");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "max-age=0");
    mcp_cache_control_add(&cc, "S-MAXAGE=30");
    CHECK(cc.shared_ok && cc.max_age == 0, "Cache-Control over two lines; s-maxage allows shared caches");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "publicity, must-revalidatex");
    CHECK(!cc.shared_ok, "Cache-Control: directive names match whole");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "must-revalidate");
    CHECK(mcp_cache_control_shared_store(&cc), "Cache-Control: must-revalidate allows shared caches (RFC 9111 §3.5)");
    mcp_cache_control_init(&cc);
    mcp_cache_control_add(&cc, "private, must-revalidate");
    CHECK(!mcp_cache_control_shared_store(&cc), "Cache-Control: private never goes to a shared cache");
}

void mcp_cache_control_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_cache_control();
    apr_pool_destroy(pool);
}
