/* Soak: 10,000 create / fit / destroy cycles, dense and CSR, successes and
 * every kind of refusal, with the resident set size read from
 * /proc/self/status at the start, after a 2,000-cycle warm-up and at the
 * end. Growth after the warm-up must stay under a bound no real leak fits
 * in (see LEAK_BOUND). Plain C99; prints "N passed, N failed".
 *
 * Usage: soak [cycles [--no-rss-bound]]
 *   cycles: default 10000; the warm-up is a fifth of them.
 *   --no-rss-bound: report RSS but do not bound it (under ASan or valgrind,
 *   whose own bookkeeping grows RSS; they check leaks themselves). */
#include "check.h"
#include "planted.h"
#include "wlra.h"

#include <stdio.h>
#include <string.h>


enum { N = 20, M = 15, K = 3, NNZ_PER_ROW = 5 };

/* Growth allowed between the warm-up and the end, in KiB. One model's
 * factors alone are (N + M) * K * 8 = 840 bytes, so leaking one model, one
 * fit's scratch or one thread per cycle over the 8,000 cycles after the
 * warm-up would grow RSS by at least 6.5 MiB; allocator noise is far below
 * 2 MiB. */
static const long LEAK_BOUND_KIB = 2048;

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static int32_t cancel_after_one(void *user_data, size_t iteration, double objective) {
    (void)user_data;
    (void)objective;
    return iteration >= 1;
}

typedef struct {
    double m[N * M], w[N * M], bad[N * M];
    int64_t row_ptr[N + 1], col_idx[N * NNZ_PER_ROW], bad_col_idx[N * NNZ_PER_ROW];
    double values[N * NNZ_PER_ROW];
} problems_t;

static void build(problems_t *p) {
    double *truth = planted_truth(N, M, K, 7);
    rng_t r = { 99 };
    memcpy(p->m, truth, sizeof p->m);
    free(truth);
    for (size_t i = 0; i < N * M; i++) p->w[i] = 0.1 + rng_uniform(&r);
    memcpy(p->bad, p->m, sizeof p->bad); /* main puts a NaN in it */
    p->row_ptr[0] = 0;
    for (size_t i = 0; i < N; i++) {
        for (size_t d = 0; d < NNZ_PER_ROW; d++) {
            size_t q = i * NNZ_PER_ROW + d;
            p->col_idx[q] = (int64_t)((i + 3 * d) % M);
            p->values[q] = p->m[i * M + (size_t)p->col_idx[q]];
        }
        /* columns must increase within a row: sort the five */
        for (size_t a = 0; a < NNZ_PER_ROW; a++)
            for (size_t b = a + 1; b < NNZ_PER_ROW; b++) {
                int64_t *x = &p->col_idx[i * NNZ_PER_ROW + a], *y = &p->col_idx[i * NNZ_PER_ROW + b];
                if (*y < *x) { int64_t t = *x; *x = *y; *y = t; }
            }
        p->row_ptr[i + 1] = (int64_t)((i + 1) * NNZ_PER_ROW);
    }
    memcpy(p->bad_col_idx, p->col_idx, sizeof p->bad_col_idx);
    p->bad_col_idx[7] = M; /* out of range */
}

