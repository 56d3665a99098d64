/* The relay's sealed values (mcp_seal.h), each under its own purpose and
 * bound to the site and location that made it (scheme, ServerName, port,
 * location, issuer): a client id, state, code, refresh token or consent of
 * one virtual host or location is nothing at another, so restricting one
 * site's endpoints or consent cannot be got round through another. Sealed
 * JSON carries its expiry as "e". */

#include <stdlib.h>
#include <string.h>

#include <apr_escape.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "mcp_seal.h"
#include "mcp_httpd.h"
#include "mcp_locations.h"
#include "mcp_relay_key.h"
#include "mcp_relay_seal.h"
#include "mcp_urls.h"

APLOG_USE_MODULE(mcp_auth);

const unsigned char *mcp_relay_key_or_log(request_rec *r)
{
    const unsigned char *key = mcp_relay_key();

    if (key == NULL)
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "MCPAUTH0041: the relay has no key (see MCPAUTH0040)");
    return key;
}

#define NOTE_BINDING "relay_binding.mcp_auth"
#define NOTE_SITE_TAG "relay_site_tag.mcp_auth"

void mcp_relay_bind(request_rec *r, const protected_location_t *pl)
{
    const char *binding = apr_pstrcat(r->pool, mcp_site_of(r), " ", pl->conf->issuer, " ",
                                      mcp_published_path(r->pool, pl), NULL);

    apr_table_setn(r->notes, NOTE_BINDING, binding);
    apr_table_setn(r->notes, NOTE_SITE_TAG, apr_pstrndup(r->pool, mcp_relay_hash(r->pool, binding), 8));
}

const char *mcp_relay_site_tag(request_rec *r)
{
    const char *tag = apr_table_get(r->notes, NOTE_SITE_TAG);

    return tag ? tag : "";
}

const char *mcp_relay_purpose(request_rec *r, const char *purpose)
{
    const char *binding = apr_table_get(r->notes, NOTE_BINDING);

    return apr_pstrcat(r->pool, purpose, " ", binding ? binding : "", NULL);
}

const char *mcp_relay_seal_json(request_rec *r, const char *purpose, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    const unsigned char *key = mcp_relay_key_or_log(r);
    const char *sealed = text && key ? mcp_seal(r->pool, key, mcp_relay_purpose(r, purpose), text, strlen(text)) : NULL;

    free(text);
    json_decref(doc);
    return sealed;
}

/* A sealed JSON object, unexpired when it carries "e"; NULL otherwise. */
json_t *mcp_relay_unseal_json(request_rec *r, const char *purpose, const char *sealed)
{
    const unsigned char *key = mcp_relay_key_or_log(r);
    apr_size_t len = 0;
    const char *text = key && sealed ? mcp_unseal(r->pool, key, mcp_relay_purpose(r, purpose), sealed, &len) : NULL;
    json_t *doc = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL) : NULL, *e;

    if (text == NULL && key && sealed)
        mcp_relay_key_explain(r, sealed);

    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    e = json_object_get(doc, "e");
    if (e && (!json_is_integer(e) || json_integer_value(e) < apr_time_sec(apr_time_now()))) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

const char *mcp_relay_member(apr_pool_t *p, json_t *doc, const char *name)
{
    const char *s = json_string_value(json_object_get(doc, name));

    return s ? apr_pstrdup(p, s) : NULL;
}

long mcp_relay_now(void)
{
    return (long)apr_time_sec(apr_time_now());
}

const char *mcp_relay_hash(apr_pool_t *p, const char *s)
{
    unsigned char md[32];
    unsigned int n = 0;

    if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL))
        return "";
    return apr_pescape_hex(p, md, n, 0);
}
