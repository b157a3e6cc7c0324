/* Every combination that distributes (issue 27, acceptance 1), in one run:
 * input (dense, CSR with w_default 0, CSR with w_default > 0) x method
 * (ALTERNATING, ACCELERATED, AUTO) x solver (EXACT, SHARED_PCG, SKETCH, AUTO) x
 * start (RANDOM, SVD) x offsets (none, both), 4 iterations each (short of
 * the rounding floor, where a last-bit difference of the objective could
 * stop one fit an iteration before the other: docs/mpi.md). Rank 0
 * fits the same problem with wlra_fit and compares: alternation's factors
 * and offsets bit for bit; accelerated alternation's (and AUTO's, which
 * runs it) product U V^T + offsets to 1e-9 of its scale (it keeps an
 * extrapolation by comparing objectives, which wlra_fit sums in another
 * order: docs/mpi.md). Each combination's digest of the gathered bits is
 * printed; tests/mpi/run.sh requires the same digests on 1, 2 and 4 ranks.
 * The AUTO method is compared with wlra_fit run as what the distributed
 * fit runs (ACCELERATED), since wlra_fit's AUTO may choose VarPro; the
 * AUTO solver with wlra_fit's AUTO solver (the ranks agree on each
 * half-step's choice: tests/mpi/auto_solver.c). */
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 97, M = 61, K = 3 };

static int failures = 0;

static double hash01(unsigned a, unsigned b, unsigned c) {
    unsigned long long z = 0x9E3779B97F4A7C15ull * (a + 1) ^ ((unsigned long long)b << 20) ^ c;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double value(int i, int j) {
    double s = 0.5 + 0.1 * i / N;
    for (int d = 0; d < K; d++) s += (hash01(1, i, d) - 0.5) * (hash01(2, j, d) - 0.5) * 4;
    return s + 1e-3 * hash01(3, i, j);
}
static double weight(int i, int j) { return 0.5 + hash01(4, i, j); }
static int observed(int i, int j) { return hash01(5, i, j) < 0.45; }

typedef struct {
    int input; /* 0 dense, 1 CSR w_default 0, 2 CSR w_default 0.05 */
    int method, solver, init, offsets;
} combo;

static void set_options(wlra_model *model, combo c, int as_run) {
    int method = c.method, solver = c.solver;
    if (as_run && method == WLRA_METHOD_AUTO) method = WLRA_METHOD_ACCELERATED;
    wlra_set_option(model, WLRA_OPTION_METHOD, method);
    wlra_set_option(model, WLRA_OPTION_SOLVER, solver);
    wlra_set_option(model, WLRA_OPTION_INIT, c.init);
    wlra_set_option(model, WLRA_OPTION_OFFSETS, c.offsets);
    wlra_set_option(model, WLRA_OPTION_SEED, 11);
    const char *budget = getenv("MATRIX_ITERATIONS");
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, budget ? atof(budget) : 4);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, budget ? 1e-13 : 0);
    wlra_set_option(model, WLRA_OPTION_RIDGE, c.input == 0 ? 0.0 : 0.01);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
}

/* Rows [r0, r1) as dense row-major M and W, or CSR. */
typedef struct {
    double *m, *w;
    int64_t *row_ptr, *col_idx;
    double *values, *weights;
} block;

static block build(combo c, int r0, int r1) {
    block b = {0};
    size_t rows = (size_t)(r1 - r0);
    if (c.input == 0) {
        b.m = malloc(sizeof(double) * rows * M);
        b.w = malloc(sizeof(double) * rows * M);
        for (int i = r0; i < r1; i++)
            for (int j = 0; j < M; j++) {
                b.m[(size_t)(i - r0) * M + j] = value(i, j);
                b.w[(size_t)(i - r0) * M + j] = weight(i, j);
            }
        return b;
    }
    b.row_ptr = calloc(rows + 1, sizeof(int64_t));
    b.col_idx = malloc(sizeof(int64_t) * rows * M);
    b.values = malloc(sizeof(double) * rows * M);
    b.weights = malloc(sizeof(double) * rows * M);
    int64_t p = 0;
    for (int i = r0; i < r1; i++) {
        for (int j = 0; j < M; j++)
            if (observed(i, j)) {
                b.col_idx[p] = j;
                b.values[p] = value(i, j);
                b.weights[p] = 1.0 + weight(i, j);
                p++;
            }
        b.row_ptr[i - r0 + 1] = p;
    }
    return b;
}

static void release(block *b) {
    free(b->m);
    free(b->w);
    free(b->row_ptr);
    free(b->col_idx);
    free(b->values);
    free(b->weights);
}

static wlra_status fit_block(wlra_model *model, combo c, block *b, int mpi, int r0, int r1) {
    double w_default = c.input == 2 ? 0.05 : 0.0;
    size_t rows = (size_t)(r1 - r0);
    int comm_f = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    if (c.input == 0)
        return mpi ? wlra_fit_mpi(model, comm_f, N, M, (size_t)r0, rows, b->m, M, b->w, M,
                                  WLRA_ROW_MAJOR)
                   : wlra_fit(model, N, M, b->m, M, b->w, M, WLRA_ROW_MAJOR);
    return mpi ? wlra_fit_csr_mpi(model, comm_f, N, M, (size_t)r0, rows, b->row_ptr, b->col_idx,
                                  b->values, b->weights, 0.0, w_default)
               : wlra_fit_csr(model, N, M, b->row_ptr, b->col_idx, b->values, b->weights, 0.0,
                              w_default);
}

