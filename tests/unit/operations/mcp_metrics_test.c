/* Unit tests of mcp_metrics: the shared registry (slots by name, kept
 * across generations, bounded) and the text exposition format a
 * Prometheus server reads. */

#include <string.h>

#include <apr_strings.h>

#include "mcp_metrics.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

/* the labels of the test's first location */
#define GW "{server=\"gw.example\",location=\"/mcp\""

/* The line of text that starts with prefix, whole, or "". */
static const char *line_of(const char *text, const char *prefix)
{
    const char *at = text;

    while ((at = strstr(at, prefix)) != NULL) {
        if (at == text || at[-1] == '\n') {
            const char *end = strchr(at, '\n');
            return apr_pstrndup(pool, at, end ? (apr_size_t)(end - at) : strlen(at));
        }
        at++;
    }
    return "";
}

static int has_line(const char *text, const char *line)
{
    return strcmp(line_of(text, line), line) == 0;
}

static void test_label_values(void)
{
    CHECK(strcmp(mcp_metrics_label_value(pool, "/mcp"), "/mcp") == 0, "label: plain value as is");
    CHECK(strcmp(mcp_metrics_label_value(pool, "a\\b\"c\nd"), "a\\\\b\\\"c\\nd") == 0,
          "label: backslash, double quote and newline escaped");
    CHECK(strcmp(mcp_metrics_label_value(pool, ""), "") == 0, "label: empty");
    CHECK(strcmp(mcp_metrics_label_value(pool, "caf\xc3\xa9"), "caf\xc3\xa9") == 0, "label: UTF-8 as is");
}

/* Lines the render of test_registry's counts must hold, whole. */
static const struct {
    const char *line, *name;
} expected[] = {
    { "# TYPE mcp_auth_token_checks_total counter",
      "render: TYPE of a counter" },
    { "mcp_auth_token_checks_total" GW ",result=\"accepted\"} 2",
      "render: accepted tokens of the location" },
    { "mcp_auth_token_checks_total" GW ",result=\"expired\"} 1",
      "render: expired tokens" },
    { "mcp_auth_token_checks_total{server=\"gw.example\",location=\"/other\",result=\"accepted\"} 0",
      "render: a location without traffic shows zeros" },
    { "mcp_auth_refusals_total" GW ",reason=\"expired\"} 1",
      "render: refusals by reason" },
    { "mcp_auth_refusals_total" GW ",reason=\"mcp_rule\"} 1",
      "render: rule refusals among the reasons" },
    { "mcp_auth_rule_refusals_total" GW ",rule=\"MCPAuthToolRule \\\"x\\\\y\\\" deny\"} 2",
      "render: a rule's text escaped in its label" },
    { "mcp_auth_request_duration_seconds_bucket" GW ",le=\"5e-06\"} 1",
      "histogram: first bucket" },
    { "mcp_auth_request_duration_seconds_bucket" GW ",le=\"5e-05\"} 2",
      "histogram: buckets are cumulative" },
    { "mcp_auth_request_duration_seconds_bucket" GW ",le=\"1\"} 2",
      "histogram: 5 s is above the last bound" },
    { "mcp_auth_request_duration_seconds_bucket" GW ",le=\"+Inf\"} 3",
      "histogram: +Inf holds every observation" },
    { "mcp_auth_request_duration_seconds_count" GW "} 3",
      "histogram: _count" },
    { "mcp_auth_request_duration_seconds_sum" GW "} 5.000043",
      "histogram: _sum in seconds" },
    { "mcp_auth_relay_steps_total" GW ",step=\"token\",result=\"ok\"} 1",
      "relay: ok" },
    { "mcp_auth_relay_steps_total" GW ",step=\"token\",result=\"client_error\"} 1",
      "relay: client error" },
    { "mcp_auth_relay_steps_total" GW ",step=\"callback\",result=\"server_error\"} 1",
      "relay: server error" },
    { "mcp_auth_fetches_total{kind=\"jwks\",result=\"ok\"} 1",
      "fetches: jwks ok" },
    { "mcp_auth_fetches_total{kind=\"jwks\",result=\"error\"} 1",
      "fetches: jwks error" },
    { "mcp_auth_fetches_total{kind=\"metadata\",result=\"ok\"} 1",
      "fetches: metadata" },
    { "mcp_auth_key_set_age_seconds{url=\"https://idp.example/jwks?***\"} 12.500",
      "key set age" },
    { "mcp_auth_token_cache_lookups_total{result=\"hit\"} 2",
      "token cache hits" },
    { "mcp_auth_token_cache_lookups_total{result=\"miss\"} 1",
      "token cache misses" },
    { "mcp_auth_token_cache_bytes 600",
      "token cache bytes" },
};

