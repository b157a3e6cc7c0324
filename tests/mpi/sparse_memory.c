/* Per-rank memory of a sparse distributed fit (issue 27, acceptance 2;
 * docs/mpi.md, "Memory per rank"): a 200,000 x 100,000 CSR problem with 2
 * million entries (10 per row, columns uniform), k = 8, 3 iterations of
 * alternation, split over the ranks by rows. Prints each rank's peak
 * resident memory above what it held after MPI_Init and its own CSR arrays,
 * beside the terms of docs/mpi.md's model, b nnz / P + c 8 (n + m) k
 * and the bytes per half-step against 8 (P - 1) n k and 8 (P - 1) m k
 * (within 5 %); tests/mpi/run.sh runs it on 1, 2, 4 and 8 ranks and checks
 * that the peak falls as ranks are added. */
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

enum { N = 200000, M = 100000, K = 8, PER_ROW = 10 };

static double peak_mib(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss / 1024.0;
}

static unsigned long long mix(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double base = peak_mib();
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    size_t rows = (size_t)(r1 - r0), nnz = rows * PER_ROW;
    int64_t *row_ptr = malloc(sizeof(int64_t) * (rows + 1)), *col_idx = malloc(sizeof(int64_t) * nnz);
    double *m = malloc(sizeof(double) * nnz), *w = malloc(sizeof(double) * nnz);
    row_ptr[0] = 0;
    for (size_t i = 0; i < rows; i++) {
        /* PER_ROW distinct columns in increasing order: one per stripe. */
        for (int p = 0; p < PER_ROW; p++) {
            unsigned long long h = mix(((unsigned long long)(r0 + i) << 8) + (unsigned)p);
            size_t e = i * PER_ROW + (size_t)p;
            col_idx[e] = (int64_t)p * (M / PER_ROW) + (int64_t)(h % (M / PER_ROW));
            m[e] = (double)(h >> 11) / 9007199254740992.0;
            w[e] = 1.0;
        }
        row_ptr[i + 1] = (int64_t)((i + 1) * PER_ROW);
    }
    double with_input = peak_mib();

    wlra_model *model = NULL;
    wlra_create(K, &model);
    wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 3);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0);
    wlra_set_option(model, WLRA_OPTION_RIDGE, 0.1);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
    double t0 = MPI_Wtime();
    wlra_status status = wlra_fit_csr_mpi(model, (int)MPI_Comm_c2f(MPI_COMM_WORLD), N, M,
                                          (size_t)r0, rows, row_ptr, col_idx, m, w, 0.0, 0.0);
    double seconds = MPI_Wtime() - t0;
    int failures = status != WLRA_OK;
    if (failures) fprintf(stderr, "rank %d: %s\n", rank, wlra_last_error(model));
    double fit_mib = peak_mib() - with_input, largest = 0;
    MPI_Reduce(&fit_mib, &largest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    wlra_traffic t, sum;
    wlra_distributed_traffic(&t);
    MPI_Reduce(&t.setup_bytes, &sum.setup_bytes, 5, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double P = size, total_nnz = (double)N * PER_ROW, mib = 1048576.0;
        double data = 96.0 * total_nnz / P / mib, factors = 8.0 * (N + M) * K / mib;
        printf("sparse %d x %d, %.0f entries, k = %d, on %d ranks: %.2f s\n", N, M, total_nnz, K,
               size, seconds);
        printf("  largest rank's peak above its input: %.1f MiB (after MPI_Init %.1f MiB, with "
               "its CSR arrays %.1f MiB)\n",
               largest, base, with_input);
        printf("  model: the pattern's copies 96 nnz / P = %.1f MiB (and transient buffers), one "
               "whole factor pair 8 (n + m) k = %.1f MiB\n",
               data, factors);
        printf("  bytes per U half-step %.0f (model %.0f), per V half-step %.0f (model %.0f)\n",
               sum.u_half_step_bytes / t.half_steps, 8 * (P - 1) * N * K,
               sum.v_half_step_bytes / t.half_steps, 8 * (P - 1) * M * K);
        printf("MEMORY %d %.1f\n", size, largest);
        /* The model leaves out only the 8-byte status agreements. */
        double u_bytes = sum.u_half_step_bytes / t.half_steps, v_bytes = sum.v_half_step_bytes / t.half_steps;
        double u_model = 8 * (P - 1) * N * K, v_model = 8 * (P - 1) * (double)M * K;
        if (fabs(u_bytes - u_model) > 0.05 * u_model || fabs(v_bytes - v_model) > 0.05 * v_model) {
            fprintf(stderr, "FAILED: bytes per half-step not within 5 %% of the model\n");
            failures++;
        }
    }
    wlra_destroy(model);
    free(row_ptr);
    free(col_idx);
    free(m);
    free(w);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
