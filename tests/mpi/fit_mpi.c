/* The distributed fit as a user runs it: every rank builds its block of rows
 * of one planted problem, fits over MPI_COMM_WORLD, and rank 0 writes the
 * factors' bits (U gathered, then V) for tests/mpi/run.sh to compare across
 * rank counts. Rank 0 also checks them against the single-process wlra_fit,
 * against the planted truth, and the bytes moved against the model's count.
 *
 *   fit_mpi dense|csr OUT.bin     a fit; exit 1 on a failed check
 *   fit_mpi table OUT.bin         the dense fit through wlra_fit_distributed
 *                                 and a table written here (another engine)
 *   fit_mpi bad-nan|bad-csr|bad-option|bad-layout
 *                                 the last rank's input is bad (a NaN, a
 *                                 malformed CSR row, a held-out fold not
 *                                 below the fold count, rows that overlap
 *                                 or leave a gap): every rank must return
 *                                 the same status
 *   fit_mpi relaxed OUT.bin       the dense fit with over-relaxation and clipping
 *   fit_mpi weight-sums OUT.bin   the dense fit with weight-sum ridges
 *   fit_mpi given OUT.bin         the dense fit from start factors every rank
 *                                 passes whole (WLRA_INIT_GIVEN)
 *   fit_mpi bad-given             the last rank's start differs in one entry
 *                                 (on one rank: INIT_GIVEN without factors)
 *   fit_mpi svd|svd-csr OUT.bin   the dense or CSR fit from the randomized
 *                                 SVD start, solver AUTO (which runs EXACT)
 *   fit_mpi accelerated OUT.bin   the CSR fit by accelerated alternation, 40
 *                                 iterations (the same bits on every rank
 *                                 count; wlra_fit's product to rounding)
 *   fit_mpi missing-nan|missing-nan-csr OUT.bin
 *                                 NaN in M at some entries of the first 30
 *                                 rows (on 4 ranks: rank 0's alone), read as
 *                                 missing (WLRA_OPTION_MISSING_NAN)
 *   fit_mpi scaled|scaled-offsets|scaled-csr OUT.bin
 *                                 the dense fit (with offsets), or the CSR
 *                                 fit, of M times 2^-70 and W times 2^60,
 *                                 outside the band the solvers read
 *                                 unscaled: wlra_fit's bits (CSR: the same
 *                                 bits on every rank count, U V^T as
 *                                 wlra_fit's)
 *   fit_mpi restarts-csr OUT.bin  the CSR fit with 3 restarts: wlra_fit's
 *                                 starts and objective
 *   fit_mpi cancel                the dense fit, with a progress callback on
 *                                 every rank; the last rank's says stop at
 *                                 iteration 3: every rank must return
 *                                 WLRA_ERROR_CANCELLED with the factors of
 *                                 iteration 3, those of wlra_fit cancelled
 *                                 there, bit for bit */
#include "check.h"
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 150, M = 90, K = 4 };

/* The planted truth M* = A B^T, rank K. */
static double truth(int i, int j) {
    double s = 0.0;
    for (int d = 0; d < K; d++) s += uniform(1, i, d) * uniform(2, j, d);
    return s;
}
/* "missing-nan", "missing-nan-csr": NaN in M at entries of the first 30
 * rows (rank 0's alone on 4 ranks), read as missing: every rank must read
 * the dense matrix as wlra_fit does (the exact solver, NaN weighted 0). */
static int missing_nan = 0;
/* "scaled", "scaled-offsets": M and W far from 1, which every rank must
 * read through the one scale wlra_fit reads the whole matrix with. */
static double value_scale = 1.0, weight_scale = 1.0;
static double data(int i, int j) {
    if (missing_nan && i < 30 && (i + j) % 5 == 0) return NAN;
    return (truth(i, j) + 1e-3 * uniform(3, i, j)) * value_scale;
}
static double weight(int i, int j) { return (0.5 + 0.5 * (uniform(4, i, j) + 1.0)) * weight_scale; }
static int observed(int i, int j) { return uniform(5, i, j) < -0.2; } /* 40 % */

/* The communication table as another engine would fill it: here over MPI
 * too, but written against the table's contract alone. */
