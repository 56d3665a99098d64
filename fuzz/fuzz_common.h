/* Shared APR setup for the libFuzzer targets. */
#ifndef MCP_FUZZ_COMMON_H
#define MCP_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_pools.h>

#include "mcp_jwks.h"

static apr_pool_t *fuzz_root __attribute__((unused));
/* Debian's libapr1 takes pool memory from mmap(), which LeakSanitizer does
 * not scan: anything referenced only from a live pool would look leaked. The
 * root allocator and the long-lived keys are therefore also held here. */
static apr_allocator_t *fuzz_allocator __attribute__((unused));

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

/* A root pool whose allocator gives every freed block back to the system
 * instead of keeping a free list, so stale pool memory is unmapped. */
static inline void fuzz_apr_init(void)
{
    apr_allocator_t *alloc;

    if (apr_initialize() != APR_SUCCESS || apr_allocator_create(&alloc) != APR_SUCCESS)
        abort();
    fuzz_allocator = alloc;
    apr_allocator_max_free_set(alloc, 1);
    if (apr_pool_create_ex(&fuzz_root, NULL, NULL, alloc) != APR_SUCCESS)
        abort();
    apr_allocator_owner_set(alloc, fuzz_root);
}

/* LLVMFuzzerInitialize for a target that needs nothing but APR. */
#define FUZZ_INIT_APR_ONLY                                                            \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                 \
    {                                                                                 \
        (void)argc;                                                                   \
        (void)argv;                                                                   \
        fuzz_apr_init();                                                              \
        return 0;                                                                     \
    }

static inline apr_pool_t *fuzz_subpool(void)
{
    apr_pool_t *p;

    if (apr_pool_create(&p, fuzz_root) != APR_SUCCESS)
        abort();
    return p;
}

/* The key set a target verifies against, parsed once at start-up into pool.
 * A set that does not parse to `expected` keys stops the target. */
static inline mcp_keyset_t *fuzz_keyset(apr_pool_t *pool, const char *doc, int expected)
{
    const char *err = NULL;
    mcp_keyset_t *set = mcp_jwks_parse(pool, doc, strlen(doc), &err);

    if (set == NULL)
        fprintf(stderr, "key set rejected: %s\n", err ? err : "?");
    FUZZ_CHECK(set != NULL && set->keys->nelts == expected);
    return set;
}

#endif
