/* Unit tests of mcp_challenge: the WWW-Authenticate challenges (RFC 6750 §3,
 * RFC 9728 §5.1), with DPoP beside Bearer (RFC 9449 §7.1). */

#include <pthread.h>
#include <string.h>

#include <jansson.h>

#include "mcp_challenge.h"
#include "unit.h"
#include "unit_files.h"

static apr_pool_t *pool;

static void test_challenge(void)
{
    mcp_challenge_t c = { "https://mcp.example.com/.well-known/oauth-protected-resource/mcp", NULL, NULL,
                          "openid mcp" };
    const char *h = mcp_challenge_header(pool, &c);

    CHECK(strcmp(h, "Bearer resource_metadata=\"https://mcp.example.com/.well-known/"
                    "oauth-protected-resource/mcp\", scope=\"openid mcp\"")
              == 0,
          "challenge without error");
    c.error = "invalid_token";
    c.description = "bad \"kid\"\r\nX-Injected: 1";
    h = mcp_challenge_header(pool, &c);
    CHECK(strstr(h, "error=\"invalid_token\"") && !strchr(h, '\r') && !strchr(h, '\n')
              && strstr(h, "error_description=\"bad ?kid???X-Injected: 1\""),
          "challenge parameters cannot break out of their quotes");

    /* RFC 9449 §7.1: a DPoP challenge beside the Bearer one, the error in
     * the scheme the client used */
    c.description = "expired";
    c.dpop_algs = "ES256 PS256";
    h = mcp_challenge_header(pool, &c);
    CHECK(strncmp(h, "Bearer resource_metadata=", 25) == 0 && strstr(h, ", DPoP resource_metadata=")
              && strstr(h, "algs=\"ES256 PS256\"") && strstr(h, "error=\"invalid_token\"") < strstr(h, "DPoP "),
          "challenge with DPoP allowed: Bearer first and carrying the error of a bearer presentation");
    c.error_in_dpop = 1;
    c.error = "invalid_dpop_proof";
    h = mcp_challenge_header(pool, &c);
    CHECK(strstr(h, "error=\"invalid_dpop_proof\"") > strstr(h, "DPoP ")
              && strstr(h, "error=") == strstr(h, "error=\"invalid_dpop_proof\""),
          "challenge after a DPoP presentation: the error in the DPoP challenge only");
    c.no_bearer = 1;
    h = mcp_challenge_header(pool, &c);
    CHECK(strncmp(h, "DPoP resource_metadata=", 23) == 0 && !strstr(h, "Bearer"),
          "challenge with DPoP required: no Bearer challenge");
}

/* The error body, written once and then taken from the thread's memo: each
 * combination of error, description and metadata URL reads as jansson
 * writes it, whichever came before, with more combinations than the memo
 * keeps and values that need escaping. */
static void test_body(void)
{
    const char *errors[] = { NULL, "invalid_token", "insufficient_scope" };
    const char *descriptions[] = { NULL, "token expired", "say \"hi\"\n", "signature verification failed" };
    const char *urls[] = { NULL, "https://a.example/.well-known/oauth-protected-resource/mcp",
                           "https://b.example/.well-known/oauth-protected-resource/mcp" };
    int round, e, d, u, right = 1;

    for (round = 0; round < 3; round++) {
        for (e = 0; e < 3; e++) {
            for (d = 0; d < 4; d++) {
                for (u = 0; u < 3; u++) {
                    mcp_challenge_t c = { urls[u], errors[e], descriptions[d], NULL, NULL, 0, 0 };
                    const char *body = mcp_challenge_body(pool, &c);
                    json_t *doc = json_loads(body, 0, NULL);
                    const char *want_e = errors[e] ? errors[e] : "unauthorized";
                    const char *want_d = descriptions[d] ? descriptions[d] : "a Bearer access token is required";
                    json_t *url = json_object_get(doc, "resource_metadata");

                    if (doc == NULL || strcmp(json_string_value(json_object_get(doc, "error")), want_e) != 0
                        || strcmp(json_string_value(json_object_get(doc, "error_description")), want_d) != 0
                        || (urls[u] ? !json_is_string(url) || strcmp(json_string_value(url), urls[u]) != 0
                                    : url != NULL))
                        right = 0;
                    json_decref(doc);
                }
            }
        }
    }
    CHECK(right, "error body: 36 combinations, three times over, each the JSON of its own error, description "
                 "and metadata URL");
}

/* The challenge header, taken from the thread's memo after its first
 * writing: every combination of the fields (each pair of them asked for one
 * after the other, so that each finds the other in the memo) reads as a
 * thread with no memo writes it: no field is missing from what the memo is
 * keyed by. */
#define HEADER_COMBINATIONS 192
static mcp_challenge_t combination(int k)
{
    static const char *const urls[] = { "https://a.example/.well-known/oauth-protected-resource/mcp",
                                        "https://b.example/.well-known/oauth-protected-resource/mcp" };
    static const char *const errors[] = { NULL, "invalid_token", "invalid_dpop_proof" };
    static const char *const descriptions[] = { "expired", "signature verification failed" };
    static const char *const scopes[] = { NULL, "mcp:tools" };
    mcp_challenge_t c = { urls[k % 2], errors[k / 2 % 3], descriptions[k / 6 % 2], scopes[k / 12 % 2],
                          k / 24 % 2 ? "ES256 PS256" : NULL, k / 48 % 2, k / 96 % 2 };

    return c;
}

static char *fresh[HEADER_COMBINATIONS];

static void *write_fresh(void *arg)
{
    int k = (int)(long)arg;
    apr_pool_t *p;
    mcp_challenge_t c = combination(k);

    apr_pool_create(&p, NULL);
    fresh[k] = strdup(mcp_challenge_header(p, &c));
    apr_pool_destroy(p);
    return NULL;
}

static void test_header_memo(void)
{
    int a, b, k, right = 1;
    apr_pool_t *p;

    for (k = 0; k < HEADER_COMBINATIONS; k++) {
        pthread_t t;

        pthread_create(&t, NULL, write_fresh, (void *)(long)k);
        pthread_join(t, NULL);
        right &= fresh[k] != NULL;
    }
    apr_pool_create(&p, pool);
    for (a = 0; right && a < HEADER_COMBINATIONS; a++) {
        for (b = 0; b < HEADER_COMBINATIONS; b++) {
            mcp_challenge_t ca = combination(a), cb = combination(b);

            if (strcmp(mcp_challenge_header(p, &ca), fresh[a]) != 0
                || strcmp(mcp_challenge_header(p, &cb), fresh[b]) != 0)
                right = 0;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    CHECK(right, "challenge header: 192 combinations, each pair one after the other, each as a thread "
                 "without a memo writes it");
    for (k = 0; k < HEADER_COMBINATIONS; k++)
        free(fresh[k]);
}

void mcp_challenge_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_challenge();
    test_body();
    test_header_memo();
    apr_pool_destroy(pool);
}
