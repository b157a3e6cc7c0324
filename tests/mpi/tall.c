/* Dense tall input without redistribution (issue 27, acceptance 3;
 * docs/mpi.md, "Tall dense input"): the V half-steps sum normal equations
 * formed on each rank's rows instead of receiving a column block.
 *
 *   tall check [unweighted]  6000 x 40, k = 4, weighted or W = NULL: no
 *                            redistribution, bytes per half-step as the
 *                            model says, and (rank 0) the fit equals
 *                            wlra_fit's: objective to 1e-12, U V^T to 1e-9
 *   tall big                 200,000 x 500, k = 16, 2 iterations: no
 *                            redistribution, bytes per half-step within 5 %
 *                            of the model, each rank's peak memory printed
 *                            against its share of M and W */
#include "check.h"
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
    int n, m, k, iterations, weighted;
} shape;

/* Rows [r0, r1) of a rank-k truth plus noise, row-major; weights in
 * [0.5, 1.5] (NULL when unweighted). */
static void build(shape s, int r0, int r1, double **m_out, double **w_out) {
    size_t count = (size_t)(r1 - r0) * (size_t)s.m;
    double *m = malloc(sizeof(double) * count), *w = s.weighted ? malloc(sizeof(double) * count) : NULL;
    double *b = malloc(sizeof(double) * (size_t)s.m * (size_t)s.k);
    for (int j = 0; j < s.m; j++)
        for (int d = 0; d < s.k; d++) b[(size_t)j * s.k + d] = uniform(2, (unsigned)j, (unsigned)d);
    for (int i = r0; i < r1; i++) {
        double a[64];
        for (int d = 0; d < s.k; d++) a[d] = uniform(1, (unsigned)i, (unsigned)d);
        for (int j = 0; j < s.m; j++) {
            double x = 1e-3 * uniform(3, (unsigned)i, (unsigned)j);
            for (int d = 0; d < s.k; d++) x += a[d] * b[(size_t)j * s.k + d];
            size_t e = (size_t)(i - r0) * s.m + j;
            m[e] = x;
            if (w) w[e] = 1.0 + 0.5 * uniform(4, (unsigned)i, (unsigned)j);
        }
    }
    free(b);
    *m_out = m;
    *w_out = w;
}

static void set_options(wlra_model *model, shape s) {
    wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM);
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, s.iterations);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
}

/* The single-process fit of the same problem, against the distributed one's
 * gathered U and V (rank 0 only). */
