/* libFuzzer target: the input is a token endpoint's answer to a token
 * exchange (RFC 8693 §2.2), its first byte choosing the HTTP status, given
 * to mcp_exchange_answer; what it accepts is sealed and read back. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "mcp_exchange.h"

FUZZ_INIT_APR_ONLY

static const long statuses[] = { 200, 400, 401, 403, 500, 302 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *pool = fuzz_subpool();
    mcp_exchanged_t out, back;
    mcp_exchange_status_t st;
    const char *err = NULL, *record;
    long status;
    size_t i;

    if (size == 0) {
        apr_pool_destroy(pool);
        return 0;
    }
    status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    /* the raw body, not NUL-terminated: any read past len is caught */
    st = mcp_exchange_answer(pool, status, (const char *)data + 1, size - 1, 1800000000L, &out, &err);
    switch (st) {
    case MCP_EXCHANGE_ISSUED:
        /* a bearer token fit for a header field, from a 200 only */
        FUZZ_CHECK(status == 200 && out.token && *out.token);
        for (i = 0; out.token[i]; i++)
            FUZZ_CHECK(out.token[i] > 0x20 && out.token[i] < 0x7f);
        FUZZ_CHECK(out.expires_at >= 0);
        record = mcp_exchange_record(pool, "subject", 7, "target", st, &out);
        FUZZ_CHECK(record != NULL);
        FUZZ_CHECK(mcp_exchange_record_read(pool, "subject", 7, "target", record, strlen(record), &back) == st);
        FUZZ_CHECK(strcmp(back.token, out.token) == 0 && back.expires_at == out.expires_at);
        FUZZ_CHECK(mcp_exchange_record_read(pool, "subjecu", 7, "target", record, strlen(record), &back)
                   == MCP_EXCHANGE_BROKEN);
        break;
    case MCP_EXCHANGE_REFUSED:
        /* an OAuth error code, from a 400, 401 or 403 only */
        FUZZ_CHECK(status >= 400 && status <= 403 && out.error && *out.error && !strpbrk(out.error, "\"\\\r\n"));
        record = mcp_exchange_record(pool, "subject", 7, "target", st, &out);
        FUZZ_CHECK(record != NULL);
        FUZZ_CHECK(mcp_exchange_record_read(pool, "subject", 7, "target", record, strlen(record), &back) == st);
        FUZZ_CHECK(strcmp(back.error, out.error) == 0);
        break;
    case MCP_EXCHANGE_BROKEN:
        FUZZ_CHECK(err != NULL && *err);
        break;
    default:
        FUZZ_CHECK(!"unknown status");
    }
    apr_pool_destroy(pool);
    return 0;
}