/* U (N x K), then V (M x K), a (N), b (M): the fit's whole model. */
enum { WHOLE = N * K + M * K + N + M };

static unsigned long long digest(const double *x, size_t count) {
    unsigned long long h = 0xcbf29ce484222325ull;
    const unsigned char *bytes = (const unsigned char *)x;
    for (size_t e = 0; e < count * sizeof(double); e++) h = (h ^ bytes[e]) * 0x100000001b3ull;
    return h;
}

static void run_combo(combo c, int rank, int size, int index) {
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    int n_local = r1 - r0;
    block b = build(c, r0, r1);
    wlra_model *model = NULL;
    wlra_create(K, &model);
    set_options(model, c, 0);
    wlra_status status = fit_block(model, c, &b, 1, r0, r1);
    release(&b);
    double iterations = 0, objective = 0;
    wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations);
    wlra_get_info(model, WLRA_INFO_OBJECTIVE, &objective);
    double *local = calloc((size_t)n_local * (K + 1), sizeof(double)), whole[WHOLE] = {0};
    double *u = whole, *v = whole + N * K, *a = v + M * K, *bo = a + N;
    if (status == WLRA_OK) {
        wlra_get_factors(model, local, K, v, K, WLRA_ROW_MAJOR);
        wlra_get_offsets(model, local + (size_t)n_local * K, bo);
    } else {
        fprintf(stderr, "FAILED combo %d: rank %d: %s\n", index, rank, wlra_last_error(model));
        failures++;
    }
    int counts[64], displs[64];
    for (int r = 0; r < size; r++) {
        int lo = (int)((long)r * N / size), hi = (int)((long)(r + 1) * N / size);
        counts[r] = (hi - lo) * K;
        displs[r] = lo * K;
    }
    MPI_Gatherv(local, n_local * K, MPI_DOUBLE, u, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    for (int r = 0; r < size; r++) {
        counts[r] /= K;
        displs[r] /= K;
    }
    MPI_Gatherv(local + (size_t)n_local * K, n_local, MPI_DOUBLE, a, counts, displs, MPI_DOUBLE, 0,
                MPI_COMM_WORLD);
    free(local);
    wlra_destroy(model);
    if (rank != 0) return;

    wlra_model *single = NULL;
    wlra_create(K, &single);
    set_options(single, c, 1);
    block g = build(c, 0, N);
    double s_whole[WHOLE] = {0};
    double *su = s_whole, *sv = su + N * K, *sa = sv + M * K, *sb = sa + N;
    if (fit_block(single, c, &g, 0, 0, N) != WLRA_OK) {
        fprintf(stderr, "FAILED combo %d: wlra_fit: %s\n", index, wlra_last_error(single));
        failures++;
    }
    release(&g);
    double s_iterations = 0, s_objective = 0;
    wlra_get_info(single, WLRA_INFO_ITERATIONS, &s_iterations);
    wlra_get_info(single, WLRA_INFO_OBJECTIVE, &s_objective);
    wlra_get_factors(single, su, K, sv, K, WLRA_ROW_MAJOR);
    wlra_get_offsets(single, sa, sb);
    wlra_destroy(single);
    int bitwise = memcmp(whole, s_whole, sizeof whole) == 0;
    double gap = 0, scale = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            double x = a[i] + bo[j], y = sa[i] + sb[j];
            for (int d = 0; d < K; d++) {
                x += u[i * K + d] * v[j * K + d];
                y += su[i * K + d] * sv[j * K + d];
            }
            gap = fmax(gap, fabs(x - y));
            scale = fmax(scale, fabs(y));
        }
    int accelerated = c.method != WLRA_METHOD_ALTERNATING;
    int ok = status == WLRA_OK && (accelerated ? gap <= 1e-9 * scale : bitwise);
    printf("combo %2d: input %d method %d solver %d init %d offsets %d: %s (largest difference "
           "%.2g of %.3g; %.0f / %.0f iterations, objective %.17g / %.17g)\n",
           index, c.input, c.method, c.solver, c.init, c.offsets,
           bitwise ? "wlra_fit's bits" : "wlra_fit's product to rounding", gap, scale, iterations,
           s_iterations, objective, s_objective);
    printf("DIGEST %d %016llx\n", index, digest(whole, WHOLE));
    if (!ok) {
        fprintf(stderr, "FAILED combo %d: %s\n", index,
                accelerated ? "the product differs from wlra_fit's" : "not wlra_fit's bits");
        failures++;
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int methods[] = {WLRA_METHOD_ALTERNATING, WLRA_METHOD_ACCELERATED, WLRA_METHOD_AUTO};
    const int solvers[] = {WLRA_SOLVER_EXACT, WLRA_SOLVER_SHARED_PCG, WLRA_SOLVER_SKETCH,
                           WLRA_SOLVER_AUTO};
    const int inits[] = {WLRA_INIT_RANDOM, WLRA_INIT_SVD};
    const int offsets[] = {WLRA_OFFSETS_NONE, WLRA_OFFSETS_BOTH};
    int index = 0;
    for (int input = 0; input < 3; input++)
        for (int mi = 0; mi < 3; mi++)
            for (int si = 0; si < 4; si++)
                for (int ii = 0; ii < 2; ii++)
                    for (int oi = 0; oi < 2; oi++) {
                        combo c = {input, methods[mi], solvers[si], inits[ii], offsets[oi]};
                        run_combo(c, rank, size, index++);
                    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("%d combinations on %d ranks: %s\n", index, size, total ? "FAILED" : "passed");
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
