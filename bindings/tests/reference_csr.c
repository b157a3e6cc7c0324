/* Reference factors for the bindings' sparse input (wlra_fit_csr): the
 * deterministic sparse problem below, fitted with the options of reference.c,
 * then U and V written as text ("%.17g", exact round trip) to the file named
 * by argv[1], in reference.c's format. The Python, R and Julia tests build the
 * same problem from the same formula as a sparse matrix of their own kind and
 * must get these factors to 1e-12. */
#include "wlra.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { N_ROWS = 37, N_COLS = 23, RANK = 3 };

/* With f = frac(0.618 (i n_cols + j)), 0-based i and j: (i, j) is in the
 * pattern when f < 0.45, with M_ij = sin(0.3 i + 0.7 j) + cos(0.11 i j) and
 * W_ij = 0.5 + f; every (i, 3 i mod n_cols) is in it too, as an observed zero
 * (M_ij = 0, W_ij = 2). Outside the pattern M = 0.25 and W = 0.1. */
static const double M_DEFAULT = 0.25, W_DEFAULT = 0.1;

static size_t build_problem(int64_t *row_ptr, int64_t *col_idx, double *m, double *w) {
    size_t nnz = 0;
    row_ptr[0] = 0;
    for (size_t i = 0; i < N_ROWS; i++) {
        for (size_t j = 0; j < N_COLS; j++) {
            double di = (double)i, dj = (double)j;
            double x = 0.618 * (di * N_COLS + dj);
            double f = x - floor(x);
            if (j == (3 * i) % N_COLS) {
                col_idx[nnz] = (int64_t)j;
                m[nnz] = 0.0;
                w[nnz] = 2.0;
                nnz++;
            } else if (f < 0.45) {
                col_idx[nnz] = (int64_t)j;
                m[nnz] = sin(0.3 * di + 0.7 * dj) + cos(0.11 * di * dj);
                w[nnz] = 0.5 + f;
                nnz++;
            }
        }
        row_ptr[i + 1] = (int64_t)nnz;
    }
    return nnz;
}

static int check(wlra_model *model, wlra_status status, const char *what) {
    if (status == WLRA_OK) return 1;
    fprintf(stderr, "reference_csr: %s failed: %s (%s)\n", what,
            wlra_status_message(status), wlra_last_error(model));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT_FILE\n", argv[0]);
        return 2;
    }
    static int64_t row_ptr[N_ROWS + 1], col_idx[N_ROWS * N_COLS];
    static double m[N_ROWS * N_COLS], w[N_ROWS * N_COLS];
    static double u[N_ROWS * RANK], v[N_COLS * RANK];
    build_problem(row_ptr, col_idx, m, w);

    /* The options of reference.c. */
    wlra_model *model = NULL;
    int ok = check(NULL, wlra_create(RANK, &model), "wlra_create") &&
             check(model, wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 25), "max_iterations") &&
             check(model, wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0.0), "tolerance") &&
             check(model, wlra_set_option(model, WLRA_OPTION_SEED, 7), "seed") &&
             check(model, wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM), "init") &&
             check(model, wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT), "solver") &&
             check(model, wlra_fit_csr(model, N_ROWS, N_COLS, row_ptr, col_idx, m, w,
                                       M_DEFAULT, W_DEFAULT), "wlra_fit_csr") &&
             check(model, wlra_get_factors(model, u, RANK, v, RANK, WLRA_ROW_MAJOR),
                   "wlra_get_factors");
    wlra_destroy(model);
    if (!ok) return 1;

    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    /* Header "n_rows n_cols rank", then U and V row by row. */
    fprintf(out, "%d %d %d\n", N_ROWS, N_COLS, RANK);
    for (size_t i = 0; i < N_ROWS * RANK; i++) fprintf(out, "%.17g\n", u[i]);
    for (size_t i = 0; i < N_COLS * RANK; i++) fprintf(out, "%.17g\n", v[i]);
    return fclose(out) == 0 ? 0 : 1;
}
