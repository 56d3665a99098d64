#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <cjose/base64.h>
#include <cjose/util.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mcp_b64url.h"
#include "mcp_exchange.h"
#include "mcp_jwt.h"
#include "mcp_seal.h"

/* A token longer than this is no token any IdP issues; it would not fit
 * the backend's header limits either. */
#define TOKEN_MAX_LEN (16 * 1024)
/* An error_description kept with a refusal: for the log, which cuts it
 * shorter still. */
#define DESCRIPTION_MAX_LEN 512

static const char *form_value(apr_pool_t *pool, const char *value)
{
    return apr_pescape_urlencoded(pool, value);
}

static const char *each(apr_pool_t *pool, const char *name, const apr_array_header_t *values)
{
    const char *out = "";
    int i;

    for (i = 0; values && i < values->nelts; i++)
        out = apr_pstrcat(pool, out, "&", name, "=", form_value(pool, APR_ARRAY_IDX(values, i, const char *)), NULL);
    return out;
}

const char *mcp_exchange_request(apr_pool_t *pool, const mcp_exchange_target_t *target, const char *token,
                                 apr_size_t len)
{
    const char *subject = form_value(pool, apr_pstrmemdup(pool, token, len));
    const char *scope = target->scope ? apr_pstrcat(pool, "&scope=", form_value(pool, target->scope), NULL) : "";

    if (target->grant == MCP_EXCHANGE_GRANT_ON_BEHALF_OF)
        /* Entra's on-behalf-of flow: the user's token as a jwt-bearer
         * assertion (RFC 7523 §2.1), the API named by its scope */
        return apr_pstrcat(pool, "grant_type=", form_value(pool, MCP_GRANT_JWT_BEARER), "&assertion=", subject,
                           "&requested_token_use=on_behalf_of", scope, NULL);
    /* RFC 8693 §2.1: an access token for an access token, the target named
     * by audience (logical names) and resource (URIs, RFC 8707) */
    return apr_pstrcat(pool, "grant_type=", form_value(pool, MCP_GRANT_TOKEN_EXCHANGE), "&subject_token=", subject,
                       "&subject_token_type=",
                       form_value(pool, target->subject_token_type ? target->subject_token_type
                                                                    : MCP_TOKEN_TYPE_ACCESS_TOKEN),
                       "&requested_token_type=", form_value(pool, MCP_TOKEN_TYPE_ACCESS_TOKEN),
                       each(pool, "audience", target->audiences), each(pool, "resource", target->resources), scope,
                       NULL);
}

const char *mcp_exchange_target_describe(apr_pool_t *pool, const mcp_exchange_target_t *target)
{
    /* the form without a token says all of it, unambiguously (every value
     * is escaped) */
    return mcp_exchange_request(pool, target, "", 0);
}

/* Visible ASCII only: the token goes into a header field of the request
 * to the backend, where a CR or LF would start another field. */
static int header_safe(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    }
    return len > 0;
}

/* The exp of a JWT, read without checking it: only to know how long the
 * gateway's own copy may be reused (the backend checks the token). */
static long jwt_exp(const char *token, apr_size_t len)
{
    const char *dot1 = memchr(token, '.', len), *dot2;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    json_t *payload, *exp;
    long out = 0;

    if (dot1 == NULL || (dot2 = memchr(dot1 + 1, '.', len - (apr_size_t)(dot1 + 1 - token))) == NULL
        || !mcp_b64url_is_strict(dot1 + 1, (apr_size_t)(dot2 - dot1 - 1))
        || !cjose_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw, &raw_len, NULL))
        return 0;
    payload = json_loadb((const char *)raw, raw_len, 0, NULL);
    cjose_get_dealloc()(raw);
    exp = json_object_get(payload, "exp");
    if (json_is_integer(exp) && json_integer_value(exp) > 0)
        out = (long)json_integer_value(exp);
    json_decref(payload);
    return out;
}

static int is_one_of(const char *value, const char *a, const char *b)
{
    return value && (strcmp(value, a) == 0 || (b && strcmp(value, b) == 0));
}