static int32_t my_allreduce(void *user, double *values, size_t count, int32_t op) {
    double *copy = malloc(sizeof(double) * count);
    memcpy(copy, values, sizeof(double) * count);
    int rc = MPI_Allreduce(copy, values, (int)count, MPI_DOUBLE,
                           op == WLRA_COMM_MAX ? MPI_MAX : MPI_SUM, *(MPI_Comm *)user);
    free(copy);
    return rc;
}

static int *as_ints(const size_t *values, int size) {
    int *out = malloc(sizeof(int) * (size_t)size);
    for (int r = 0; r < size; r++) out[r] = (int)values[r];
    return out;
}

static int32_t my_allgatherv(void *user, const double *send, size_t send_count, double *recv,
                             const size_t *recv_counts, const size_t *displs) {
    int size;
    MPI_Comm_size(*(MPI_Comm *)user, &size);
    int *c = as_ints(recv_counts, size), *d = as_ints(displs, size);
    int rc = MPI_Allgatherv(send, (int)send_count, MPI_DOUBLE, recv, c, d, MPI_DOUBLE,
                            *(MPI_Comm *)user);
    free(c);
    free(d);
    return rc;
}

static int32_t my_alltoallv(void *user, const double *send, const size_t *send_counts,
                            const size_t *send_displs, double *recv, const size_t *recv_counts,
                            const size_t *recv_displs) {
    int size;
    MPI_Comm_size(*(MPI_Comm *)user, &size);
    int *sc = as_ints(send_counts, size), *sd = as_ints(send_displs, size);
    int *rc_ = as_ints(recv_counts, size), *rd = as_ints(recv_displs, size);
    int rc = MPI_Alltoallv(send, sc, sd, MPI_DOUBLE, recv, rc_, rd, MPI_DOUBLE,
                           *(MPI_Comm *)user);
    free(sc);
    free(sd);
    free(rc_);
    free(rd);
    return rc;
}

/* "relaxed": the dense fit with over-relaxation and LLR16's clipping, both
 * run by the shared loop on whole factors; "accelerated": the CSR fit by
 * accelerated alternation. */
static int relaxed = 0, accelerated = 0;
/* "weight-sums": the dense fit with ALS-WR's ridge, each row's and column's
 * term times its weight sum. */
static int weight_sums = 0;
/* "given": the dense fit from start factors every rank passes whole
 * (WLRA_INIT_GIVEN); "bad-given": the last rank's differ in one entry. */
static int given = 0;
/* "svd", "svd-csr": the randomized SVD start (a distributed range finder),
 * with the distributed model's solver left to AUTO (whose cost model
 * picks EXACT at rank 4, as wlra_fit's does). */
static int svd = 0;
/* "offsets": the dense fit with row and column offsets (no ridge: the
 * documented gauge); "offsets-csr": the CSR fit (ridge 0.01) with row
 * offsets. The offsets are gathered and compared with wlra_fit's too. */
static int offsets = 0;
/* "pcg", "pcg-csr": the SHARED_PCG solver (each row's own CG: the split
 * changes no bits, and the inner iterations summed over ranks are
 * wlra_fit's). */
static int pcg = 0;
/* "folds", "folds-csr": fold 2 of 5 held out; the held-out RMSE (sums
 * added over the ranks) equals wlra_fit's to rounding, its entry count
 * exactly. */
static int folds = 0;
/* "unobserved": CSR with w_default = 0, rows i % 17 == 0 and columns
 * j % 13 == 0 without an entry, accelerated alternation: their factor
 * rows end at exactly 0 (the minimum-norm solution), as wlra_fit's do. */
static int unobserved = 0;
/* "restarts-csr": the CSR fit with WLRA_OPTION_RESTARTS = 3, the restart
 * rule shared with wlra_fit (outer/restarts.rs) deciding on the agreed
 * objectives: the same starts as wlra_fit's, the same bits on every rank
 * count. */
static int restarts = 0;

/* The start factors of "given": U (N x K) then V (M x K), row-major; the
 * last rank changes one entry of U when `differ`. */
static void set_given_start(wlra_model *model, int differ) {
    double *u = malloc(sizeof(double) * N * K), *v = malloc(sizeof(double) * M * K);
    for (int e = 0; e < N * K; e++) u[e] = uniform(6, (unsigned)e, 0);
    for (int e = 0; e < M * K; e++) v[e] = uniform(7, (unsigned)e, 0);
    if (differ) u[5] += 1.0;
    CHECK(wlra_set_factors(model, N, M, u, K, v, K, WLRA_ROW_MAJOR) == WLRA_OK, "wlra_set_factors");
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_GIVEN);
    free(u);
    free(v);
}

