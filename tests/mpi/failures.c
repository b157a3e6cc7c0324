/* Failures of a distributed fit that must end, not hang (issue 27,
 * acceptance 4; docs/mpi.md, "Failures"):
 *
 *   failures bad-comm       a fit over MPI_COMM_WORLD, then wlra_fit_mpi with
 *                           handles that are no usable communicator (the
 *                           MPI_COMM_NULL handle, -1, an index never issued, a
 *                           freed communicator's handle, an intercommunicator):
 *                           each returns WLRA_ERROR_INVALID_ARGUMENT on every
 *                           rank and leaves the fitted model as it was
 *   failures killed-before  the last rank is killed (SIGKILL) before it calls
 *                           the fit: the others wait in the fit's first
 *                           collective
 *   failures killed-mid     the last rank is killed in its progress callback
 *                           at iteration 2, mid-fit
 *
 * The killed modes never finish on their own: tests/mpi/run.sh checks that
 * mpirun ends the job, with a failure, within 30 s. */
#include "check.h"
#include "wlra_mpi.h"
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 120, M = 80, K = 3 };

/* A smooth rank-K matrix plus a little structure-free noise, and weights in
 * [0.5, 1.5]: every rank builds the same global problem. */
static double data(int i, int j) {
    double s = 0.0;
    for (int d = 0; d < K; d++) s += (double)((i * (d + 3) + 7 * d) % 11) * ((j + d) % 5 - 2.0);
    return s + 1e-3 * (double)((i * 31 + j * 17) % 13);
}
static double weight(int i, int j) { return 0.5 + (double)((i * 7 + j * 3) % 10) / 10.0; }

static int32_t kill_at_iteration_two(void *user, size_t iteration, double objective) {
    (void)user;
    (void)objective;
    if (iteration == 2) raise(SIGKILL);
    return 0;
}

typedef struct {
    wlra_model *model;
    int n_local;
    size_t offset;
    double *m, *w;
} local_fit;

static wlra_status fit(local_fit *f, int comm_f) {
    return wlra_fit_mpi(f->model, comm_f, N, M, f->offset, (size_t)f->n_local, f->m, M, f->w, M,
                        WLRA_ROW_MAJOR);
}

/* The model's local factors and its iteration count, to check that a
 * refused call changed nothing. */
static double *snapshot(local_fit *f, double *iterations) {
    double *uv = malloc(sizeof(double) * (size_t)(f->n_local + M) * K);
    CHECK(wlra_get_factors(f->model, uv, K, uv + (size_t)f->n_local * K, K, WLRA_ROW_MAJOR) ==
              WLRA_OK,
          "wlra_get_factors: %s", wlra_last_error(f->model));
    wlra_get_info(f->model, WLRA_INFO_ITERATIONS, iterations);
    return uv;
}

static void bad_communicators(local_fit *f, int rank, int size) {
    CHECK(fit(f, (int)MPI_Comm_c2f(MPI_COMM_WORLD)) == WLRA_OK, "the good fit: %s",
          wlra_last_error(f->model));
    double before_iterations = 0, after_iterations = 0;
    double *before = snapshot(f, &before_iterations);

    MPI_Comm dup;
    MPI_Comm_dup(MPI_COMM_WORLD, &dup);
    int freed = (int)MPI_Comm_c2f(dup);
    MPI_Comm_free(&dup);
    MPI_Comm inter = MPI_COMM_NULL;
    if (size >= 2) { /* even ranks against odd ones */
        MPI_Comm half;
        MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
        MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, rank % 2 == 0 ? 1 : 0, 99, &inter);
        MPI_Comm_free(&half);
    }
    struct {
        const char *what;
        int handle;
    } cases[] = {
        {"the MPI_COMM_NULL handle", (int)MPI_Comm_c2f(MPI_COMM_NULL)},
        {"-1", -1},
        {"an index never issued", 1 << 20},
        {"a freed communicator's handle", freed},
        {"an intercommunicator", inter == MPI_COMM_NULL ? -1 : (int)MPI_Comm_c2f(inter)},
    };
    int n_cases = size >= 2 ? 5 : 4;
    for (int c = 0; c < n_cases; c++) {
        wlra_status status = fit(f, cases[c].handle);
        CHECK(status == WLRA_ERROR_INVALID_ARGUMENT, "%s: status %d, expected %d", cases[c].what,
              status, WLRA_ERROR_INVALID_ARGUMENT);
        if (rank == 0) printf("  %s: status %d: %s\n", cases[c].what, status,
                              wlra_last_error(f->model));
    }
    double *after = snapshot(f, &after_iterations);
    size_t count = (size_t)(f->n_local + M) * K;
    CHECK(memcmp(before, after, sizeof(double) * count) == 0 &&
              before_iterations == after_iterations,
          "a refused call changed the fitted model");
    if (inter != MPI_COMM_NULL) MPI_Comm_free(&inter);
    free(before);
    free(after);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc >= 2 ? argv[1] : "";
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    local_fit f = {NULL, r1 - r0, (size_t)r0, NULL, NULL};
    f.m = malloc(sizeof(double) * (size_t)f.n_local * M);
    f.w = malloc(sizeof(double) * (size_t)f.n_local * M);
    for (int i = r0; i < r1; i++)
        for (int j = 0; j < M; j++) {
            f.m[(size_t)(i - r0) * M + j] = data(i, j);
            f.w[(size_t)(i - r0) * M + j] = weight(i, j);
        }
    wlra_create(K, &f.model);
    wlra_set_option(f.model, WLRA_OPTION_MAX_ITERATIONS, 50);
    wlra_set_option(f.model, WLRA_OPTION_TOLERANCE, 0);
    wlra_set_option(f.model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(f.model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(f.model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    int last = rank == size - 1;

    if (strcmp(mode, "bad-comm") == 0) {
        bad_communicators(&f, rank, size);
    } else if (strcmp(mode, "killed-before") == 0 || strcmp(mode, "killed-mid") == 0) {
        if (last && strcmp(mode, "killed-before") == 0) raise(SIGKILL);
        if (last) wlra_set_progress(f.model, kill_at_iteration_two, NULL);
        wlra_status status = fit(&f, (int)MPI_Comm_c2f(MPI_COMM_WORLD));
        /* Not reached while a rank is dead: the job must be ended for us. */
        fprintf(stderr, "rank %d: the fit returned %d with a rank killed\n", rank, status);
        failures++;
    } else {
        if (rank == 0) fprintf(stderr, "usage: failures bad-comm|killed-before|killed-mid\n");
        failures++;
    }

    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && all == 0) printf("%s on %d ranks: passed\n", mode, size);
    wlra_destroy(f.model);
    free(f.m);
    free(f.w);
    MPI_Finalize();
    return all == 0 ? 0 : 1;
}
