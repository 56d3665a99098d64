/* The module's configuration: per-directory records and their merge, the
 * directive table, and accessors that fill in the defaults. */
#ifndef MCP_CONFIG_H
#define MCP_CONFIG_H

#include <httpd.h>
#include <http_config.h>

#include <openssl/evp.h>

#include "mcp_client_auth.h"
#include "mcp_docstore.h"
#include "mcp_facade.h"

#define MCP_AUTH_TYPE "MCP"
#define MCP_DEFAULT_CLOCK_SKEW 60

typedef enum { MODE_UNSET = -1, MODE_STRICT, MODE_OPTIONAL, MODE_PERMISSIVE } mcp_mode_e;

#define PROVIDER_UNSET -1

enum { MCP_FORWARDED_X = 0, MCP_FORWARDED_RFC7239 = 1 };

typedef struct claim_header {
    const char *claim;
    const char *header;
} claim_header_t;

typedef struct mcp_dir_conf {
    const char *location;          /* the <Location> path this config came from */
    int metrics_slot;              /* its slot in the metrics registry; -1 unset (MCP_METRICS_OTHER) */
    int auth_type_mcp;             /* -1 unset: recorded from AuthType for startup checks */
    int in_url_space;              /* -1 unset; 1 when that AuthType is in a <Location> */
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
    const char *client_id;              /* MCPAuthClientID: the IdP client the relay uses for everyone */
    const char *client_secret;          /* MCPAuthClientSecret (the file's content), or NULL */
    int client_metadata_documents;      /* MCPAuthClientMetadataDocuments; -1 unset (On) */
    int client_metadata_private;        /* MCPAuthClientMetadataAllowPrivate; -1 unset (Off) */
    int consent_lifetime;               /* MCPAuthConsentLifetime seconds; -1 unset */
    int trust_forwarded;                /* -1 unset, 0 Off, 1 On or by address */
    apr_array_header_t *trusted_proxies; /* of apr_ipsubnet_t *; NULL: any peer (On) */
    int forwarded_header;               /* MCP_FORWARDED_*; -1 unset (X-Forwarded-*) */
    apr_array_header_t *cors_origins;   /* NULL unset; "*" allowed */
    apr_array_header_t *mcp_rules;      /* MCPAuth{Tool,Prompt,Resource}Rule, of mcp_rule_t *; NULL unset */
    int default_deny;                   /* MCPAuthDefault: -1 unset (allow) */
    struct mcp_rule *default_rule;      /* MCPAuthDefault deny as a rule, for its refusal counter */
    long max_request_body;              /* MCPAuthMaxRequestBody bytes; -1 unset */
    int read_requests;                  /* MCPAuthReadRequests; -1 unset (On) */
    int session_binding;                /* MCPAuthSessionBinding; -1 unset (On) */
    int dpop;                           /* MCPAuthDPoP: MCP_DPOP_*; -1 unset (allowed) */
    int dpop_nonce;                     /* MCPAuthDPoPNonce; -1 unset (Off) */
    int dpop_proof_lifetime;            /* MCPAuthDPoPProofLifetime seconds; -1 unset */
    const char *introspection;          /* MCPAuthIntrospection: a URL, MCP_INTROSPECTION_DISCOVERY or NULL */
    const mcp_idp_client_t *introspection_client; /* MCPAuthIntrospectionClient, or NULL */
    int token_format;                   /* MCPAuthTokenFormat: MCP_TOKEN_FORMAT_*; -1 unset */
    int introspection_max, introspection_negative; /* MCPAuthIntrospectionCache seconds; -1 unset */
    const struct mcp_exchange_conf *exchange;      /* MCPAuthTokenExchange, or NULL unset */
    const mcp_idp_client_t *exchange_client;       /* MCPAuthTokenExchangeClient, or NULL */
} mcp_dir_conf_t;

#define MCP_INTROSPECTION_DISCOVERY "discovery"
enum { MCP_TOKEN_FORMAT_JWT = 0, MCP_TOKEN_FORMAT_OPAQUE = 1, MCP_TOKEN_FORMAT_AUTO = 2 };
#define MCP_DEFAULT_INTROSPECTION_MAX 60
#define MCP_DEFAULT_INTROSPECTION_NEGATIVE 5

