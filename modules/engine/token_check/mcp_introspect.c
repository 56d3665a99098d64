#include <stdlib.h>
#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>

#include "mcp_b64url.h"
#include "mcp_introspect.h"
#include "mcp_jwt.h"


const char *mcp_introspect_request(apr_pool_t *pool, const char *token, apr_size_t len)
{
    /* token_type_hint (§2.1) spares the IdP a look among refresh tokens */
    return apr_pstrcat(pool, "token=", apr_pescape_urlencoded(pool, apr_pstrmemdup(pool, token, len)),
                       "&token_type_hint=access_token", NULL);
}

int mcp_token_is_jws_shaped(const char *token, apr_size_t len)
{
    const char *dot1 = memchr(token, '.', len), *dot2;

    if (dot1 == NULL)
        return 0;
    dot2 = memchr(dot1 + 1, '.', len - (apr_size_t)(dot1 + 1 - token));
    return dot2 != NULL && memchr(dot2 + 1, '.', len - (apr_size_t)(dot2 + 1 - token)) == NULL
           && mcp_b64url_is_strict(token, (apr_size_t)(dot1 - token));
}


static const char *const access_token_types[] = { "Bearer", "DPoP", NULL };


mcp_introspect_status_t mcp_introspect_parse(apr_pool_t *pool, const char *body, apr_size_t len,
                                             const char *issuer, json_t **claims, const char **err)
{
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL), *active;

    *claims = NULL;
    if (!json_is_object(doc) || !mcp_json_depth_ok(doc, 1)) {
        json_decref(doc);
        *err = "the introspection answer is not a JSON object";
        return MCP_INTROSPECT_BROKEN;
    }
    active = json_object_get(doc, "active");
    /* §2.2: "active" is REQUIRED and a boolean; anything else is no answer */
    if (!json_is_boolean(active)) {
        json_decref(doc);
        *err = "the introspection answer has no boolean \"active\"";
        return MCP_INTROSPECT_BROKEN;
    }
    if (!json_is_true(active)) {
        json_decref(doc);
        *err = "token is not active";
        return MCP_INTROSPECT_INACTIVE;
    }
    /* an active refresh or ID token is no access token: RFC 7662 §2.2
     * token_type (RFC 6749 §7.1 types), and the claims' own word */
    if (!mcp_json_absent_or_among(json_object_get(doc, "token_type"), access_token_types)
        || !mcp_claims_name_access_token(doc)) {
        json_decref(doc);
        *err = "the token is not an access token";
        return MCP_INTROSPECT_INACTIVE;
    }
    if (json_object_get(doc, "iss") == NULL && issuer)
        json_object_set_new(doc, "iss", json_string(issuer));
    *claims = doc;
    return MCP_INTROSPECT_ACTIVE;
}

const char *mcp_introspect_record(apr_pool_t *pool, json_t *claims)
{
    json_t *record = claims ? json_pack("{sbsO}", "active", 1, "claims", claims) : json_pack("{sb}", "active", 0);
    char *text = json_dumps(record, JSON_COMPACT);
    const char *copy = text ? apr_pstrdup(pool, text) : NULL;

    free(text);
    json_decref(record);
    return copy;
}

mcp_introspect_status_t mcp_introspect_record_read(apr_pool_t *pool, const char *record, apr_size_t len,
                                                   json_t **claims)
{
    json_t *doc = json_loadb(record, len, JSON_REJECT_DUPLICATES, NULL), *c;
    mcp_introspect_status_t status = MCP_INTROSPECT_BROKEN;

    *claims = NULL;
    c = json_object_get(doc, "claims");
    if (json_is_false(json_object_get(doc, "active"))) {
        status = MCP_INTROSPECT_INACTIVE;
    }
    else if (json_is_true(json_object_get(doc, "active")) && json_is_object(c)) {
        *claims = json_incref(c);
        status = MCP_INTROSPECT_ACTIVE;
    }
    json_decref(doc);
    return status;
}
