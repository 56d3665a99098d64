/* The relay's sealed values, bound to their location. */
#ifndef MCP_RELAY_SEAL_H
#define MCP_RELAY_SEAL_H

#include <httpd.h>
#include <jansson.h>

#include "mcp_config.h"

/* Binds what r seals and unseals from now on to pl on r's site. */
void mcp_relay_bind(request_rec *r, const protected_location_t *pl);

/* A short name of that binding, for the names of the relay's cookies: two
 * sites on one host name (cookies ignore ports) never replace each other's. */
const char *mcp_relay_site_tag(request_rec *r);

/* The relay's key, or NULL after logging that there is none. */
const unsigned char *mcp_relay_key_or_log(request_rec *r);

/* purpose bound to r's location, as seal associated data. */
const char *mcp_relay_purpose(request_rec *r, const char *purpose);

/* doc (its reference is taken) sealed for purpose; NULL on failure. */
const char *mcp_relay_seal_json(request_rec *r, const char *purpose, json_t *doc);

/* A sealed JSON object, unexpired when it carries "e"; NULL otherwise. */
json_t *mcp_relay_unseal_json(request_rec *r, const char *purpose, const char *sealed);

/* A string member of doc copied into p, or NULL. */
const char *mcp_relay_member(apr_pool_t *p, json_t *doc, const char *name);

long mcp_relay_now(void);

/* SHA-256 of s, in hex. */
const char *mcp_relay_hash(apr_pool_t *p, const char *s);

#endif