/* MCPAuthDPoP: how tokens bound to a key (RFC 9449) are taken. */
enum { MCP_DPOP_OFF = 0, MCP_DPOP_ALLOWED = 1, MCP_DPOP_REQUIRED = 2 };
#define MCP_DEFAULT_DPOP_PROOF_LIFETIME 60

/* A location protected by AuthType MCP, found at startup, for the handlers
 * that answer before any per-directory lookup (see mcp_locations.h). */
typedef struct protected_location {
    const char *path;
    const mcp_dir_conf_t *conf;
    mcp_dir_conf_t *section;     /* the section's own record, before any merge */
    ap_conf_vector_t *per_dir;   /* every module's merged config for the location */
} protected_location_t;

typedef struct mcp_server_conf {
    apr_array_header_t *protected;  /* of protected_location_t */
    long token_cache_bytes;         /* MCPAuthTokenCacheSize (main server only); -1 unset */
} mcp_server_conf_t;

#define MCP_DEFAULT_TOKEN_CACHE_BYTES (8 * 1024 * 1024)

/* For the module record. */
extern const command_rec mcp_config_directives[];
void *mcp_config_create_dir(apr_pool_t *p, char *dir);
void *mcp_config_merge_dir(apr_pool_t *p, void *basev, void *addv);
void *mcp_config_create_server(apr_pool_t *p, server_rec *s);

mcp_dir_conf_t *mcp_conf_of(request_rec *r);
mcp_server_conf_t *mcp_server_conf_of(server_rec *s);

/* The fetch and freshness policy of a location, unset values defaulted. */
void mcp_doc_policy_of(const mcp_dir_conf_t *conf, mcp_doc_policy_t *policy);
int mcp_clock_skew_of(const mcp_dir_conf_t *conf);
/* MCPAuthTokenCacheSize, for the main server s. */
apr_size_t mcp_token_cache_budget(server_rec *s);
int mcp_mode_of(const mcp_dir_conf_t *conf);
int mcp_bearer_methods_of(const mcp_dir_conf_t *conf);
mcp_provider_t mcp_provider_of(const mcp_dir_conf_t *conf);
const char *mcp_provider_name(mcp_provider_t provider);
/* MCPAuthProvider's words, by mcp_provider_t, NULL-terminated. */
extern const char *const mcp_provider_names[];

/* Whether Client ID Metadata Documents are accepted (default On). */
int mcp_cimd_enabled(const mcp_dir_conf_t *conf);
#define MCP_DEFAULT_CONSENT_LIFETIME (30 * 24 * 3600)
int mcp_consent_lifetime_of(const mcp_dir_conf_t *conf);

#define MCP_DEFAULT_MAX_REQUEST_BODY (1024 * 1024)
apr_size_t mcp_max_request_body_of(const mcp_dir_conf_t *conf);

/* Whether POSTed MCP requests are read (MCPAuthReadRequests, and always
 * where rules need them), and legacy sessions bound to their user. */
int mcp_reads_requests(const mcp_dir_conf_t *conf);
int mcp_binds_sessions(const mcp_dir_conf_t *conf);

int mcp_dpop_of(const mcp_dir_conf_t *conf);
/* MCPAuthTokenFormat, defaulted: auto where MCPAuthIntrospection is set. */
int mcp_token_format_of(const mcp_dir_conf_t *conf);
int mcp_introspection_max_of(const mcp_dir_conf_t *conf);
int mcp_introspection_negative_of(const mcp_dir_conf_t *conf);
int mcp_dpop_nonce_of(const mcp_dir_conf_t *conf);
int mcp_dpop_proof_lifetime_of(const mcp_dir_conf_t *conf);

/* Whether s is an RFC 9110 token (a header field name, say). */
int mcp_is_header_token(const char *s);

/* The <Location> path without trailing slashes ("" for "/" or none). */
const char *mcp_location_path(apr_pool_t *p, const mcp_dir_conf_t *conf);

#endif
