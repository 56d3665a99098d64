/* Unit tests of mcp_metadata: the protected resource metadata document (RFC
 * 9728 §2). */

#include <string.h>

#include <apr_tables.h>
#include <jansson.h>

#include "mcp_metadata.h"
#include "unit.h"
#include "unit_files.h"
#include "unit_support.h"

static apr_pool_t *pool;

static void test_metadata(void)
{
    mcp_prm_t prm;
    apr_array_header_t *as = apr_array_make(pool, 1, sizeof(const char *));
    apr_table_t *extra = apr_table_make(pool, 1);
    json_t *doc;
    const char *json;

    APR_ARRAY_PUSH(as, const char *) = ISSUER;
    prm.resource = AUDIENCE;
    prm.authorization_servers = as;
    prm.scopes_supported = NULL;
    prm.bearer_methods = as;
    apr_table_set(extra, "resource_name", "\"Demo\"");
    prm.dpop = 0;
    prm.extra = extra;
    json = mcp_prm_json(pool, &prm);
    doc = json_loads(json, 0, NULL);
    CHECK(doc && strcmp(json_string_value(json_object_get(doc, "resource")), AUDIENCE) == 0
              && json_object_get(doc, "scopes_supported") == NULL
              && strcmp(json_string_value(json_object_get(doc, "resource_name")), "Demo") == 0,
          "protected resource metadata document");
    CHECK(json_object_get(doc, "dpop_signing_alg_values_supported") == NULL
              && json_object_get(doc, "dpop_bound_access_tokens_required") == NULL,
          "metadata without DPoP says nothing of it");
    json_decref(doc);
    prm.dpop = 2;
    doc = json_loads(mcp_prm_json(pool, &prm), 0, NULL);
    CHECK(json_is_array(json_object_get(doc, "dpop_signing_alg_values_supported"))
              && json_is_true(json_object_get(doc, "dpop_bound_access_tokens_required")),
          "metadata with DPoP required: algs and dpop_bound_access_tokens_required true (RFC 9728 §2)");
    json_decref(doc);
    prm.dpop = 1;
    doc = json_loads(mcp_prm_json(pool, &prm), 0, NULL);
    CHECK(json_is_false(json_object_get(doc, "dpop_bound_access_tokens_required")),
          "metadata with DPoP allowed: dpop_bound_access_tokens_required false");
    json_decref(doc);
    CHECK(mcp_json_is_valid("[1,2]") && !mcp_json_is_valid("{bad"), "JSON validity check");
}

void mcp_metadata_tests(apr_pool_t *parent)
{
    apr_pool_create(&pool, parent);
    test_metadata();
    apr_pool_destroy(pool);
}
