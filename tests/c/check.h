/* The C test programs' one check: count passes and failures, print each
 * failure with its place and values. Each program prints its totals and
 * exits non-zero on any failure. */
#ifndef WLRA_TEST_CHECK_H
#define WLRA_TEST_CHECK_H

#include "wlra.h"

#include <stdio.h>

static int passed = 0, failed = 0;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            passed++;                                                      \
        } else {                                                           \
            failed++;                                                      \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

#define EXPECT_STATUS(call, expected)                                      \
    do {                                                                   \
        wlra_status got_ = (call);                                         \
        CHECK(got_ == (expected), "got %d (%s), expected %d", (int)got_,  \
              wlra_last_error(NULL), (int)(expected));                     \
    } while (0)

#endif
