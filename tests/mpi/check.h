/* What the MPI test programs share: a failed check counted and printed, and
 * a uniform pseudo-random value that is a pure function of (stream, i, j),
 * so every rank builds the same global problem and keeps its rows. */
#ifndef WLRA_TESTS_MPI_CHECK_H
#define WLRA_TESTS_MPI_CHECK_H

#include <stdio.h>

static int failures = 0;
#define CHECK(cond, ...)                             \
    do {                                             \
        if (!(cond)) {                               \
            fprintf(stderr, "FAILED: " __VA_ARGS__); \
            fprintf(stderr, "\n");                   \
            failures++;                              \
        }                                            \
    } while (0)

/* Uniform in [-1, 1). */
static inline double uniform(unsigned stream, unsigned i, unsigned j) {
    unsigned long long z = 0x9E3779B97F4A7C15ull * (stream + 1) ^ (i * 0x100000001B3ull) ^
                           ((unsigned long long)j << 32);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

#endif