static void set_options(wlra_model *model, double ridge) {
    wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    wlra_set_option(model, WLRA_OPTION_SEED, 7);
    /* Dense: a fixed budget (6 iterations, well before the objective
     * settles to rounding); CSR: stopped by the tolerance. */
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, ridge > 0 ? 200 : 6);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, ridge > 0 ? 1e-4 : 0);
    wlra_set_option(model, WLRA_OPTION_RIDGE, ridge);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
    if (svd) {
        wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_SVD);
        /* From the SVD start the dense objective settles to rounding by
         * the 5th iteration; there a rise of one ulp, which the ranks' sums
         * and one process's may see differently, ends the fit. */
        if (!ridge) wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 3);
    }
    if (missing_nan) wlra_set_option(model, WLRA_OPTION_MISSING_NAN, 1);
    if (pcg) wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_SHARED_PCG);
    if (unobserved) wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ACCELERATED);
    if (restarts) wlra_set_option(model, WLRA_OPTION_RESTARTS, 3);
    if (folds) {
        wlra_set_option(model, WLRA_OPTION_FOLDS, 5);
        wlra_set_option(model, WLRA_OPTION_HELD_OUT_FOLD, 2);
    }
    if (offsets)
        wlra_set_option(model, WLRA_OPTION_OFFSETS, ridge > 0 ? WLRA_OFFSETS_ROWS : WLRA_OFFSETS_BOTH);
    if (relaxed) {
        wlra_set_option(model, WLRA_OPTION_OVERRELAXATION, 1.5);
        wlra_set_option(model, WLRA_OPTION_CLIP, 1.5);
    }
    if (weight_sums) {
        wlra_set_option(model, WLRA_OPTION_RIDGE, 1e-3);
        wlra_set_option(model, WLRA_OPTION_RIDGE_SCALING, WLRA_RIDGE_WEIGHT_SUMS);
    }
    if (accelerated) {
        /* On the CSR data, where alternation is slow and extrapolations are
         * taken, with a fixed budget (so the bits can match wlra_fit's). */
        wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ACCELERATED);
        wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 40);
        wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0);
    }
}

/* The progress a rank saw; `stop_at` > 0 says stop there. */
typedef struct {
    size_t calls, stop_at;
    double objective[8];
} progress_log;

static int32_t log_progress(void *user, size_t iteration, double objective) {
    progress_log *log = user;
    if (log->calls < 8) log->objective[log->calls] = objective;
    log->calls++;
    return log->stop_at > 0 && iteration >= log->stop_at; /* non-zero: cancel */
}

/* This rank's CSR block of rows [r0, r1): observed entries, global columns. */
typedef struct {
    int64_t *row_ptr, *col_idx;
    double *m, *w;
} csr;

static csr build_csr(int r0, int r1) {
    csr c;
    c.row_ptr = calloc((size_t)(r1 - r0) + 1, sizeof(int64_t));
    c.col_idx = malloc(sizeof(int64_t) * (size_t)(r1 - r0) * M);
    c.m = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
    c.w = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
    int64_t p = 0;
    for (int i = r0; i < r1; i++) {
        for (int j = 0; j < M; j++) {
            if (!observed(i, j) || (unobserved && (i % 17 == 0 || j % 13 == 0))) continue;
            c.col_idx[p] = j;
            c.m[p] = data(i, j);
            c.w[p] = 1.0 + weight(i, j);
            p++;
        }
        c.row_ptr[i - r0 + 1] = p;
    }
    return c;
}

static void free_csr(csr *c) {
    free(c->row_ptr);
    free(c->col_idx);
    free(c->m);
    free(c->w);
}

/* The model's factors, U gathered at rank 0 (u, N x K) and V (v, M x K)
 * on every rank; false if wlra_get_factors fails. */
