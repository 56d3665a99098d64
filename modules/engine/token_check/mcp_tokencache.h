/* A per-process memory of signature checks, keyed by a SHA-256 of the token.
 * A hit skips decoding and the signature verification, never the claim
 * checks: exp, nbf, iss and aud are checked again on every request, so an
 * entry can never outlive its token. Entries belong to one key-set copy and
 * are void as soon as the keys change. */
#ifndef MCP_TOKENCACHE_H
#define MCP_TOKENCACHE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "mcp_jwt.h"

#define MCP_TOKENCACHE_KEY_LEN 32

typedef struct mcp_tokencache mcp_tokencache_t;

typedef enum { MCP_TC_MISS, MCP_TC_VALID, MCP_TC_BAD_SIGNATURE } mcp_tc_result_t;

/* budget: bytes of claims the cache may hold (estimated: a parsed payload
 * counts several times its size); past it, a new entry only replaces one
 * at least as large. Large payloads are held as text, not parsed. */
apr_status_t mcp_tokencache_create(mcp_tokencache_t **tc, apr_pool_t *pool, unsigned slots,
                                   apr_size_t budget);

/* Bytes held now, as counted against the budget. */
apr_size_t mcp_tokencache_bytes(mcp_tokencache_t *tc);

/* The key of a token checked against one key set (scope: that key set's
 * parsed copy in this process): another key set never finds it. */
void mcp_tokencache_key(const char *token, apr_size_t len, const void *scope,
                        unsigned char key[MCP_TOKENCACHE_KEY_LEN]);

/* On VALID, *jwt is a verified token (valid until rpool is cleared). */
mcp_tc_result_t mcp_tokencache_lookup(mcp_tokencache_t *tc, const unsigned char *key,
                                      apr_time_t keys_generation, apr_pool_t *rpool, mcp_jwt_t **jwt);

/* Remembers a verified token until the earlier of its exp and max_age. A
 * token that would push out a live entry is remembered only on its second
 * store (the first leaves a fingerprint): tokens used once do not churn the
 * cache. The same holds for bad signatures. */
void mcp_tokencache_store_valid(mcp_tokencache_t *tc, const unsigned char *key,
                                apr_time_t keys_generation, const mcp_jwt_t *jwt,
                                apr_interval_time_t max_age);

/* Remembers that the signature did not verify with this key-set copy. */
void mcp_tokencache_store_bad(mcp_tokencache_t *tc, const unsigned char *key,
                              apr_time_t keys_generation, apr_interval_time_t max_age);

#endif
