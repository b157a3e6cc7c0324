/* Seeded planted problems for the C tests and the demo: M = U* V*^T (+ noise),
 * built from a small xorshift generator so every run sees the same numbers. */
#ifndef WLRA_TEST_PLANTED_H
#define WLRA_TEST_PLANTED_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct { uint64_t state; } rng_t;

static double rng_uniform(rng_t *r) {
    r->state ^= r->state << 13;
    r->state ^= r->state >> 7;
    r->state ^= r->state << 17;
    return ((double)(r->state >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(rng_t *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* truth (row-major, n x m, ld = m) = U V^T with Gaussian U (n x k), V (m x k). */
static double *planted_truth(size_t n, size_t m, size_t k, uint64_t seed) {
    rng_t r = { seed * 2654435761u + 88172645463325252ull };
    double *u = malloc(n * k * sizeof *u), *v = malloc(m * k * sizeof *v);
    double *t = malloc(n * m * sizeof *t);
    if (!u || !v || !t) { free(u); free(v); free(t); return NULL; }
    for (size_t i = 0; i < n * k; i++) u[i] = rng_normal(&r);
    for (size_t i = 0; i < m * k; i++) v[i] = rng_normal(&r);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            double s = 0.0;
            for (size_t d = 0; d < k; d++) s += u[i * k + d] * v[j * k + d];
            t[i * m + j] = s;
        }
    free(u); free(v);
    return t;
}

/* ||U V^T - truth||_F / ||truth||_F, U and V row-major with ld = k. */
static double relative_error(const double *u, const double *v, const double *truth,
                             size_t n, size_t m, size_t k) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++) {
            double s = 0.0;
            for (size_t d = 0; d < k; d++) s += u[i * k + d] * v[j * k + d];
            double e = s - truth[i * m + j];
            num += e * e;
            den += truth[i * m + j] * truth[i * m + j];
        }
    return sqrt(num / den);
}

#endif