static void test_registry(apr_pool_t *keep)
{
    int mcp, other, rule, quoted;
    size_t i;
    const char *text;

    CHECK(mcp_metrics_attach(keep), "attach: shared memory");
    mcp = mcp_metrics_location("gw.example", "/mcp");
    other = mcp_metrics_location("gw.example", "/other");
    CHECK(mcp > MCP_METRICS_OTHER && other > mcp, "locations get slots of their own");
    CHECK(mcp_metrics_location("gw.example", "/mcp") == mcp, "the same names, the same slot");
    CHECK(mcp_metrics_location("other.example", "/mcp") != mcp, "another virtual host, another slot");
    rule = mcp_metrics_rule(mcp, "MCPAuthToolRule delete_* scope repo:admin");
    quoted = mcp_metrics_rule(mcp, "MCPAuthToolRule \"x\\y\" deny");
    CHECK(rule >= 0 && quoted > rule, "rules get slots");

    mcp_metrics_token(mcp, MCP_COUNT_ACCEPTED);
    mcp_metrics_token(mcp, MCP_COUNT_ACCEPTED);
    mcp_metrics_token(mcp, MCP_COUNT_EXPIRED);
    mcp_metrics_refused(mcp, MCP_COUNT_EXPIRED);
    mcp_metrics_refused(mcp, MCP_REFUSAL_RULE);
    mcp_metrics_refused(mcp, MCP_COUNT_ACCEPTED); /* not a refusal: ignored */
    mcp_metrics_refused(mcp, 9999);
    mcp_metrics_token(9999, MCP_COUNT_ACCEPTED);
    mcp_metrics_rule_refused(rule);
    mcp_metrics_rule_refused(quoted);
    mcp_metrics_rule_refused(quoted);
    mcp_metrics_rule_refused(-1);
    mcp_metrics_duration(mcp, 3);          /* 3 µs: the 5e-06 bucket */
    mcp_metrics_duration(mcp, 40);         /* 5e-05 */
    mcp_metrics_duration(mcp, 5000000);    /* 5 s: +Inf only */
    mcp_metrics_relay(mcp, "token", 200);
    mcp_metrics_relay(mcp, "token", 400);
    mcp_metrics_relay(mcp, "callback", 503);
    mcp_metrics_relay(mcp, "nonsense", 200);
    mcp_metrics_fetch("jwks", 1);
    mcp_metrics_fetch("jwks", 0);
    mcp_metrics_fetch("idp-metadata", 1);
    mcp_metrics_token_cache(1);
    mcp_metrics_token_cache(0);
    mcp_metrics_token_cache(1);
    mcp_metrics_token_cache_bytes(1000);
    mcp_metrics_token_cache_bytes(-400);

    {
        mcp_metrics_keyset_t ks[] = { { "https://idp.example/jwks?***", 12.5 } };
        text = mcp_metrics_render(pool, ks, 1);
    }
    for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
        CHECK(has_line(text, expected[i].line), expected[i].name);
    CHECK(strncmp(line_of(text, "# HELP mcp_auth_token_checks_total "), "# HELP mcp_auth_token_checks_total T", 36) == 0,
          "render: HELP before each family");
    CHECK(strstr(text, "reason=\"accepted\"") == NULL, "render: accepted is no refusal reason");
    CHECK(strstr(text, "mcp_auth_relay_steps_total{server=\"gw.example\",location=\"/other\"") == NULL,
          "relay: no series where the relay never answered");
    CHECK(strstr(text, "(other)") == NULL, "nothing counted in (other): not shown");
    CHECK(text[strlen(text) - 1] == '\n', "render: ends with a newline");

    {
        json_t *j = mcp_metrics_tokens_json();
        CHECK(json_integer_value(json_object_get(j, "accepted")) == 2, "status JSON: accepted summed");
        CHECK(json_integer_value(json_object_get(json_object_get(j, "rejected"), "expired")) == 1,
              "status JSON: rejected by reason");
        json_decref(j);
    }

    /* a graceful restart: same registry, a configuration without /other */
    CHECK(mcp_metrics_attach(keep), "attach again");
    CHECK(mcp_metrics_location("gw.example", "/mcp") == mcp, "restart: a location keeps its slot");
    CHECK(mcp_metrics_rule(mcp, "MCPAuthToolRule delete_* scope repo:admin") == rule, "restart: a rule keeps its slot");
    mcp_metrics_token(mcp, MCP_COUNT_ACCEPTED);
    text = mcp_metrics_render(pool, NULL, 0);
    CHECK(has_line(text, "mcp_auth_token_checks_total{server=\"gw.example\",location=\"/mcp\",result=\"accepted\"} 3"),
          "restart: counts go on");
    CHECK(strstr(text, "location=\"/other\"") == NULL, "restart: a location no longer configured is not shown");
    CHECK(strstr(text, "x\\\\y") == NULL, "restart: nor a rule no longer configured");
    CHECK(strstr(text, "mcp_auth_key_set_age_seconds{") == NULL, "no key sets given: no age series");
}

static void test_capacity(apr_pool_t *keep)
{
    int i, slot = 0;
    char long_name[MCP_METRICS_NAME_MAX + 10];
    const char *text;

    CHECK(mcp_metrics_attach(keep), "capacity: attach");
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK(mcp_metrics_location("h", long_name) == MCP_METRICS_OTHER, "a name too long for a slot: (other)");
    for (i = 0; i < MCP_METRICS_LOCATIONS + 5; i++)
        slot = mcp_metrics_location("h", apr_psprintf(pool, "/l%d", i));
    CHECK(slot == MCP_METRICS_OTHER, "past the capacity: (other)");
    mcp_metrics_token(slot, MCP_COUNT_NO_TOKEN);
    for (i = 0; i < MCP_METRICS_RULES + 5; i++)
        slot = mcp_metrics_rule(1, apr_psprintf(pool, "MCPAuthToolRule t%d deny", i));
    CHECK(slot == -1, "past the rule capacity: not counted");
    text = mcp_metrics_render(pool, NULL, 0);
    CHECK(has_line(text, "mcp_auth_token_checks_total{server=\"(other)\",location=\"(other)\",result=\"no_token\"} 1"),
          "(other) shown once something counted there");
    CHECK(strlen(text) > 0 && strstr(text, "location=\"/l3\"") != NULL, "a full registry still renders");
}

void mcp_metrics_tests(apr_pool_t *parent)
{
    apr_pool_t *keep, *keep2;

    apr_pool_create(&pool, parent);
    apr_pool_create(&keep, parent);
    test_label_values();
    test_registry(keep);
    /* another process pool: another registry */
    apr_pool_create(&keep2, parent);
    test_capacity(keep2);
    apr_pool_destroy(keep2);
    apr_pool_destroy(keep);
    apr_pool_destroy(pool);
}
