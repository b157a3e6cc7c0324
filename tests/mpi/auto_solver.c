/* AUTO's choice of solver in a distributed fit (issue 27, acceptance 1),
 * on every rank against wlra_fit with the same options:
 *
 *   auto_solver dense|csr   a planted 160 x 120 problem at rank 48, where
 *                           AUTO's cost model prefers SHARED_PCG to the
 *                           exact solver (at this rank the exact Grams and
 *                           Choleskys cost more than a few CG passes), fit
 *                           by ALTERNATING and ACCELERATED for 5 iterations
 *                           with the default solver. The ranks agree on each
 *                           half-step's choice from the whole problem's
 *                           shape and the inner iterations summed over the
 *                           ranks, so the fit must take wlra_fit's choices:
 *                           WLRA_INFO_SOLVER_USED SHARED_PCG, its inner
 *                           iterations, and alternation's factors bit for
 *                           bit (accelerated alternation's product to 1e-9:
 *                           it compares objectives summed in another order).
 *                           Each rank's solver alone would choose on its
 *                           own rows and inner iterations. A rank with rows
 *                           reads float32 rows in the half-steps wlra_fit
 *                           does (WLRA_INFO_NARROW_HALF_STEPS). */
#include "check.h"
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

enum { N = 160, M = 120, K = 48, TRUE_RANK = 6 };

static double value(int i, int j) {
    double s = 0.0;
    for (int d = 0; d < TRUE_RANK; d++) s += uniform(1, i, d) * uniform(2, j, d);
    return s + 0.05 * uniform(3, i, j);
}
static double weight(int i, int j) { return 0.5 + 0.5 * (uniform(4, i, j) + 1.0); }
static int observed(int i, int j) { return uniform(5, i, j) < 0.2; } /* 60 % */

static void set_options(wlra_model *model, int method) {
    wlra_set_option(model, WLRA_OPTION_METHOD, method);
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    wlra_set_option(model, WLRA_OPTION_SEED, 5);
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 5);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
}

typedef struct {
    double *m, *w;
    int64_t *row_ptr, *col_idx;
    double *values, *weights;
} block;

/* Rows [r0, r1): dense row-major M and W, and the observed entries as CSR. */
static block build(int r0, int r1) {
    size_t rows = (size_t)(r1 - r0);
    block b = {malloc(sizeof(double) * rows * M), malloc(sizeof(double) * rows * M),
               calloc(rows + 1, sizeof(int64_t)), malloc(sizeof(int64_t) * rows * M),
               malloc(sizeof(double) * rows * M), malloc(sizeof(double) * rows * M)};
    int64_t p = 0;
    for (int i = r0; i < r1; i++) {
        for (int j = 0; j < M; j++) {
            b.m[(size_t)(i - r0) * M + j] = value(i, j);
            b.w[(size_t)(i - r0) * M + j] = weight(i, j);
            if (!observed(i, j)) continue;
            b.col_idx[p] = j;
            b.values[p] = value(i, j);
            b.weights[p] = weight(i, j);
            p++;
        }
        b.row_ptr[i - r0 + 1] = p;
    }
    return b;
}

static void free_block(block *b) {
    free(b->m);
    free(b->w);
    free(b->row_ptr);
    free(b->col_idx);
    free(b->values);
    free(b->weights);
}

/* U (gathered to every rank) and V of a fitted model, row-major. */
static void gathered_factors(wlra_model *model, int n_local, int size, double *u, double *v) {
    double *mine = malloc(sizeof(double) * (size_t)(n_local > 0 ? n_local : 1) * K);
    wlra_get_factors(model, mine, K, v, K, WLRA_ROW_MAJOR);
    int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
    for (int r = 0; r < size; r++) {
        int a = (int)((long)r * N / size), b = (int)((long)(r + 1) * N / size);
        counts[r] = (b - a) * K;
        displs[r] = a * K;
    }
    MPI_Allgatherv(mine, n_local * K, MPI_DOUBLE, u, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD);
    free(mine);
    free(counts);
    free(displs);
}

