/* Unit tests of mcp_field: header field values written from claims, field
 * names a backend may fold together, media types read. */

#include <string.h>

#include "mcp_field.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_field_value(void)
{
    CHECK(strcmp(mcp_field_value(pool, "alice@example.test"), "alice@example.test") == 0,
          "field value: printable ASCII as it is");
    CHECK(strcmp(mcp_field_value(pool, "Jos\xc3\xa9 100%"), "Jos%C3%A9 100%25") == 0,
          "field value: UTF-8 and %% percent-encoded");
    CHECK(strcmp(mcp_field_value(pool, "a\xc2\x85" "b\xe2\x80\xa8"), "a%C2%85b%E2%80%A8") == 0,
          "field value: U+0085 and U+2028 cannot split a line");
    CHECK(mcp_field_value(pool, "a\r\nX-Evil: 1") == NULL && mcp_field_value(pool, "a\tb") == NULL,
          "field value: control characters refuse the value");
}

static void test_media_type(void)
{
    CHECK(mcp_media_type_is("application/json", "application/json")
          && mcp_media_type_is(" Application/JSON; charset=utf-8", "application/json")
          && mcp_media_type_is("text/event-stream\t;x=1", "text/event-stream"),
          "media types: case, parameters and whitespace aside");
    CHECK(!mcp_media_type_is("application/json-seq", "application/json") && !mcp_media_type_is(NULL, "application/json")
          && !mcp_media_type_is("text/plain; x=application/json", "application/json"),
          "media types: a longer type, none, or the name in a parameter is not it");
    CHECK(mcp_json_content_type_problem("application/json") == NULL
          && mcp_json_content_type_problem("Application/JSON ; charset=UTF-8") == NULL
          && mcp_json_content_type_problem("application/json;charset=\"utf-8\"") == NULL
          && mcp_json_content_type_problem("application/json; ; profile=x") == NULL,
          "JSON request types: no charset, UTF-8 in any case, quoted, other parameters");
    CHECK(mcp_json_content_type_problem("application/json; charset=utf-7")
          && mcp_json_content_type_problem("application/json; charset=UTF-16LE")
          && mcp_json_content_type_problem("application/json; charset=iso-8859-1")
          && mcp_json_content_type_problem("application/json; charset=us-ascii")
          && mcp_json_content_type_problem("application/json; charset=\"utf\\-8\""),
          "JSON request types: every other charset is refused (servers decode by it)");
    CHECK(mcp_json_content_type_problem("application/json; charset=utf-8; charset=utf-7")
          && mcp_json_content_type_problem("application/json; charset=utf-8, text/plain")
          && mcp_json_content_type_problem("application/json, application/json; charset=utf-7")
          && mcp_json_content_type_problem("application/json; charset")
          && mcp_json_content_type_problem("application/json; charset=\"utf-8")
          && mcp_json_content_type_problem("text/plain") && mcp_json_content_type_problem(NULL),
          "JSON request types: two charsets, lists, parameters that do not parse, other types: refused");
}

static void test_field_names(void)
{
    CHECK(mcp_field_names_alike("Mcp_Session_Id", "Mcp-Session-Id") && mcp_field_names_alike("mcp.session.id", "Mcp-Session-Id")
          && mcp_field_names_alike("MCP-SESSION-ID", "Mcp-Session-Id") && !mcp_field_names_alike("X-Mcp-Session-Id", "Mcp-Session-Id")
          && !mcp_field_names_alike("Mcp-Session-Idx", "Mcp-Session-Id"),
          "header names alike to a folding backend: case, '-', '_' and '.' as one");
}

void mcp_field_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_field_value();
    test_media_type();
    test_field_names();
    apr_pool_destroy(pool);
}
