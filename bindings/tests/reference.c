/* Reference factors for the binding tests: the deterministic problem of
 * bindings/tests/README.md, fitted through the C ABI with fixed options, then
 * U and V written as text ("%.17g", exact round trip) to the file named by
 * argv[1]. The Python, R and Julia tests build the same problem from the same
 * formula and must get these factors to 1e-12. */
#include "wlra.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N_ROWS = 37, N_COLS = 23, RANK = 3 };

/* M_ij = sin(0.3 i + 0.7 j) + cos(0.11 i j),
 * W_ij = 0.1 + 0.9 frac(0.618 (i n_cols + j)), 0-based i and j. */
static void build_problem(double *m, double *w) {
    for (size_t i = 0; i < N_ROWS; i++)
        for (size_t j = 0; j < N_COLS; j++) {
            double di = (double)i, dj = (double)j;
            double x = 0.618 * (di * N_COLS + dj);
            m[i * N_COLS + j] = sin(0.3 * di + 0.7 * dj) + cos(0.11 * di * dj);
            w[i * N_COLS + j] = 0.1 + 0.9 * (x - floor(x));
        }
}

static int check(wlra_model *model, wlra_status status, const char *what) {
    if (status == WLRA_OK) return 1;
    fprintf(stderr, "reference: %s failed: %s (%s)\n", what,
            wlra_status_message(status), wlra_last_error(model));
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT_FILE\n", argv[0]);
        return 2;
    }
    static double m[N_ROWS * N_COLS], w[N_ROWS * N_COLS];
    static double u[N_ROWS * RANK], v[N_COLS * RANK];
    build_problem(m, w);

    /* The options every binding test uses for its reference comparison. */
    wlra_model *model = NULL;
    int ok = check(NULL, wlra_create(RANK, &model), "wlra_create") &&
             check(model, wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 25), "max_iterations") &&
             check(model, wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0.0), "tolerance") &&
             check(model, wlra_set_option(model, WLRA_OPTION_SEED, 7), "seed") &&
             check(model, wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM), "init") &&
             check(model, wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT), "solver") &&
             check(model, wlra_fit(model, N_ROWS, N_COLS, m, N_COLS, w, N_COLS, WLRA_ROW_MAJOR),
                   "wlra_fit") &&
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
