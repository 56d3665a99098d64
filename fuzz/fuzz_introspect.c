/* libFuzzer target: the input is an introspection answer given to
 * mcp_introspect_parse (RFC 7662 §2.2), and read back from its record. */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"
#include "mcp_introspect.h"

FUZZ_INIT_APR_ONLY

#define ISSUER "https://idp.example.com/realms/r"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_subpool();
    json_t *claims = NULL, *back = NULL;
    const char *err = NULL, *record;
    mcp_introspect_status_t st;

    /* the raw input, not NUL-terminated: any read past len is caught */
    st = mcp_introspect_parse(pool, (const char *)data, size, ISSUER, &claims, &err);
    switch (st) {
    case MCP_INTROSPECT_ACTIVE:
        /* only a JSON object with "active": true, and an iss */
        FUZZ_CHECK(json_is_object(claims) && json_is_true(json_object_get(claims, "active")));
        FUZZ_CHECK(json_object_get(claims, "iss") != NULL);
        record = mcp_introspect_record(pool, claims);
        FUZZ_CHECK(record != NULL);
        FUZZ_CHECK(mcp_introspect_record_read(pool, record, strlen(record), &back) == MCP_INTROSPECT_ACTIVE);
        FUZZ_CHECK(json_equal(back, claims));
        json_decref(back);
        json_decref(claims);
        break;
    case MCP_INTROSPECT_INACTIVE:
    case MCP_INTROSPECT_BROKEN:
        FUZZ_CHECK(claims == NULL && err != NULL && *err);
        break;
    default:
        FUZZ_CHECK(!"unknown status");
    }
    apr_pool_destroy(pool);
    return 0;
}