/* RFC 6749 §5.2 error codes are NQSCHAR: printable ASCII without '"' and
 * '\'; anything else is no error code. */
static int error_code_ok(const char *s)
{
    apr_size_t n = s ? strlen(s) : 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
            return 0;
    }
    return n > 0 && n <= 64;
}

static mcp_exchange_status_t refusal(apr_pool_t *pool, json_t *doc, mcp_exchanged_t *out, const char **err)
{
    const char *error = json_string_value(json_object_get(doc, "error"));
    const char *description = json_string_value(json_object_get(doc, "error_description"));

    if (!error_code_ok(error)) {
        *err = "an error answer without an OAuth error code";
        return MCP_EXCHANGE_BROKEN;
    }
    out->error = apr_pstrdup(pool, error);
    out->description = description ? apr_pstrndup(pool, description, DESCRIPTION_MAX_LEN) : NULL;
    return MCP_EXCHANGE_REFUSED;
}

static mcp_exchange_status_t issued(apr_pool_t *pool, json_t *doc, long now, mcp_exchanged_t *out, const char **err)
{
    json_t *token = json_object_get(doc, "access_token"), *expires_in = json_object_get(doc, "expires_in");
    const char *token_type = json_string_value(json_object_get(doc, "token_type"));
    const char *issued_type = json_string_value(json_object_get(doc, "issued_token_type"));
    apr_size_t len = json_string_length(token);

    if (!json_is_string(token) || len > TOKEN_MAX_LEN || !header_safe(json_string_value(token), len)) {
        *err = "no usable access_token in the answer";
        return MCP_EXCHANGE_BROKEN;
    }
    /* RFC 8693 §2.2.1: "Bearer" is what a backend can be handed; a DPoP
     * token needs a proof the gateway cannot make for it, N_A is no
     * access token */
    if (token_type == NULL || strcasecmp(token_type, "Bearer") != 0) {
        *err = apr_psprintf(pool, "token_type is %s, not Bearer", token_type ? token_type : "missing");
        return MCP_EXCHANGE_BROKEN;
    }
    /* Entra leaves issued_token_type out; where it is said, it must be an
     * access token (a refresh or ID token is nothing to forward) */
    if (json_object_get(doc, "issued_token_type")
        && !is_one_of(issued_type, MCP_TOKEN_TYPE_ACCESS_TOKEN, MCP_TOKEN_TYPE_JWT)) {
        *err = apr_psprintf(pool, "issued_token_type is %s, not an access token",
                            issued_type ? issued_type : "not a string");
        return MCP_EXCHANGE_BROKEN;
    }
    out->token = apr_pstrmemdup(pool, json_string_value(token), len);
    /* expires_in is RECOMMENDED (RFC 8693 §2.2.1); without a usable one, a
     * JWT's own exp says as much */
    if (json_is_integer(expires_in) && json_integer_value(expires_in) > 0
        && json_integer_value(expires_in) < 10L * 365 * 86400)
        out->expires_at = now + (long)json_integer_value(expires_in);
    else
        out->expires_at = jwt_exp(out->token, len);
    return MCP_EXCHANGE_ISSUED;
}

mcp_exchange_status_t mcp_exchange_answer(apr_pool_t *pool, long http_status, const char *body, apr_size_t len,
                                          long now, mcp_exchanged_t *out, const char **err)
{
    json_t *doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    mcp_exchange_status_t status;

    memset(out, 0, sizeof(*out));
    *err = NULL;
    if (!json_is_object(doc) || !mcp_json_depth_ok(doc, 1)) {
        *err = apr_psprintf(pool, "HTTP %ld without a JSON object the gateway can read", http_status);
        status = MCP_EXCHANGE_BROKEN;
    }
    else if (http_status == 200) {
        status = issued(pool, doc, now, out, err);
    }
    else if (http_status == 400 || http_status == 401 || http_status == 403) {
        /* RFC 6749 §5.2 (RFC 8693 §2.2.2): the IdP's no, with its reason */
        status = refusal(pool, doc, out, err);
        if (status == MCP_EXCHANGE_BROKEN)
            *err = apr_psprintf(pool, "HTTP %ld: %s", http_status, *err);
    }
    else {
        *err = apr_psprintf(pool, "HTTP %ld", http_status);
        status = MCP_EXCHANGE_BROKEN;
    }
    json_decref(doc);
    return status;
}

