/* A dense 4000 x 4000 weighted fit with every option at its default (rank
 * 16 planted plus noise of standard deviation 0.1 / sqrt(w), weights in
 * [0.1, 1]), timed through the C ABI: the same program against two builds
 * of libwlra (benches/before_after/run.sh, issue 25's acceptance 6).
 * Usage: dense [repetitions]; one line per fit. */
#include "wlra.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <math.h>
static unsigned long long s = 88172645463325252ull;
static double uni(void) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return (s >> 11) * (1.0 / 9007199254740992.0); }
static double gauss(void) { double u = uni() + 1e-300, v = uni(); return sqrt(-2 * log(u)) * cos(6.283185307179586 * v); }
int main(int argc, char **argv) {
    int n = 4000, m = 4000, k = 16;
    double *a = malloc(sizeof(double) * n * k), *b = malloc(sizeof(double) * m * k);
    double *M = malloc(sizeof(double) * (size_t)n * m), *W = malloc(sizeof(double) * (size_t)n * m);
    for (int i = 0; i < n * k; i++) a[i] = gauss();
    for (int i = 0; i < m * k; i++) b[i] = gauss();
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            double x = 0;
            for (int d = 0; d < k; d++) x += a[i * k + d] * b[j * k + d];
            W[(size_t)i * m + j] = 0.1 + 0.9 * uni();
            M[(size_t)i * m + j] = x + 0.1 * gauss() / sqrt(W[(size_t)i * m + j]);
        }
    for (int rep = 0; rep < (argc > 1 ? atoi(argv[1]) : 2); rep++) {
        wlra_model *model = NULL;
        wlra_create(k, &model);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        wlra_status st = wlra_fit(model, n, m, M, m, W, m, WLRA_ROW_MAJOR);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double it = 0, obj = 0, meth = -1;
        wlra_get_info(model, WLRA_INFO_ITERATIONS, &it);
        wlra_get_info(model, WLRA_INFO_OBJECTIVE, &obj);
        wlra_get_info(model, WLRA_INFO_METHOD_USED, &meth);
        printf("status %d: %.3f s, %.0f iterations, objective %.10e, method %g\n", st,
               (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec), it, obj, meth);
        wlra_destroy(model);
    }
    return 0;
}