static int gather_factors(wlra_model *model, int n_local, int size, double *u, double *v) {
    double *u_local = malloc(sizeof(double) * (size_t)n_local * K);
    int ok = wlra_get_factors(model, u_local, K, v, K, WLRA_ROW_MAJOR) == WLRA_OK;
    int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
    for (int r = 0; r < size; r++) {
        int a = (int)((long)r * N / size), b = (int)((long)(r + 1) * N / size);
        counts[r] = (b - a) * K;
        displs[r] = a * K;
    }
    MPI_Gatherv(u_local, n_local * K, MPI_DOUBLE, u, counts, displs, MPI_DOUBLE, 0,
                MPI_COMM_WORLD);
    free(u_local);
    free(counts);
    free(displs);
    return ok;
}

/* The offsets a (gathered at rank 0) and b (whole), zero where the fit has
 * none. */
static int gather_offsets(wlra_model *model, int n_local, int size, double *a, double *b) {
    double *a_local = calloc((size_t)n_local, sizeof(double));
    int ok = wlra_get_offsets(model, a_local, b) == WLRA_OK;
    int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
    for (int r = 0; r < size; r++) {
        int lo = (int)((long)r * N / size), hi = (int)((long)(r + 1) * N / size);
        counts[r] = hi - lo;
        displs[r] = lo;
    }
    MPI_Gatherv(a_local, n_local, MPI_DOUBLE, a, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    free(a_local);
    free(counts);
    free(displs);
    return ok;
}

/* The cancelled fit: every rank saw iterations 1, 2 and 3 with the same
 * objectives, reports 3 iterations, and holds the factors of wlra_fit
 * cancelled at iteration 3 (checked at rank 0). */
static void cancelled_run(wlra_model *model, int rank, int size, int n_local, wlra_status status,
                          const progress_log *seen) {
    CHECK(status == WLRA_ERROR_CANCELLED, "rank %d: status %d, not WLRA_ERROR_CANCELLED", rank, status);
    CHECK(seen->calls == 3, "rank %d: the callback ran %zu times, not 3", rank, seen->calls);
    double iterations = 0;
    wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations);
    CHECK(iterations == 3, "rank %d: %.0f iterations reported, not 3", rank, iterations);
    double low[3], high[3];
    MPI_Allreduce(seen->objective, low, 3, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(seen->objective, high, 3, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    for (int t = 0; t < 3; t++)
        CHECK(low[t] == high[t], "iteration %d: the ranks' callbacks saw different objectives",
              t + 1);
    double *u = malloc(sizeof(double) * N * K), *v = malloc(sizeof(double) * M * K);
    CHECK(gather_factors(model, n_local, size, u, v),
          "rank %d: wlra_get_factors after the cancel", rank);
    if (rank == 0) {
        wlra_model *single = NULL;
        wlra_create(K, &single);
        set_options(single, 0.0);
        progress_log own = {0, 3, {0}};
        wlra_set_progress(single, log_progress, &own);
        double *gm = malloc(sizeof(double) * N * M), *gw = malloc(sizeof(double) * N * M);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < M; j++) {
                gm[i * M + j] = data(i, j);
                gw[i * M + j] = weight(i, j);
            }
        wlra_status s = wlra_fit(single, N, M, gm, M, gw, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_ERROR_CANCELLED, "wlra_fit cancelled at 3: status %d", s);
        double *su = malloc(sizeof(double) * N * K), *sv = malloc(sizeof(double) * M * K);
        wlra_get_factors(single, su, K, sv, K, WLRA_ROW_MAJOR);
        int same = memcmp(u, su, sizeof(double) * N * K) == 0 &&
                   memcmp(v, sv, sizeof(double) * M * K) == 0;
        CHECK(same, "the factors after the cancel differ from wlra_fit's cancelled at 3");
        printf("cancel on %d ranks: every rank returned WLRA_ERROR_CANCELLED after 3 iterations "
               "(objectives %.17g, %.17g, %.17g on every rank)%s\n",
               size, low[0], low[1], low[2],
               same ? "; factors bitwise identical to wlra_fit cancelled at 3" : "");
        wlra_destroy(single);
        free(gm);
        free(gw);
        free(su);
        free(sv);
    }
    free(u);
    free(v);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (rank == 0) fprintf(stderr, "usage: fit_mpi dense|csr OUT.bin | bad-nan | bad-csr\n");
        MPI_Finalize();
        return 2;
    }
    const char *mode = argv[1];
    int csr_input = strcmp(mode, "csr") == 0 || strcmp(mode, "bad-csr") == 0 ||
                    strcmp(mode, "accelerated") == 0 || strcmp(mode, "svd-csr") == 0 ||
                    strcmp(mode, "offsets-csr") == 0 || strcmp(mode, "pcg-csr") == 0 ||
                    strcmp(mode, "folds-csr") == 0 || strcmp(mode, "unobserved") == 0 ||
                    strcmp(mode, "missing-nan-csr") == 0 || strcmp(mode, "scaled-csr") == 0 ||
                    strcmp(mode, "restarts-csr") == 0;
    int own_table = strcmp(mode, "table") == 0;
    int cancel = strcmp(mode, "cancel") == 0;
    relaxed = strcmp(mode, "relaxed") == 0;
    accelerated = strcmp(mode, "accelerated") == 0;
    weight_sums = strcmp(mode, "weight-sums") == 0;
    given = strcmp(mode, "given") == 0 || strcmp(mode, "bad-given") == 0;
    svd = strncmp(mode, "svd", 3) == 0;
    offsets = strncmp(mode, "offsets", 7) == 0;
    pcg = strncmp(mode, "pcg", 3) == 0;
    folds = strncmp(mode, "folds", 5) == 0;
    unobserved = strcmp(mode, "unobserved") == 0;
    restarts = strcmp(mode, "restarts-csr") == 0;
    missing_nan = strncmp(mode, "missing-nan", 11) == 0;
    if (strncmp(mode, "scaled", 6) == 0) {
        value_scale = ldexp(1.0, -70);
        weight_scale = ldexp(1.0, 60);
        offsets = strcmp(mode, "scaled-offsets") == 0;
    }
    int bad = strncmp(mode, "bad-", 4) == 0;
    /* Uneven blocks that do not align with the library's row blocks. */
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    int n_local = r1 - r0;
    double ridge = csr_input ? 0.01 : 0.0;
    double m_default = 0.0, w_default = unobserved ? 0.0 : 0.05;

    wlra_model *model = NULL;
    wlra_create(K, &model);
    set_options(model, ridge);
    if (svd) wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_AUTO);
    if (given) {
        int differ = strcmp(mode, "bad-given") == 0 && rank == size - 1;
        if (differ && size == 1) /* no other rank to differ from: no factors */
            wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_GIVEN);
        else
            set_given_start(model, differ);
    }
    if (strcmp(mode, "bad-option") == 0 && rank == size - 1) {
        wlra_set_option(model, WLRA_OPTION_FOLDS, 3);
        wlra_set_option(model, WLRA_OPTION_HELD_OUT_FOLD, 5);
    }
    size_t offset = (size_t)r0;
    if (strcmp(mode, "bad-layout") == 0 && rank == size - 1) {
        if (size > 1) offset = 0; /* overlaps rank 0's rows */
        else n_local -= 1;        /* leaves the last row out */
    }
    progress_log seen = {0, 0, {0}};
    if (cancel) {
        if (rank == size - 1) seen.stop_at = 3;
        wlra_set_progress(model, log_progress, &seen);
    }
    int comm_f = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    double *m = NULL, *w = NULL;
    csr c = {0};
    wlra_status status;
    double t0 = MPI_Wtime();
    if (!csr_input) {
        m = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
        w = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
        for (int i = r0; i < r1; i++)
            for (int j = 0; j < M; j++) {
                m[(size_t)(i - r0) * M + j] = data(i, j);
                w[(size_t)(i - r0) * M + j] = weight(i, j);
            }
        if (strcmp(mode, "bad-nan") == 0 && rank == size - 1) m[(size_t)(n_local - 1) * M + 3] = NAN;
        if (own_table) {
            MPI_Comm world = MPI_COMM_WORLD;
            wlra_comm table = {&world, (size_t)size, (size_t)rank, my_allreduce, my_allgatherv,
                               my_alltoallv};
            status = wlra_fit_distributed(model, &table, N, M, offset, (size_t)n_local, m, M, w,
                                          M, WLRA_ROW_MAJOR);
        } else {
            status = wlra_fit_mpi(model, comm_f, N, M, offset, (size_t)n_local, m, M, w, M,
                                  WLRA_ROW_MAJOR);
        }
    } else {
        c = build_csr(r0, r1);
        if (bad && rank == size - 1 && c.row_ptr[1] >= 2) c.col_idx[1] = c.col_idx[0];
        status = wlra_fit_csr_mpi(model, comm_f, N, M, (size_t)r0, (size_t)n_local, c.row_ptr,
                                  c.col_idx, c.m, c.w, m_default, w_default);
    }
    double seconds = MPI_Wtime() - t0;

    /* Every rank's status, at rank 0. */
    int mine = status, *all = malloc(sizeof(int) * (size_t)size);
    MPI_Gather(&mine, 1, MPI_INT, all, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) {
        int want = strcmp(mode, "bad-nan") == 0 ? WLRA_ERROR_NON_FINITE_INPUT
                                                 : WLRA_ERROR_INVALID_ARGUMENT;
        if (rank == 0) {
            for (int r = 0; r < size; r++)
                CHECK(all[r] == want, "%s: rank %d returned status %d, expected %d", mode, r,
                      all[r], want);
            printf("%s on %d ranks: every rank returned status %d (%s)\n", mode, size, want,
                   wlra_status_message(want));
        }
        if (rank == size - 1 || rank == 0)
            printf("  rank %d: %s\n", rank, wlra_last_error(model));
        goto done;
    }
    if (rank == 0)
        for (int r = 0; r < size; r++)
            CHECK(all[r] == (cancel ? WLRA_ERROR_CANCELLED : WLRA_OK), "rank %d: status %d", r, all[r]);
    if (cancel) {
        cancelled_run(model, rank, size, n_local, status, &seen);
        goto done;
    }
    if (status != WLRA_OK) {
        fprintf(stderr, "rank %d: %s\n", rank, wlra_last_error(model));
        failures++;
        goto done;
    }

    {
        double *u = malloc(sizeof(double) * N * K), *v = malloc(sizeof(double) * M * K);
        CHECK(gather_factors(model, n_local, size, u, v), "wlra_get_factors");
        double a[N] = {0}, b[M] = {0};
        CHECK(gather_offsets(model, n_local, size, a, b), "wlra_get_offsets: %s",
              wlra_last_error(model));
        if (unobserved && rank == 0) {
            int zero = 1;
            for (int i = 0; i < N; i += 17)
                for (int d = 0; d < K; d++) zero &= u[i * K + d] == 0.0;
            for (int j = 0; j < M; j += 13)
                for (int d = 0; d < K; d++) zero &= v[j * K + d] == 0.0;
            printf("  rows and columns without an entry: factor rows %s\n", zero ? "exactly 0" : "NOT 0");
            CHECK(zero, "the unobserved rows' and columns' factors are not 0");
        }
        double iterations = 0, objective = 0;
        wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations);
        wlra_get_info(model, WLRA_INFO_OBJECTIVE, &objective);
        double solver_used = -1;
        wlra_get_info(model, WLRA_INFO_SOLVER_USED, &solver_used);
        double want_solver = pcg ? WLRA_SOLVER_SHARED_PCG : WLRA_SOLVER_EXACT;
        CHECK(solver_used == want_solver, "SOLVER_USED = %g, expected %g", solver_used, want_solver);
        double inner = 0;
        wlra_get_info(model, WLRA_INFO_INNER_ITERATIONS, &inner);

        /* Bytes moved, summed over the ranks, against the model's count. */
        wlra_traffic t, sum;
        CHECK(wlra_distributed_traffic(&t) == WLRA_OK, "wlra_distributed_traffic");
        /* 150 rows: the column block copy is cheaper than summing normal
         * equations (docs/mpi.md, "Tall dense input"). */
        int32_t exchange = -1;
        wlra_distributed_exchange(&exchange);
        CHECK(exchange == (size > 1 ? WLRA_EXCHANGE_COLUMN_BLOCKS : WLRA_EXCHANGE_NONE),
              "wlra_distributed_exchange: %d", exchange);
        MPI_Reduce(&t.setup_bytes, &sum.setup_bytes, 5, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
        sum.half_steps = t.half_steps;
        sum.objectives = t.objectives;

        if (rank == 0) {
            double P = size;
            /* Each side's solved columns: the rank's and the side's own
             * offset (dense: both offsets; CSR: row offsets only). */
            double ku = K + (offsets ? 1 : 0), kv = K + (offsets && !csr_input ? 1 : 0);
            double u_model = 8.0 * (P - 1) * N * ku, v_model = 8.0 * (P - 1) * M * kv;
            double u_measured = sum.u_half_step_bytes / sum.half_steps;
            double v_measured = sum.v_half_step_bytes / sum.half_steps;
            printf("%s on %d ranks: %.0f iterations, objective %.17g, %.3f s\n", mode, size,
                   iterations, objective, seconds);
            printf("  bytes per U half-step: measured %.0f, model %.0f\n", u_measured, u_model);
            printf("  bytes per V half-step: measured %.0f, model %.0f\n", v_measured, v_model);
            printf("  bytes per objective:   measured %.0f, model %.0f\n",
                   sum.objective_bytes / sum.objectives, 8.0 * (P - 1) * N);
            printf("  redistribution bytes:  measured %.0f\n", sum.redistribution_bytes);
            if (size > 1) {
                CHECK(fabs(u_measured - u_model) <= 0.1 * u_model,
                      "U half-step bytes %.0f not within 10%% of %.0f", u_measured, u_model);
                CHECK(fabs(v_measured - v_model) <= 0.1 * v_model,
                      "V half-step bytes %.0f not within 10%% of %.0f", v_measured, v_model);
            }
            if (!csr_input) {
                /* Every rank sends the others its rows' M and W entries of
                 * their column blocks: 2 * 8 (N M - sum_r n_r m_r) bytes. */
                double own = 0;
                for (int r = 0; r < size; r++) {
                    double a = (double)((long)r * N / size), b = (double)((long)(r + 1) * N / size);
                    double ca = (double)((long)r * M / size), cb = (double)((long)(r + 1) * M / size);
                    own += (b - a) * (cb - ca);
                }
                double model_bytes = 16.0 * ((double)N * M - own);
                printf("  redistribution model:  %.0f\n", model_bytes);
                CHECK(fabs(sum.redistribution_bytes - model_bytes) <= 0.1 * model_bytes + 1,
                      "redistribution bytes %.0f not within 10%% of %.0f",
                      sum.redistribution_bytes, model_bytes);
            }

            /* The single-process fit of the same problem. */
            wlra_model *single = NULL;
            wlra_create(K, &single);
            set_options(single, ridge);
            if (given) set_given_start(single, 0);
            if (!csr_input) {
                double *gm = malloc(sizeof(double) * N * M), *gw = malloc(sizeof(double) * N * M);
                for (int i = 0; i < N; i++)
                    for (int j = 0; j < M; j++) {
                        gm[i * M + j] = data(i, j);
                        gw[i * M + j] = weight(i, j);
                    }
                status = wlra_fit(single, N, M, gm, M, gw, M, WLRA_ROW_MAJOR);
                free(gm);
                free(gw);
            } else {
                csr g = build_csr(0, N);
                status = wlra_fit_csr(single, N, M, g.row_ptr, g.col_idx, g.m, g.w, m_default,
                                      w_default);
                free_csr(&g);
            }
            CHECK(status == WLRA_OK, "single-process fit: %s", wlra_last_error(single));
            double single_iterations = 0, single_objective = 0;
            wlra_get_info(single, WLRA_INFO_ITERATIONS, &single_iterations);
            wlra_get_info(single, WLRA_INFO_OBJECTIVE, &single_objective);
            double single_inner = 0;
            wlra_get_info(single, WLRA_INFO_INNER_ITERATIONS, &single_inner);
            printf("  wlra_fit: %.0f iterations, objective %.17g, inner iterations %.17g (here %.17g)\n",
                   single_iterations, single_objective, single_inner, inner);
            CHECK(single_iterations != iterations || inner == single_inner,
                  "inner iterations %.17g, wlra_fit's %.17g", inner, single_inner);
            double starts = 0, single_starts = 0;
            wlra_get_info(model, WLRA_INFO_STARTS, &starts);
            wlra_get_info(single, WLRA_INFO_STARTS, &single_starts);
            printf("  starts %.0f, wlra_fit's %.0f\n", starts, single_starts);
            CHECK(starts == single_starts, "%.0f starts, wlra_fit's %.0f", starts, single_starts);
            if (restarts) {
                CHECK(starts >= 2, "restarts: only %.0f start ran", starts);
                CHECK(fabs(objective - single_objective) <= 1e-12 * single_objective,
                      "objective %.17g, wlra_fit's %.17g", objective, single_objective);
            }
            if (folds) {
                double rmse = 0, entries = 0, single_rmse = 0, single_entries = 0;
                wlra_get_info(model, WLRA_INFO_HELD_OUT_RMSE, &rmse);
                wlra_get_info(model, WLRA_INFO_HELD_OUT_ENTRIES, &entries);
                wlra_get_info(single, WLRA_INFO_HELD_OUT_RMSE, &single_rmse);
                wlra_get_info(single, WLRA_INFO_HELD_OUT_ENTRIES, &single_entries);
                printf("  held-out RMSE %.17g over %.0f entries; wlra_fit's %.17g over %.0f\n", rmse,
                       entries, single_rmse, single_entries);
                CHECK(entries == single_entries && entries > 0, "held-out entries %.0f, wlra_fit's %.0f",
                      entries, single_entries);
                CHECK(fabs(rmse - single_rmse) <= 1e-12 * single_rmse, "held-out RMSE %.17g, wlra_fit's %.17g",
                      rmse, single_rmse);
            }
            double *su = malloc(sizeof(double) * N * K), *sv = malloc(sizeof(double) * M * K);
            wlra_get_factors(single, su, K, sv, K, WLRA_ROW_MAJOR);
            /* The same factors bit for bit when both stop at the same
             * iteration; the products agree to rounding in any case (the
             * objectives, which decide the stop, are summed in different
             * orders: docs/mpi.md). */
            int same = single_iterations == iterations;
            for (int e = 0; e < N * K; e++) same &= memcmp(&u[e], &su[e], sizeof(double)) == 0;
            for (int e = 0; e < M * K; e++) same &= memcmp(&v[e], &sv[e], sizeof(double)) == 0;
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
            printf("  against wlra_fit: largest difference of U V^T %.3g (scale %.3g)%s\n", gap,
                   scale, same ? "; factors bitwise identical" : "");
            CHECK(gap <= 1e-6 * scale, "U V^T differs from wlra_fit's by %.3g", gap);
            /* Dense fits run a fixed budget: no stop depends on the order of
             * the objective's sums, so the bits must agree. (Accelerated
             * alternation compares objectives to take an extrapolation, so
             * there only the product agrees, to rounding: docs/mpi.md.) */
            if (!csr_input) CHECK(same, "%s: factors differ from wlra_fit's", mode);
            if (offsets) {
                /* The offsets, in the same gauge, bit for bit. */
                double sa[N] = {0}, sb[M] = {0};
                CHECK(wlra_get_offsets(single, sa, sb) == WLRA_OK, "wlra_get_offsets (single)");
                int same_offsets = memcmp(a, sa, sizeof a) == 0 && memcmp(b, sb, sizeof b) == 0;
                printf("  offsets: a[0] = %.17g, b[0] = %.17g%s\n", a[0], b[0],
                       same_offsets ? "; bitwise identical to wlra_fit's" : "");
                CHECK(same_offsets || csr_input, "%s: offsets differ from wlra_fit's", mode);
            }
            wlra_destroy(single);
            free(su);
            free(sv);

            /* The planted truth, recovered (dense: every entry weighted). */
            double err = 0, norm = 0;
            for (int i = 0; i < N; i++)
                for (int j = 0; j < M; j++) {
                    double f = 0;
                    for (int d = 0; d < K; d++) f += u[i * K + d] * v[j * K + d];
                    f += a[i] + b[j];
                    double t = truth(i, j) * value_scale;
                    err += (f - t) * (f - t);
                    norm += t * t;
                }
            double rel = sqrt(err / norm);
            printf("  ||U V^T - M*||_F / ||M*||_F = %.3g\n", rel);
            /* (Clipping at 1.5 in six iterations is not meant to recover it.) */
            if (!csr_input && !relaxed) CHECK(rel < 1e-2, "planted truth not recovered: %.3g", rel);

            FILE *f = fopen(argv[2], "wb");
            CHECK(f != NULL, "cannot write %s", argv[2]);
            if (f) {
                fwrite(u, sizeof(double), N * K, f);
                fwrite(v, sizeof(double), M * K, f);
                fclose(f);
            }
        }
        free(u);
        free(v);
    }
done:
    free(all);
    free(m);
    free(w);
    if (csr_input) free_csr(&c);
    wlra_destroy(model);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