/* One cycle; which path it takes rotates with the cycle number. */
static void cycle(const problems_t *p, size_t c) {
    wlra_model *model = NULL;
    wlra_status s = wlra_create(K, &model);
    CHECK(s == WLRA_OK, "create: %d", (int)s);
    if (s != WLRA_OK) return;
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 3);
    wlra_set_option(model, WLRA_OPTION_THREADS, (double)(1 + c % 2));
    double u[N * K], v[M * K], x;
    switch (c % 8) {
    case 0: /* dense, weighted, row-major */
        s = wlra_fit(model, N, M, p->m, M, p->w, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_OK, "cycle %zu dense: %d", c, (int)s);
        break;
    case 1: /* dense, unit weights, as column-major (the transpose) */
        wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_SKETCH);
        s = wlra_fit(model, M, N, p->m, M, NULL, 0, WLRA_COL_MAJOR);
        CHECK(s == WLRA_OK, "cycle %zu dense col-major: %d", c, (int)s);
        break;
    case 2: /* CSR, weighted inside, light weight outside */
        s = wlra_fit_csr(model, N, M, p->row_ptr, p->col_idx, p->values, NULL, 0.0, 0.01);
        CHECK(s == WLRA_OK, "cycle %zu csr: %d", c, (int)s);
        break;
    case 3: /* refused: NaN in M */
        s = wlra_fit(model, N, M, p->bad, M, p->w, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_ERROR_NON_FINITE_INPUT, "cycle %zu NaN: %d", c, (int)s);
        break;
    case 4: /* refused: malformed CSR */
        s = wlra_fit_csr(model, N, M, p->row_ptr, p->bad_col_idx, p->values, NULL, 0.0, 0.0);
        CHECK(s == WLRA_ERROR_INVALID_ARGUMENT, "cycle %zu bad csr: %d", c, (int)s);
        break;
    case 5: /* refused: ld too small, then factors before any fit */
        s = wlra_fit(model, N, M, p->m, M - 1, NULL, 0, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_ERROR_INVALID_ARGUMENT, "cycle %zu ld: %d", c, (int)s);
        s = wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_ERROR_NOT_FITTED, "cycle %zu not fitted: %d", c, (int)s);
        break;
    case 6: /* cancelled by the progress callback */
        wlra_set_progress(model, cancel_after_one, NULL);
        s = wlra_fit(model, N, M, p->m, M, p->w, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_ERROR_CANCELLED, "cycle %zu cancel: %d", c, (int)s);
        break;
    default: /* warm start from given factors, fit twice */
        for (size_t i = 0; i < N * K; i++) u[i] = 0.1 * (double)(i % 7);
        for (size_t i = 0; i < M * K; i++) v[i] = 0.1 * (double)(i % 5);
        wlra_set_factors(model, N, M, u, K, v, K, WLRA_ROW_MAJOR);
        wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_GIVEN);
        s = wlra_fit(model, N, M, p->m, M, p->w, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_OK, "cycle %zu given: %d", c, (int)s);
        s = wlra_fit(model, N, M, p->m, M, p->w, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_OK, "cycle %zu refit: %d", c, (int)s);
        break;
    }
    if (s == WLRA_OK || s == WLRA_ERROR_CANCELLED) {
        /* N >= M: room for either factor of either orientation */
        double uu[N * K], vv[N * K];
        s = wlra_get_factors(model, uu, K, vv, K, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_OK, "cycle %zu get_factors: %d", c, (int)s);
        CHECK(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &x) == WLRA_OK && isfinite(x),
              "cycle %zu objective %g", c, x);
    }
    wlra_destroy(model);
}

int main(int argc, char **argv) {
    size_t cycles = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    (void)relative_error; /* planted.h's, not needed here */
    int bound_rss = !(argc > 2 && strcmp(argv[2], "--no-rss-bound") == 0);
    size_t warmup = cycles / 5;
    problems_t *p = malloc(sizeof *p);
    if (!p) return 1;
    build(p);
    p->bad[17] = NAN;

    long at_start = rss_kib();
    for (size_t c = 0; c < warmup; c++) cycle(p, c);
    long after_warmup = rss_kib();
    for (size_t c = warmup; c < cycles; c++) cycle(p, c);
    long at_end = rss_kib();
    free(p);

    printf("soak: %zu create/fit/destroy cycles (dense, CSR, refusals, cancel, warm start)\n",
           cycles);
    printf("soak: VmRSS %ld KiB at start, %ld KiB after %zu cycles, %ld KiB after %zu\n",
           at_start, after_warmup, warmup, at_end, cycles);
    long growth = at_end - after_warmup;
    double per_cycle = (double)growth * 1024.0 / (double)(cycles - warmup);
    printf("soak: growth after warm-up %ld KiB (%.1f bytes per cycle), bound %ld KiB\n",
           growth, per_cycle, LEAK_BOUND_KIB);
    CHECK(at_start > 0 && at_end > 0, "could not read VmRSS");
    if (bound_rss)
        CHECK(growth < LEAK_BOUND_KIB, "RSS grew %ld KiB after the warm-up", growth);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
