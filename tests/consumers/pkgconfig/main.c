/* A C program built with nothing but pkg-config's flags:
 *     cc main.c $(pkg-config --cflags --libs wlra) -lm
 * It fits a planted 80 x 60 rank-3 problem with weights in [0.1, 1] and exits
 * non-zero unless ||U V^T - truth|| / ||truth|| <= 1e-8. */
#include "planted.h"
#include <wlra.h>

#include <stdio.h>

enum { N = 80, M = 60, K = 3 };

static int fail(const char *what, wlra_status status, const wlra_model *model) {
    fprintf(stderr, "%s: %s (%s)\n", what, wlra_status_message(status), wlra_last_error(model));
    return 1;
}

int main(void) {
    static double w[N * M], u[N * K], v[M * K];
    double *truth = planted_truth(N, M, K, 7);
    if (!truth) return 1;
    rng_t r = { 2024 };
    for (size_t i = 0; i < N * M; i++) w[i] = 0.1 + 0.9 * rng_uniform(&r);

    wlra_model *model = NULL;
    wlra_status s = wlra_create(K, &model);
    if (s != WLRA_OK) return fail("wlra_create", s, NULL);
    if ((s = wlra_set_option(model, WLRA_OPTION_TOLERANCE, 1e-14)) != WLRA_OK ||
        (s = wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 500)) != WLRA_OK)
        return fail("wlra_set_option", s, model);
    if ((s = wlra_fit(model, N, M, truth, M, w, M, WLRA_ROW_MAJOR)) != WLRA_OK)
        return fail("wlra_fit", s, model);
    if ((s = wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR)) != WLRA_OK)
        return fail("wlra_get_factors", s, model);
    double iterations = 0;
    wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations);
    wlra_destroy(model);

    double err = relative_error(u, v, truth, N, M, K);
    free(truth);
    printf("wlra %s from C: %dx%d rank %d, %.0f iterations, relative error %.3g\n",
           wlra_version(), N, M, K, iterations, err);
    return err <= 1e-8 ? 0 : 1;
}