long mcp_exchange_reuse_until(long now, long expires_at)
{
    long life = expires_at - now, margin;

    if (expires_at <= 0 || life <= 0)
        return 0;
    /* a quarter of its life, at most a minute: a 5-minute token is reused
     * for 4, one that lasts an hour for 59 */
    margin = life / 4 < 60 ? life / 4 : 60;
    return life - margin > 0 ? expires_at - margin : 0;
}

/* The sealing key of a record: an HMAC of a fixed label under the client's
 * token. The cache's record id is a plain hash of the token with other
 * words: neither tells the other, nor the token. */
static int record_key(const char *token, apr_size_t len, unsigned char key[MCP_SEAL_KEY_LEN])
{
    static const char label[] = "mod_mcp_auth exchanged token seal";
    size_t out_len = 0;

    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, token, len, (const unsigned char *)label, sizeof(label) - 1,
                     key, MCP_SEAL_KEY_LEN, &out_len) != NULL
           && out_len == MCP_SEAL_KEY_LEN;
}

const char *mcp_exchange_record(apr_pool_t *pool, const char *token, apr_size_t len, const char *name,
                                mcp_exchange_status_t status, const mcp_exchanged_t *answer)
{
    unsigned char key[MCP_SEAL_KEY_LEN];
    json_t *doc;
    char *plain;
    const char *sealed = NULL;

    if (status == MCP_EXCHANGE_ISSUED)
        doc = json_pack("{ss sI}", "token", answer->token, "exp", (json_int_t)answer->expires_at);
    else if (status == MCP_EXCHANGE_REFUSED)
        doc = json_pack("{ss ss*}", "error", answer->error, "description", answer->description);
    else
        return NULL;
    plain = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (plain && record_key(token, len, key))
        sealed = mcp_seal(pool, key, apr_pstrcat(pool, "exchanged ", name, NULL), plain, strlen(plain));
    OPENSSL_cleanse(key, sizeof(key));
    if (plain) {
        OPENSSL_cleanse(plain, strlen(plain));
        free(plain);
    }
    json_decref(doc);
    return sealed;
}

mcp_exchange_status_t mcp_exchange_record_read(apr_pool_t *pool, const char *token, apr_size_t len, const char *name,
                                               const char *record, apr_size_t record_len, mcp_exchanged_t *answer)
{
    unsigned char key[MCP_SEAL_KEY_LEN];
    apr_size_t plain_len = 0;
    const char *plain = NULL, *value;
    json_t *doc = NULL, *exp;
    mcp_exchange_status_t status = MCP_EXCHANGE_BROKEN;

    memset(answer, 0, sizeof(*answer));
    if (record_key(token, len, key))
        plain = mcp_unseal_bounded(pool, key, apr_pstrcat(pool, "exchanged ", name, NULL),
                                   apr_pstrmemdup(pool, record, record_len), MCP_EXCHANGE_RECORD_MAX_LEN, &plain_len);
    OPENSSL_cleanse(key, sizeof(key));
    if (plain)
        doc = json_loadb(plain, plain_len, 0, NULL);
    if ((value = json_string_value(json_object_get(doc, "token"))) != NULL
        && json_is_integer(exp = json_object_get(doc, "exp"))) {
        answer->token = apr_pstrdup(pool, value);
        answer->expires_at = (long)json_integer_value(exp);
        status = MCP_EXCHANGE_ISSUED;
    }
    else if ((value = json_string_value(json_object_get(doc, "error"))) != NULL) {
        answer->error = apr_pstrdup(pool, value);
        value = json_string_value(json_object_get(doc, "description"));
        answer->description = value ? apr_pstrdup(pool, value) : NULL;
        status = MCP_EXCHANGE_REFUSED;
    }
    json_decref(doc);
    return status;
}