static void compare(int csr, int method, int rank, int size) {
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    int n_local = r1 - r0;
    const char *name = method == WLRA_METHOD_ALTERNATING ? "alternating" : "accelerated";
    block mine = build(r0, r1), whole = build(0, N);
    wlra_model *distributed = NULL, *single = NULL;
    wlra_create(K, &distributed);
    wlra_create(K, &single);
    set_options(distributed, method);
    set_options(single, method);
    int comm = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    wlra_status status, single_status;
    if (csr) {
        status = wlra_fit_csr_mpi(distributed, comm, N, M, (size_t)r0, (size_t)n_local, mine.row_ptr,
                                  mine.col_idx, mine.values, mine.weights, 0.0, 0.0);
        single_status = wlra_fit_csr(single, N, M, whole.row_ptr, whole.col_idx, whole.values,
                                     whole.weights, 0.0, 0.0);
    } else {
        status = wlra_fit_mpi(distributed, comm, N, M, (size_t)r0, (size_t)n_local, mine.m, M,
                              mine.w, M, WLRA_ROW_MAJOR);
        single_status = wlra_fit(single, N, M, whole.m, M, whole.w, M, WLRA_ROW_MAJOR);
    }
    CHECK(status == WLRA_OK, "%s: %s", name, wlra_last_error(distributed));
    CHECK(single_status == WLRA_OK, "%s, wlra_fit: %s", name, wlra_last_error(single));
    double solver = -1, single_solver = -1, inner = -1, single_inner = -1;
    wlra_get_info(distributed, WLRA_INFO_SOLVER_USED, &solver);
    wlra_get_info(single, WLRA_INFO_SOLVER_USED, &single_solver);
    wlra_get_info(distributed, WLRA_INFO_INNER_ITERATIONS, &inner);
    wlra_get_info(single, WLRA_INFO_INNER_ITERATIONS, &single_inner);
    CHECK(single_solver == WLRA_SOLVER_SHARED_PCG,
          "%s: wlra_fit's AUTO ran solver %g, not SHARED_PCG: the test no longer tests the choice",
          name, single_solver);
    CHECK(solver == single_solver, "%s: solver used %g, wlra_fit's %g", name, solver, single_solver);
    CHECK(inner == single_inner, "%s: inner iterations %.17g, wlra_fit's %.17g", name, inner,
          single_inner);
    /* Mixed precision (rank 48 is one the float32 kernels take, CSR): a
     * rank with rows reads float32 rows in the half-steps wlra_fit does. */
    double narrow = -1, single_narrow = -1;
    wlra_get_info(distributed, WLRA_INFO_NARROW_HALF_STEPS, &narrow);
    wlra_get_info(single, WLRA_INFO_NARROW_HALF_STEPS, &single_narrow);
    if (n_local > 0)
        CHECK(narrow == single_narrow, "%s: %g half-steps read float32 rows, wlra_fit's %g", name,
              narrow, single_narrow);
    if (!csr) CHECK(single_narrow == 0, "%s: dense input read float32 rows (%g)", name, single_narrow);
    double *u = malloc(sizeof(double) * N * K), *v = malloc(sizeof(double) * M * K);
    double *su = malloc(sizeof(double) * N * K), *sv = malloc(sizeof(double) * M * K);
    gathered_factors(distributed, n_local, size, u, v);
    wlra_get_factors(single, su, K, sv, K, WLRA_ROW_MAJOR);
    int same = memcmp(u, su, sizeof(double) * N * K) == 0 && memcmp(v, sv, sizeof(double) * M * K) == 0;
    double gap = 0, scale = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++) {
            double a = 0, b = 0;
            for (int d = 0; d < K; d++) {
                a += u[i * K + d] * v[j * K + d];
                b += su[i * K + d] * sv[j * K + d];
            }
            gap = fmax(gap, fabs(a - b));
            scale = fmax(scale, fabs(b));
        }
    if (method == WLRA_METHOD_ALTERNATING) CHECK(same, "%s: factors differ from wlra_fit's", name);
    CHECK(gap <= 1e-9 * scale, "%s: U V^T differs from wlra_fit's by %.3g", name, gap);
    if (rank == 0) {
        /* Every rank holds the same gathered bits: rank 0's digest. */
        unsigned long long digest = 1469598103934665603ull;
        const unsigned char *bytes = (const unsigned char *)u;
        for (size_t e = 0; e < sizeof(double) * N * K; e++) digest = (digest ^ bytes[e]) * 1099511628211ull;
        printf("%s %s on %d ranks: solver %g (wlra_fit's %g), inner iterations %.17g (%.17g), "
               "float32 half-steps %g (%g), U V^T off by %.3g of %.3g%s, digest %016llx\n",
               csr ? "csr" : "dense", name, size, solver, single_solver, inner, single_inner, narrow,
               single_narrow, gap, scale, same ? ", factors bitwise identical" : "", digest);
    }
    free(u);
    free(v);
    free(su);
    free(sv);
    wlra_destroy(distributed);
    wlra_destroy(single);
    free_block(&mine);
    free_block(&whole);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int csr = argc > 1 && strcmp(argv[1], "csr") == 0;
    compare(csr, WLRA_METHOD_ALTERNATING, rank, size);
    compare(csr, WLRA_METHOD_ACCELERATED, rank, size);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
