/* One distributed fit, timed: bench_mpi dense|csr N M K ITERATIONS.
 * Every rank builds its rows of a planted problem (dense: weights in
 * [0.5, 1.5]; csr: implicit feedback, about 2 % of the entries observed with
 * confidence weights, w_default = 1, m_default = 0), fits it with
 * wlra_fit_mpi / wlra_fit_csr_mpi for a fixed number of iterations, and
 * rank 0 prints one line: seconds per iteration (the slowest rank's), and
 * the bytes per half-step summed over ranks next to the model's count. */
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double uniform(unsigned stream, unsigned long i, unsigned long j) {
    unsigned long long z = 0x9E3779B97F4A7C15ull * (stream + 1) ^ (i * 0x100000001B3ull) ^
                           ((unsigned long long)j << 32);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 6) {
        if (rank == 0) fprintf(stderr, "usage: bench_mpi dense|csr N M K ITERATIONS\n");
        MPI_Finalize();
        return 2;
    }
    int csr = strcmp(argv[1], "csr") == 0;
    long n = atol(argv[2]), m = atol(argv[3]), k = atol(argv[4]), iterations = atol(argv[5]);
    long r0 = rank * n / size, r1 = (rank + 1) * n / size, nl = r1 - r0;
    /* Rows of the planted factors, recomputed where needed. */
    double *a = malloc(sizeof(double) * (size_t)(nl * k)), *b = malloc(sizeof(double) * (size_t)(m * k));
    for (long i = 0; i < nl; i++)
        for (long d = 0; d < k; d++) a[i * k + d] = uniform(1, (unsigned long)(r0 + i), (unsigned long)d);
    for (long j = 0; j < m; j++)
        for (long d = 0; d < k; d++) b[j * k + d] = uniform(2, (unsigned long)j, (unsigned long)d);
    wlra_model *model = NULL;
    wlra_create((size_t)k, &model);
    wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, (double)iterations);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0);
    wlra_set_option(model, WLRA_OPTION_RIDGE, 0.1);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
    int comm_f = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    double *mv = NULL, *wv = NULL;
    int64_t *ptr = NULL, *idx = NULL;
    long nnz = 0;
    if (!csr) {
        mv = malloc(sizeof(double) * (size_t)(nl * m));
        wv = malloc(sizeof(double) * (size_t)(nl * m));
        for (long i = 0; i < nl; i++)
            for (long j = 0; j < m; j++) {
                double s = 0;
                for (long d = 0; d < k; d++) s += a[i * k + d] * b[j * k + d];
                mv[i * m + j] = s;
                wv[i * m + j] = 1.0 + 0.5 * uniform(3, (unsigned long)(r0 + i), (unsigned long)j);
            }
    } else {
        ptr = calloc((size_t)nl + 1, sizeof(int64_t));
        long cap = nl * m / 40 + 16;
        idx = malloc(sizeof(int64_t) * (size_t)cap);
        mv = malloc(sizeof(double) * (size_t)cap);
        wv = malloc(sizeof(double) * (size_t)cap);
        for (long i = 0; i < nl; i++) {
            for (long j = 0; j < m; j++) {
                if (uniform(4, (unsigned long)(r0 + i), (unsigned long)j) > -0.96 || nnz == cap) continue;
                idx[nnz] = j;
                mv[nnz] = 1.0;
                wv[nnz] = 1.0 + 10.0 * (uniform(5, (unsigned long)(r0 + i), (unsigned long)j) + 1.0);
                nnz++;
            }
            ptr[i + 1] = nnz;
        }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    clock_t c0 = clock();
    wlra_status status =
        csr ? wlra_fit_csr_mpi(model, comm_f, (size_t)n, (size_t)m, (size_t)r0, (size_t)nl, ptr, idx,
                               mv, wv, 0.0, 1.0)
            : wlra_fit_mpi(model, comm_f, (size_t)n, (size_t)m, (size_t)r0, (size_t)nl, mv,
                           (size_t)m, wv, (size_t)m, WLRA_ROW_MAJOR);
    double seconds = MPI_Wtime() - t0, slowest = 0;
    double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC, cpu_sum = 0, comm_max = 0;
    MPI_Reduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&cpu, &cpu_sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    wlra_traffic t, sum;
    wlra_distributed_traffic(&t);
    MPI_Reduce(&t.communication_seconds, &comm_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&t.setup_bytes, &sum.setup_bytes, 5, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    long total_nnz = 0;
    MPI_Reduce(&nnz, &total_nnz, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    if (status != WLRA_OK) fprintf(stderr, "rank %d: %s\n", rank, wlra_last_error(model));
    if (rank == 0) {
        double P = size, hs = t.half_steps > 0 ? t.half_steps : 1;
        double u_model = 8 * (P - 1) * (double)n * (double)k;
        double v_model = 8 * (P - 1) * (double)m * (double)k;
        printf("%-5s %2d ranks  n=%-6ld m=%-6ld k=%-3ld %s  %7.4f s/iter (in comm %6.4f, cpu %6.4f all ranks)  "
               "U half-step %10.0f B (model %10.0f)  V half-step %10.0f B (model %10.0f)  "
               "redistribution %11.0f B\n",
               argv[1], size, n, m, k, csr ? "nnz" : "   ", slowest / (double)iterations,
               comm_max / (double)iterations, cpu_sum / (double)iterations,
               sum.u_half_step_bytes / hs, u_model, sum.v_half_step_bytes / hs, v_model,
               sum.redistribution_bytes);
        if (csr) printf("      (nnz = %ld)\n", total_nnz);
        if (size == 1) {
            /* The baseline: the single-process fit of the same problem. */
            wlra_model *single = NULL;
            wlra_create((size_t)k, &single);
            wlra_set_option(single, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
            wlra_set_option(single, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
            wlra_set_option(single, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
            wlra_set_option(single, WLRA_OPTION_MAX_ITERATIONS, (double)iterations);
            wlra_set_option(single, WLRA_OPTION_TOLERANCE, 0);
            wlra_set_option(single, WLRA_OPTION_RIDGE, 0.1);
            wlra_set_option(single, WLRA_OPTION_THREADS, 1);
            double s0 = MPI_Wtime();
            if (csr)
                wlra_fit_csr(single, (size_t)n, (size_t)m, ptr, idx, mv, wv, 0.0, 1.0);
            else
                wlra_fit(single, (size_t)n, (size_t)m, mv, (size_t)m, wv, (size_t)m, WLRA_ROW_MAJOR);
            double base = (MPI_Wtime() - s0) / (double)iterations;
            printf("      baseline wlra_fit: %.4f s/iter; 1 rank / wlra_fit = %.2f\n", base,
                   slowest / (double)iterations / base);
            wlra_destroy(single);
        }
    }
    wlra_destroy(model);
    free(a);
    free(b);
    free(mv);
    free(wv);
    free(ptr);
    free(idx);
    MPI_Finalize();
    return status == WLRA_OK ? 0 : 1;
}