static void compare_with_wlra_fit(shape s, const double *u, const double *v, double objective) {
    double *m, *w;
    build(s, 0, s.n, &m, &w);
    wlra_model *single = NULL;
    wlra_create((size_t)s.k, &single);
    set_options(single, s);
    CHECK(wlra_fit(single, (size_t)s.n, (size_t)s.m, m, (size_t)s.m, w, (size_t)s.m,
                   WLRA_ROW_MAJOR) == WLRA_OK,
          "wlra_fit: %s", wlra_last_error(single));
    double single_objective = 0;
    wlra_get_info(single, WLRA_INFO_OBJECTIVE, &single_objective);
    double *su = malloc(sizeof(double) * (size_t)s.n * s.k), *sv = malloc(sizeof(double) * (size_t)s.m * s.k);
    wlra_get_factors(single, su, (size_t)s.k, sv, (size_t)s.k, WLRA_ROW_MAJOR);
    double gap = 0, scale = 0;
    for (int i = 0; i < s.n; i++)
        for (int j = 0; j < s.m; j++) {
            double a = 0, b = 0;
            for (int d = 0; d < s.k; d++) {
                a += u[(size_t)i * s.k + d] * v[(size_t)j * s.k + d];
                b += su[(size_t)i * s.k + d] * sv[(size_t)j * s.k + d];
            }
            gap = fmax(gap, fabs(a - b));
            scale = fmax(scale, fabs(b));
        }
    double rel = fabs(objective - single_objective) / single_objective;
    printf("  wlra_fit: objective %.17g (relative difference %.2g); largest difference of U V^T "
           "%.3g (scale %.3g)\n",
           single_objective, rel, gap, scale);
    CHECK(rel <= 1e-12, "objective differs from wlra_fit's by %.3g (relative)", rel);
    CHECK(gap <= 1e-9 * scale, "U V^T differs from wlra_fit's by %.3g", gap);
    wlra_destroy(single);
    free(su);
    free(sv);
    free(m);
    free(w);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int big = argc >= 2 && strcmp(argv[1], "big") == 0;
    int unweighted = argc >= 3 && strcmp(argv[2], "unweighted") == 0;
    shape s = big ? (shape){200000, 500, 16, 2, 1} : (shape){6000, 40, 4, 10, !unweighted};
    int r0 = (int)((long)rank * s.n / size), r1 = (int)((long)(rank + 1) * s.n / size);
    double *m, *w;
    build(s, r0, r1, &m, &w);
    wlra_model *model = NULL;
    wlra_create((size_t)s.k, &model);
    set_options(model, s);
    double t0 = MPI_Wtime();
    wlra_status status = wlra_fit_mpi(model, (int)MPI_Comm_c2f(MPI_COMM_WORLD), (size_t)s.n,
                                      (size_t)s.m, (size_t)r0, (size_t)(r1 - r0), m, (size_t)s.m,
                                      w, (size_t)s.m, WLRA_ROW_MAJOR);
    double seconds = MPI_Wtime() - t0;
    CHECK(status == WLRA_OK, "rank %d: %s", rank, wlra_last_error(model));

    wlra_traffic t, sum;
    wlra_distributed_traffic(&t);
    MPI_Reduce(&t.setup_bytes, &sum.setup_bytes, 5, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double peak_mib = usage.ru_maxrss / 1024.0, peak_max = 0;
    MPI_Reduce(&peak_mib, &peak_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);

    double *u_local = malloc(sizeof(double) * (size_t)(r1 - r0) * s.k);
    double *u = malloc(sizeof(double) * (size_t)s.n * s.k), *v = malloc(sizeof(double) * (size_t)s.m * s.k);
    wlra_get_factors(model, u_local, (size_t)s.k, v, (size_t)s.k, WLRA_ROW_MAJOR);
    int *counts = malloc(sizeof(int) * (size_t)size), *displs = malloc(sizeof(int) * (size_t)size);
    for (int r = 0; r < size; r++) {
        int a = (int)((long)r * s.n / size), b = (int)((long)(r + 1) * s.n / size);
        counts[r] = (b - a) * s.k;
        displs[r] = a * s.k;
    }
    MPI_Gatherv(u_local, (r1 - r0) * s.k, MPI_DOUBLE, u, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);

    if (rank == 0 && status == WLRA_OK) {
        double objective = 0, P = size, half_steps = t.half_steps;
        wlra_get_info(model, WLRA_INFO_OBJECTIVE, &objective);
        double k = s.k, packed = k * (k + 1) / 2;
        /* U half-step: U's rows gathered. V half-step: each rank sends the
         * other ranks' columns their normal equations (weighted: packed
         * Gram and right-hand side; unweighted: the right-hand side, plus
         * its one Gram to every rank), then V's rows are gathered. */
        double u_model = 8 * (P - 1) * s.n * k;
        double v_model = s.weighted ? 8 * (P - 1) * s.m * (packed + k) + 8 * (P - 1) * s.m * k
                                    : 8 * (P - 1) * s.m * k + 8 * P * (P - 1) * packed +
                                          8 * (P - 1) * s.m * k;
        double u_measured = sum.u_half_step_bytes / half_steps;
        double v_measured = sum.v_half_step_bytes / half_steps;
        double copy = 8.0 * (s.weighted ? 2 : 1) * (P - 1) / P * s.n * s.m;
        printf("tall %d x %d, k = %d, %s, on %d ranks: %.0f iterations, objective %.17g, %.2f s\n",
               s.n, s.m, s.k, s.weighted ? "weighted" : "W = NULL", size, half_steps, objective,
               seconds);
        printf("  redistribution bytes: %.0f (a column block copy would move about %.0f)\n",
               sum.redistribution_bytes, copy);
        printf("  bytes per U half-step: measured %.0f, model %.0f\n", u_measured, u_model);
        printf("  bytes per V half-step: measured %.0f, model %.0f\n", v_measured, v_model);
        printf("  peak memory of the largest rank: %.0f MiB; its share of M%s: %.0f MiB\n", peak_max,
               s.weighted ? " and W" : "",
               8.0 * (s.weighted ? 2 : 1) * ((double)s.n / P) * s.m / 1048576.0);
        int32_t exchange = -1;
        CHECK(wlra_distributed_exchange(&exchange) == WLRA_OK, "wlra_distributed_exchange");
        int32_t want = size > 1 ? WLRA_EXCHANGE_NORMAL_EQUATIONS : WLRA_EXCHANGE_NONE;
        printf("  exchange: %d (%s)\n", exchange,
               exchange == WLRA_EXCHANGE_NORMAL_EQUATIONS ? "normal equations summed" : "none");
        CHECK(exchange == want, "wlra_distributed_exchange: %d, expected %d", exchange, want);
        if (size > 1) {
            CHECK(sum.redistribution_bytes == 0, "M or W was redistributed (%.0f bytes)",
                  sum.redistribution_bytes);
            /* The model leaves out the 8-byte status agreements. */
            double slack = big ? 0.05 : 0.10;
            CHECK(fabs(u_measured - u_model) <= slack * u_model, "U half-step bytes %.0f, model %.0f",
                  u_measured, u_model);
            CHECK(fabs(v_measured - v_model) <= slack * v_model, "V half-step bytes %.0f, model %.0f",
                  v_measured, v_model);
        }
        if (!big) compare_with_wlra_fit(s, u, v, objective);
    }
    free(u_local);
    free(u);
    free(v);
    free(counts);
    free(displs);
    free(m);
    free(w);
    wlra_destroy(model);
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && total == 0) printf("  passed\n");
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
