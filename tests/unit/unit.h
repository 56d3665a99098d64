/* A minimal TAP producer for the C unit tests. */
#ifndef MCP_UNIT_H
#define MCP_UNIT_H

#include <stdio.h>

/* defined once, in unit_tests.c: every unit-test file counts into them */
extern int unit_run, unit_failed;

#define CHECK(cond, name)                                                        \
    do {                                                                         \
        unit_run++;                                                              \
        if (cond)                                                                \
            printf("ok %d - %s\n", unit_run, name);                              \
        else {                                                                   \
            unit_failed++;                                                       \
            printf("not ok %d - %s (%s:%d: %s)\n", unit_run, name, __FILE__,     \
                   __LINE__, #cond);                                             \
        }                                                                        \
    } while (0)

#define UNIT_DONE()                                                              \
    (printf("1..%d\n# %d passed, %d failed\n", unit_run, unit_run - unit_failed, \
            unit_failed),                                                        \
     unit_failed ? 1 : 0)

#endif
