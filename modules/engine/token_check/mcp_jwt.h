/* JWT access token validation (RFC 7519, RFC 8725, RFC 9068) on top of cjose. */
#ifndef MCP_JWT_H
#define MCP_JWT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

#include "mcp_jwks.h"

#define MCP_JWT_DEFAULT_MAX_LEN (16 * 1024)
/* Claims nest a few levels (realm_access.roles); deeper is hostile. */
#define MCP_MAX_JSON_DEPTH 16

typedef enum {
    MCP_JWT_VALID,
    MCP_JWT_INVALID,      /* any failed check: 401 invalid_token */
    MCP_JWT_KEY_UNKNOWN,  /* well formed, but its kid is not in the key set */
    MCP_JWT_MALFORMED     /* signed, but its payload is not a JSON object of sane depth */
} mcp_jwt_status_t;

typedef struct mcp_jwt_policy {
    const char *issuer;                    /* byte-exact "iss" */
    const char *alt_issuer;                /* a second accepted form (Entra v1/v2), or NULL */
    const apr_array_header_t *audiences;   /* of const char *; one must be in "aud" */
    int leeway;                            /* seconds, for exp / nbf / iat */
} mcp_jwt_policy_t;

typedef struct mcp_jwt mcp_jwt_t;

/* Structural checks that need no key: size, exactly three segments, a
 * strict base64url header of JSON without duplicates, alg in the allow-list, no crit,
 * no nesting, acceptable typ (types: accepted values, compared without
 * case; NULL accepts at+jwt, application/at+jwt, JWT or none). The payload is left
 * alone until mcp_jwt_verify has checked the signature over it: no client
 * makes the gateway parse a claim set nobody signed. A token refused after its header was read
 * is still returned in *out, only for mcp_jwt_alg and mcp_jwt_kid (logging). */
mcp_jwt_status_t mcp_jwt_parse(apr_pool_t *pool, const char *token, apr_size_t len,
                               apr_size_t max_len, const apr_array_header_t *types,
                               mcp_jwt_t **jwt, const char **err);

/* Signature check against keys, then the payload read (MALFORMED when it is
 * no JSON object, or nests deeper than MCP_MAX_JSON_DEPTH). KEY_UNKNOWN only
 * when the token names a kid that no key in the set carries; a token without
 * kid is tried against the fitting keys and never asks for a refresh. */
mcp_jwt_status_t mcp_jwt_verify(mcp_jwt_t *jwt, const mcp_keyset_t *keys, const char **err);

/* Claim checks (RFC 7519 §4.1, RFC 9068 §4) at time now (seconds since epoch). */
mcp_jwt_status_t mcp_jwt_check_claims(mcp_jwt_t *jwt, const mcp_jwt_policy_t *policy,
                                      double now, const char **err);

/* RFC 8725 §3.11: an ID, refresh or logout token signed with the same key
 * is no access token, and some IdPs say which kind a token is only in its
 * claims: Keycloak in "typ" ("Bearer" for access, "ID", "Refresh",
 * "Logout"), Cognito in "token_use" ("access", "id"). Whether claims leave
 * both out or name an access token. Part of mcp_jwt_check_claims, and of
 * introspection answers. */
int mcp_claims_name_access_token(const json_t *claims);

/* Whether v is absent (NULL) or a string among names, without case. */
int mcp_json_absent_or_among(const json_t *v, const char *const *names);

/* Whether mcp_jwt_verify ran a key's check of the signature: a failure
 * found before one (a signature that is not base64url, or of the wrong
 * length) costs nothing to find again. */
int mcp_jwt_signature_checked(const mcp_jwt_t *jwt);

const char *mcp_jwt_kid(const mcp_jwt_t *jwt);

/* Whether v, at depth (1 for a document), nests at most MCP_MAX_JSON_DEPTH
 * deep: claims from a token or an introspection answer. */
int mcp_json_depth_ok(json_t *v, int depth);

/* A parameter of a parsed token's header (DPoP proofs carry their key in
 * "jwk"), or NULL. Never a source of keys for access tokens. */
json_t *mcp_jwt_header_param(const mcp_jwt_t *jwt, const char *name);
const char *mcp_jwt_typ(const mcp_jwt_t *jwt);

/* Whether the token's typ is one of types (NULL: at+jwt, application/at+jwt,
 * JWT or none). Checked by mcp_jwt_parse; a token from the token cache is
 * checked again with it, since another location may narrow the types. */
int mcp_jwt_type_accepted(const mcp_jwt_t *jwt, const apr_array_header_t *types);

/* Bytes of the decoded payload (0 for a token from the token cache). */
apr_size_t mcp_jwt_payload_size(const mcp_jwt_t *jwt);
const char *mcp_jwt_alg(const mcp_jwt_t *jwt);

/* A token whose signature was verified earlier (the token cache): takes
 * over one reference to payload. Nothing else may call this. */
mcp_jwt_t *mcp_jwt_verified(apr_pool_t *pool, json_t *payload, const char *alg, const char *kid,
                            const char *typ);

/* The payload, or NULL when the signature has not been verified. */
json_t *mcp_jwt_claims(const mcp_jwt_t *jwt);

/* A verified claim by name; dotted names reach into nested objects when no
 * top-level claim has the whole name. NULL when absent or unverified. */
json_t *mcp_jwt_claim(apr_pool_t *pool, const mcp_jwt_t *jwt, const char *name);

/* Whether a verified claim equals value, or is an array with an element
 * equal to it (strings exactly, booleans and integers by their JSON text). */
int mcp_jwt_claim_holds(apr_pool_t *pool, const mcp_jwt_t *jwt, const char *name, const char *value);

/* A verified claim rendered as a header-safe string: strings as they are,
 * numbers and booleans in JSON form, arrays of strings joined with ",".
 * Dotted names reach into nested objects. NULL when absent or unsuitable. */
const char *mcp_jwt_claim_string(apr_pool_t *pool, const mcp_jwt_t *jwt, const char *name);

#endif
