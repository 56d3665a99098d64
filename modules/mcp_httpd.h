/* Declarations shared by the httpd-facing files of mod_mcp_auth: the
 * configuration records and the helpers that need a request_rec. */
#ifndef MCP_HTTPD_H
#define MCP_HTTPD_H

#include <httpd.h>
#include <util_filter.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_hash.h>
#include <apr_thread_mutex.h>

#include "mcp_docstore.h"
#include "mcp_facade.h"
#include "mcp_discovery.h"
#include "mcp_jwks.h"

extern module AP_MODULE_DECLARE_DATA mcp_auth_module;

#define MCP_AUTH_TYPE "MCP"
#define PRM_PREFIX "/.well-known/oauth-protected-resource"
#define CACHE_MUTEX_TYPE "mcp-auth-cache"
#define NOTE_JSON_ERROR "mcp_auth.json_error"
#define NOTE_SCOPE_NEEDED "mcp_auth.scope_needed"
#define JSON_ERROR_FILTER "MCP_AUTH_JSON_ERROR"
#define CORS_FILTER "MCP_AUTH_CORS"

#define DEFAULT_CLOCK_SKEW 60

typedef enum { MODE_UNSET = -1, MODE_STRICT, MODE_OPTIONAL, MODE_PERMISSIVE } mcp_mode_e;

#define PROVIDER_UNSET -1

typedef struct claim_header {
    const char *claim;
    const char *header;
} claim_header_t;

typedef struct mcp_dir_conf {
    const char *location;          /* the <Location> path this config came from */
    int auth_type_mcp;             /* -1 unset: recorded from AuthType for startup checks */
    const char *issuer;
    const char *jwks_uri;
    const char *resource;
    apr_array_header_t *audiences;
    apr_array_header_t *scopes_supported;
    apr_array_header_t *scope_rules;       /* of apr_array_header_t *: each Require mcp-scope line */
    apr_array_header_t *token_types;       /* accepted JWT "typ" values; NULL: the default set */
    apr_array_header_t *claim_headers;
    apr_table_t *resource_metadata;
    /* key and metadata fetching; -1 / 0 / NULL: unset */
    int refresh_min, refresh_max, min_refetch, max_stale;
    int connect_timeout, fetch_timeout;
    long fetch_max_bytes;
    const char *ca_file;
    int clock_skew;
    int mode;
    int bearer_methods;
    int provider;
    const char *client_id;              /* MCPAuthClientID: local registration */
    int trust_forwarded;                /* -1 unset */
    apr_array_header_t *cors_origins;   /* NULL unset; "*" allowed */
} mcp_dir_conf_t;

/* A location protected by AuthType MCP, found at startup, for the metadata
 * handler (which runs before any per-directory lookup). */
typedef struct protected_location {
    const char *path;
    const mcp_dir_conf_t *conf;
    ap_conf_vector_t *per_dir;   /* every module's merged config for the location */
} protected_location_t;

typedef struct mcp_server_conf {
    apr_array_header_t *protected;  /* of protected_location_t */
} mcp_server_conf_t;

/* Process-wide state (set up in post_config / child_init). */
extern const char *mcp_cache_provider_name;
extern mcp_docstore_t *mcp_docstore_instance;
extern apr_hash_t *mcp_discovery_hits;
extern apr_thread_mutex_t *mcp_discovery_mutex;

/* mod_mcp_auth.c */
mcp_dir_conf_t *mcp_conf_of(request_rec *r);
void mcp_doc_policy_of(const mcp_dir_conf_t *conf, mcp_doc_policy_t *policy);
const char *mcp_external_url(request_rec *r, const mcp_dir_conf_t *conf, const char *path);
const char *mcp_location_path(apr_pool_t *p, const mcp_dir_conf_t *conf);
const char *mcp_resource_of(request_rec *r, const mcp_dir_conf_t *conf);
const char *mcp_prm_url(request_rec *r, const mcp_dir_conf_t *conf);
const char *mcp_published_path(apr_pool_t *p, const protected_location_t *pl);
/* The protected location a well-known suffix names, or NULL. */
const protected_location_t *mcp_find_protected(request_rec *r, const char *suffix);

/* Gives a request the quick handler answers the location's configuration,
 * so that URLs are built as for a request to the location itself
 * (UseCanonicalName and friends). Only once the handler answers it. */
void mcp_serve_as_location(request_rec *r, const protected_location_t *pl);

/* 405 with the right Allow header (and CORS, for browsers to read it). */
int mcp_method_not_allowed(request_rec *r, const mcp_dir_conf_t *conf, const char *allow);
int mcp_deny(request_rec *r, const mcp_dir_conf_t *conf, int status, const char *error,
             const char *description);
const char *mcp_loggable(request_rec *r, const char *s);

/* mcp_keys_httpd.c: the issuer's metadata and signing keys for a request */
void *mcp_parse_jwks(apr_pool_t *pool, const char *body, apr_size_t len, const void *ctx,
                     const char **err);
/* Where the issuer's metadata may be, best first (the URL that answered last
 * in this process, RFC 8414, OpenID Connect); returns how many, and the
 * issuer the documents must name. */
int mcp_discovery_candidates(request_rec *r, const mcp_dir_conf_t *conf, const char **urls,
                             const char **issuer);
const mcp_discovery_t *mcp_discover(request_rec *r, const mcp_dir_conf_t *conf,
                                    const mcp_doc_policy_t *policy, const char **err);
/* The key set for conf; *generation identifies this copy of it. */
const mcp_keyset_t *mcp_keys_for(request_rec *r, const mcp_dir_conf_t *conf, int force,
                                 apr_time_t *generation);

/* mcp_endpoints.c: the authorization-server facade, client registration,
 * Entra's shims and CORS */
#define MCP_ENDPOINT_PREFIX "/.well-known/mcp-auth"
int mcp_rewrites_issuer(const mcp_dir_conf_t *conf);
const char *mcp_authorization_server(request_rec *r, const mcp_dir_conf_t *conf);
void mcp_cors_headers(request_rec *r, const mcp_dir_conf_t *conf, int well_known);
apr_status_t mcp_cors_filter(ap_filter_t *f, apr_bucket_brigade *bb);
int mcp_cors_preflight(request_rec *r, const mcp_dir_conf_t *conf, int well_known,
                       const char *methods);
int mcp_endpoints_handler(request_rec *r);

/* Answers with a JSON document (status, Cache-Control, body). */
int mcp_send_json(request_rec *r, int status, const char *cache_control, const char *body);

/* mcp_status_page.c */
int mcp_status_handler(request_rec *r);
int mcp_server_status_section(request_rec *r, int flags);

#endif
