/* Every function of the wlra C ABI, both layouts, padded leading dimensions,
 * and every status code a caller can provoke. Plain C99, read like a user's
 * program. Prints "N passed, N failed" and exits non-zero on any failure. */
#include "check.h"
#include "planted.h"
#include "wlra.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


enum { N = 60, M = 40, K = 3 };

static wlra_model *new_model(size_t rank) {
    wlra_model *model = NULL;
    EXPECT_STATUS(wlra_create(rank, &model), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_TOLERANCE, 1e-14), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 300), WLRA_OK);
    return model;
}

/* Weights in [0.1, 1], deterministic. */
static void fill_weights(double *w, size_t count) {
    rng_t r = { 12345 };
    for (size_t i = 0; i < count; i++) w[i] = 0.1 + 0.9 * rng_uniform(&r);
}

static void test_version_and_messages(void) {
    const char *v = wlra_version();
    CHECK(v != NULL && v[0] == '1' && v[1] == '.', "version %s", v ? v : "(null)");
    for (int code = WLRA_OK; code <= WLRA_ERROR_BUSY; code++) {
        const char *text = wlra_status_message(code);
        CHECK(text != NULL && text[0] != '\0', "no text for status %d", code);
    }
    CHECK(strstr(wlra_status_message(1234), "unknown") != NULL, "unknown code text");
    CHECK(wlra_last_error(NULL) != NULL, "last_error(NULL) must never be NULL");
}

/* Every option, as a binding would discover them: ids from 1 until the
 * library says no, each with its name, range and default; the default is
 * what a new model holds, and just past the top of the range is refused. */
static void test_option_info(void) {
    wlra_model *model = NULL;
    EXPECT_STATUS(wlra_create(2, &model), WLRA_OK);
    int32_t option = 1;
    const char *name = NULL;
    double min = 0, max = 0, default_value = 0, held = 0;
    for (; wlra_option_info(option, &name, &min, &max, &default_value) == WLRA_OK; option++) {
        CHECK(name != NULL && strncmp(name, "WLRA_OPTION_", 12) == 0, "option %d name", (int)option);
        CHECK(min <= default_value && default_value <= max, "%s range", name);
        EXPECT_STATUS(wlra_get_option(model, option, &held), WLRA_OK);
        CHECK(held == default_value, "%s holds %g, not its default %g", name, held, default_value);
        EXPECT_STATUS(wlra_set_option(model, option, nextafter(max, INFINITY)), WLRA_ERROR_INVALID_ARGUMENT);
    }
    CHECK(option == WLRA_OPTION_MIXED_PRECISION + 1, "%d options described", (int)option - 1);
    /* An unknown id writes nothing; NULL outputs are not wanted. */
    name = "unchanged";
    EXPECT_STATUS(wlra_option_info(option, &name, NULL, NULL, NULL), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strcmp(name, "unchanged") == 0, "an unknown option wrote its name");
    EXPECT_STATUS(wlra_option_info(WLRA_OPTION_THREADS, NULL, NULL, &max, NULL), WLRA_OK);
    CHECK(max == 4096, "WLRA_OPTION_THREADS max %g", max);
    wlra_destroy(model);
}

static void test_create_and_options(void) {
    wlra_model *model = NULL;
    EXPECT_STATUS(wlra_create(2, NULL), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_create(0, &model), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(model == NULL, "failed create must not hand out a model");
    CHECK(strstr(wlra_last_error(NULL), "rank") != NULL, "message: %s", wlra_last_error(NULL));
    wlra_destroy(NULL);

    EXPECT_STATUS(wlra_create(2, &model), WLRA_OK);
    double value = -1;
    struct { int32_t option; double expected; } defaults[] = {
        { WLRA_OPTION_MAX_ITERATIONS, 100 }, { WLRA_OPTION_SEED, 0 },
        { WLRA_OPTION_SOLVER, WLRA_SOLVER_AUTO }, { WLRA_OPTION_INIT, WLRA_INIT_SVD },
        { WLRA_OPTION_RIDGE, 0 }, { WLRA_OPTION_THREADS, 0 }, { WLRA_OPTION_CLIP, 0 },
        { WLRA_OPTION_ADAPTIVE_ACCURACY, 1 }, { WLRA_OPTION_OVERRELAXATION, 1 },
        { WLRA_OPTION_MISSING_NAN, 0 }, { WLRA_OPTION_MIXED_PRECISION, 1 },
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        EXPECT_STATUS(wlra_get_option(model, defaults[i].option, &value), WLRA_OK);
        CHECK(value == defaults[i].expected, "option %d default %g", (int)defaults[i].option, value);
    }
    EXPECT_STATUS(wlra_get_option(model, WLRA_OPTION_TOLERANCE, NULL), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_get_option(NULL, WLRA_OPTION_TOLERANCE, &value), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_set_option(NULL, WLRA_OPTION_SEED, 1), WLRA_ERROR_NULL_POINTER);

    /* Bad values leave the option as it was. */
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 7), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 2.5), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, -1), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, NAN), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "WLRA_OPTION_MAX_ITERATIONS") != NULL, "message: %s",
          wlra_last_error(model));
    EXPECT_STATUS(wlra_get_option(model, WLRA_OPTION_MAX_ITERATIONS, &value), WLRA_OK);
    CHECK(value == 7, "max iterations changed to %g by a failed set", value);
    EXPECT_STATUS(wlra_set_option(model, 99, 1), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_get_option(model, 99, &value), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_TOLERANCE, -1e-3), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_TOLERANCE, INFINITY), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_SOLVER, 4), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_INIT, -1), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_RIDGE, -0.5), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_SKETCH_SIZE_FACTOR, 0.5), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_REGRESSION_TOLERANCE, 0), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_THREADS, 1.5), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_CLIP, -2), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_OVERRELAXATION, 2), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_OVERRELAXATION, 0), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "WLRA_OPTION_OVERRELAXATION") != NULL, "message: %s",
          wlra_last_error(model));
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_OVERRELAXATION, 1.5), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_SEED, 42), WLRA_OK);
    EXPECT_STATUS(wlra_get_option(model, WLRA_OPTION_SEED, &value), WLRA_OK);
    CHECK(value == 42, "seed %g", value);

    /* Nothing to read before a fit. */
    double u[N * K];
    EXPECT_STATUS(wlra_get_factors(model, u, K, NULL, K, WLRA_ROW_MAJOR), WLRA_ERROR_NOT_FITTED);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &value), WLRA_ERROR_NOT_FITTED);
    wlra_destroy(model);
}

/* M and W stored row-major with padding (ld = M + 3) or column-major (ld = N + 2);
 * the padding holds NaN, which the library must never read. */
static void store(const double *rowmajor, double *dst, int32_t layout, size_t ld) {
    size_t total = layout == WLRA_ROW_MAJOR ? N * ld : M * ld;
    for (size_t i = 0; i < total; i++) dst[i] = NAN;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < M; j++) {
            double x = rowmajor[i * M + j];
            if (layout == WLRA_ROW_MAJOR) dst[i * ld + j] = x; else dst[j * ld + i] = x;
        }
}

static void test_fit_both_layouts(const double *truth, const double *weights) {
    static double m_buf[(N + 8) * (M + 8)], w_buf[(N + 8) * (M + 8)];
    double u_rows[N * K], v_rows[M * K], first_u[N * K];
    int32_t layouts[2] = { WLRA_ROW_MAJOR, WLRA_COL_MAJOR };
    for (int l = 0; l < 2; l++) {
        int32_t layout = layouts[l];
        size_t ld = layout == WLRA_ROW_MAJOR ? M + 3 : N + 2;
        store(truth, m_buf, layout, ld);
        store(weights, w_buf, layout, ld);
        wlra_model *model = new_model(K);
        EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT), WLRA_OK);
        EXPECT_STATUS(wlra_fit(model, N, M, m_buf, ld, w_buf, ld, layout), WLRA_OK);

        /* Read back in the other layout with padded leading dims too. */
        size_t ldu = N + 5, ldv = M + 1;
        double u_cols[(N + 5) * K], v_cols[(M + 1) * K];
        EXPECT_STATUS(wlra_get_factors(model, u_cols, ldu, v_cols, ldv, WLRA_COL_MAJOR), WLRA_OK);
        EXPECT_STATUS(wlra_get_factors(model, u_rows, K, v_rows, K, WLRA_ROW_MAJOR), WLRA_OK);
        int same = 1;
        for (size_t i = 0; i < N; i++)
            for (size_t d = 0; d < K; d++) same &= u_cols[d * ldu + i] == u_rows[i * K + d];
        for (size_t j = 0; j < M; j++)
            for (size_t d = 0; d < K; d++) same &= v_cols[d * ldv + j] == v_rows[j * K + d];
        CHECK(same, "row- and column-major copies of the factors differ");
        double err = relative_error(u_rows, v_rows, truth, N, M, K);
        CHECK(err <= 1e-8, "layout %d: relative error %g", (int)layout, err);
        if (l == 0) memcpy(first_u, u_rows, sizeof first_u);

        double value;
        EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_ITERATIONS, &value), WLRA_OK);
        CHECK(value >= 1 && value <= 300, "iterations %g", value);
        EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_CONVERGED, &value), WLRA_OK);
        CHECK(value == 1, "converged %g", value);
        EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &value), WLRA_OK);
        CHECK(value >= 0 && value < 1e-12, "objective %g", value);
        EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_ELAPSED_SECONDS, &value), WLRA_OK);
        CHECK(value >= 0 && value < 60, "elapsed %g", value);
        EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_SOLVER_USED, &value), WLRA_OK);
        CHECK(value == WLRA_SOLVER_EXACT, "solver used %g", value);
        EXPECT_STATUS(wlra_get_info(model, 77, &value), WLRA_ERROR_INVALID_ARGUMENT);
        EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, NULL), WLRA_ERROR_NULL_POINTER);
        EXPECT_STATUS(wlra_get_info(NULL, WLRA_INFO_OBJECTIVE, &value), WLRA_ERROR_NULL_POINTER);

        /* Either output may be NULL; a short ld is refused before anything is written. */
        EXPECT_STATUS(wlra_get_factors(model, NULL, 0, v_rows, K, WLRA_ROW_MAJOR), WLRA_OK);
        EXPECT_STATUS(wlra_get_factors(model, u_rows, K - 1, v_rows, K, WLRA_ROW_MAJOR),
                      WLRA_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(wlra_last_error(model), "ld_u") != NULL, "message: %s", wlra_last_error(model));
        EXPECT_STATUS(wlra_get_factors(model, u_rows, N - 1, NULL, 0, WLRA_COL_MAJOR),
                      WLRA_ERROR_INVALID_ARGUMENT);
        EXPECT_STATUS(wlra_get_factors(model, u_rows, K, v_rows, K, 7), WLRA_ERROR_INVALID_ARGUMENT);
        EXPECT_STATUS(wlra_get_factors(NULL, u_rows, K, v_rows, K, WLRA_ROW_MAJOR), WLRA_ERROR_NULL_POINTER);
        wlra_destroy(model);
    }
}

static void test_bad_fits_change_nothing(const double *truth, const double *weights) {
    static double m[N * M], w[N * M];
    memcpy(m, truth, sizeof m);
    memcpy(w, weights, sizeof w);
    wlra_model *model = new_model(K);
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_OK);
    double u_before[N * K], v_before[M * K], u_after[N * K], v_after[M * K], obj_before, obj_after;
    EXPECT_STATUS(wlra_get_factors(model, u_before, K, v_before, K, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &obj_before), WLRA_OK);

    EXPECT_STATUS(wlra_fit(NULL, N, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_fit(model, N, M, NULL, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_fit(model, 0, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_fit(model, N, M, m, M - 1, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "ld_m = 39 is smaller than n_cols = 40") != NULL,
          "message: %s", wlra_last_error(model));
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M - 2, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "ld_w") != NULL, "message: %s", wlra_last_error(model));
    EXPECT_STATUS(wlra_fit(model, N, M, m, N - 1, w, N, WLRA_COL_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "ld_m = 59 is smaller than n_rows = 60 for WLRA_COL_MAJOR") != NULL,
          "message: %s", wlra_last_error(model));
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M, 0), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_fit(model, N, M, m, (size_t)-1, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    wlra_model *too_big = new_model(5);
    EXPECT_STATUS(wlra_fit(too_big, 4, 6, m, 6, NULL, 0, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(too_big), "rank = 5 exceeds") != NULL, "message: %s", wlra_last_error(too_big));
    wlra_destroy(too_big);

    m[7 * M + 3] = NAN;
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_NON_FINITE_INPUT);
    CHECK(strstr(wlra_last_error(model), "M[7, 3]") != NULL, "message: %s", wlra_last_error(model));
    m[7 * M + 3] = truth[7 * M + 3];
    w[2 * M + 5] = INFINITY;
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_NON_FINITE_INPUT);
    w[2 * M + 5] = -0.25;
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_NEGATIVE_WEIGHT);
    CHECK(strstr(wlra_last_error(model), "W[2, 5] = -0.25") != NULL, "message: %s", wlra_last_error(model));
    w[2 * M + 5] = weights[2 * M + 5];
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_GIVEN), WLRA_OK);
    EXPECT_STATUS(wlra_fit(model, N, M, m, M, w, M, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "wlra_set_factors") != NULL, "message: %s", wlra_last_error(model));

    EXPECT_STATUS(wlra_get_factors(model, u_after, K, v_after, K, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &obj_after), WLRA_OK);
    CHECK(memcmp(u_before, u_after, sizeof u_after) == 0 && memcmp(v_before, v_after, sizeof v_after) == 0,
          "a failed fit changed the factors");
    CHECK(obj_before == obj_after, "a failed fit changed the objective");
    CHECK(wlra_last_error(NULL)[0] != '\0', "the thread's last error is empty");
    wlra_destroy(model);
}

static void test_warm_start(const double *truth, const double *weights) {
    wlra_model *model = new_model(K);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    double u[N * K], v[M * K], bad[M * K], iterations;
    EXPECT_STATUS(wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR), WLRA_OK);

    wlra_model *warm = new_model(K);
    EXPECT_STATUS(wlra_set_factors(warm, N, M, NULL, K, v, K, WLRA_ROW_MAJOR), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_set_factors(warm, N, M, u, K - 1, v, K, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    memcpy(bad, v, sizeof bad);
    bad[4] = NAN;
    EXPECT_STATUS(wlra_set_factors(warm, N, M, u, K, bad, K, WLRA_ROW_MAJOR), WLRA_ERROR_NON_FINITE_INPUT);
    EXPECT_STATUS(wlra_set_factors(warm, N, M, u, K, v, K, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(warm, WLRA_OPTION_INIT, WLRA_INIT_GIVEN), WLRA_OK);
    /* Given factors fix the shape: a transposed problem is refused. */
    EXPECT_STATUS(wlra_fit(warm, M, N, truth, N, NULL, 0, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_fit(warm, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(warm, WLRA_INFO_ITERATIONS, &iterations), WLRA_OK);
    CHECK(iterations <= 3, "a warm start from the solution took %g iterations", iterations);
    EXPECT_STATUS(wlra_get_factors(warm, u, K, v, K, WLRA_ROW_MAJOR), WLRA_OK);
    double err = relative_error(u, v, truth, N, M, K);
    CHECK(err <= 1e-8, "warm start error %g", err);
    wlra_destroy(warm);
    wlra_destroy(model);
}

typedef struct { size_t calls; size_t cancel_at; int ordered; double last; } progress_t;

static int32_t on_progress(void *user_data, size_t iteration, double objective) {
    progress_t *p = user_data;
    p->calls++;
    p->ordered &= iteration == p->calls && objective >= 0.0;
    p->last = objective;
    return p->cancel_at != 0 && iteration >= p->cancel_at;
}

static void test_progress_and_cancel(const double *truth, const double *weights) {
    progress_t p = { 0, 0, 1, 0.0 };
    wlra_model *model = new_model(K);
    EXPECT_STATUS(wlra_set_progress(NULL, on_progress, &p), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_set_progress(model, on_progress, &p), WLRA_OK);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    double iterations, objective;
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &objective), WLRA_OK);
    CHECK(p.ordered && (double)p.calls == iterations, "%zu calls for %g iterations", p.calls, iterations);
    CHECK(p.last == objective, "last reported %g, final %g", p.last, objective);

    /* Cancel after 2 iterations: those factors stay, and equal a 2-iteration fit. */
    p = (progress_t){ 0, 2, 1, 0.0 };
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_INIT, WLRA_INIT_RANDOM), WLRA_OK);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_ERROR_CANCELLED);
    CHECK(strstr(wlra_last_error(model), "cancel") != NULL, "message: %s", wlra_last_error(model));
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations), WLRA_OK);
    CHECK(iterations == 2 && p.calls == 2, "cancelled after %g iterations, %zu calls", iterations, p.calls);
    double u[N * K], v[M * K], u2[N * K], v2[M * K];
    EXPECT_STATUS(wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR), WLRA_OK);

    wlra_model *two = new_model(K);
    EXPECT_STATUS(wlra_set_option(two, WLRA_OPTION_INIT, WLRA_INIT_RANDOM), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(two, WLRA_OPTION_MAX_ITERATIONS, 2), WLRA_OK);
    EXPECT_STATUS(wlra_fit(two, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_factors(two, u2, K, v2, K, WLRA_ROW_MAJOR), WLRA_OK);
    CHECK(memcmp(u, u2, sizeof u) == 0 && memcmp(v, v2, sizeof v) == 0,
          "cancelled factors differ from a 2-iteration fit");
    EXPECT_STATUS(wlra_get_info(two, WLRA_INFO_CONVERGED, &objective), WLRA_OK);
    CHECK(objective == 0, "2 iterations should not meet tolerance 1e-14");

    /* Removing the callback: the fit runs to the end again. */
    EXPECT_STATUS(wlra_set_progress(model, NULL, NULL), WLRA_OK);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    wlra_destroy(two);
    wlra_destroy(model);
}

static void test_unit_weights_and_threads(const double *truth) {
    double u1[N * K], v1[M * K], u2[N * K], v2[M * K];
    static double w[N * M];
    fill_weights(w, N * M);
    for (int threads = 1; threads <= 2; threads++) {
        wlra_model *model = new_model(K);
        EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_THREADS, threads), WLRA_OK);
        EXPECT_STATUS(wlra_fit(model, N, M, truth, M, w, M, WLRA_ROW_MAJOR), WLRA_OK);
        EXPECT_STATUS(wlra_get_factors(model, threads == 1 ? u1 : u2, K, threads == 1 ? v1 : v2, K,
                                       WLRA_ROW_MAJOR), WLRA_OK);
        wlra_destroy(model);
    }
    CHECK(memcmp(u1, u2, sizeof u1) == 0 && memcmp(v1, v2, sizeof v1) == 0,
          "1 and 2 threads gave different bits");

    wlra_model *model = new_model(K);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, NULL, 0, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_factors(model, u1, K, v1, K, WLRA_ROW_MAJOR), WLRA_OK);
    double err = relative_error(u1, v1, truth, N, M, K);
    CHECK(err <= 1e-10, "unit weights (w = NULL): relative error %g", err);
    wlra_destroy(model);
}

/* wlra_fit_csr: a 4 x 5 pattern, then every malformed form of it. */
static void test_sparse(void) {
    int64_t row_ptr[5] = { 0, 2, 3, 3, 5 };
    int64_t col_idx[5] = { 0, 3, 1, 2, 4 };
    double m[5] = { 1.0, 2.0, 3.0, -1.0, 0.5 }, w[5] = { 1.0, 2.0, 0.5, 1.0, 3.0 };
    double u[4], v[5], objective;
    wlra_model *model = new_model(1);
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_OK);
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, NULL, 0.25, 0.0), WLRA_OK);
    EXPECT_STATUS(wlra_get_factors(model, u, 1, v, 1, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &objective), WLRA_OK);
    CHECK(objective >= 0.0 && objective == objective, "sparse objective %g", objective);

    EXPECT_STATUS(wlra_fit_csr(NULL, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, NULL, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, NULL, m, w, 0.0, 1.0), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_fit_csr(model, 0, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_INVALID_ARGUMENT);
    row_ptr[0] = 1;
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_INVALID_ARGUMENT);
    row_ptr[0] = 0;
    row_ptr[2] = 1; /* decreasing: row 1 ends before it starts */
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "row 1") != NULL, "message: %s", wlra_last_error(model));
    row_ptr[2] = 3;
    col_idx[1] = 0; /* duplicate column in row 0 */
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "row 0") != NULL, "message: %s", wlra_last_error(model));
    col_idx[1] = 3;
    col_idx[4] = 1; /* unsorted in row 3 */
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "row 3") != NULL, "message: %s", wlra_last_error(model));
    col_idx[4] = 5; /* out of range */
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(wlra_last_error(model), "row 3: col_idx[4] = 5 is out of range") != NULL, "message: %s",
          wlra_last_error(model));
    col_idx[4] = 4;
    m[2] = NAN;
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_NON_FINITE_INPUT);
    m[2] = 3.0;
    w[3] = -1.0;
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_ERROR_NEGATIVE_WEIGHT);
    w[3] = 1.0;
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, 0.0, -1.0), WLRA_ERROR_NEGATIVE_WEIGHT);
    EXPECT_STATUS(wlra_fit_csr(model, 4, 5, row_ptr, col_idx, m, w, INFINITY, 1.0), WLRA_ERROR_NON_FINITE_INPUT);

    /* None of the failures touched the last good fit. */
    double u2[4], v2[5];
    EXPECT_STATUS(wlra_get_factors(model, u2, 1, v2, 1, WLRA_ROW_MAJOR), WLRA_OK);
    CHECK(memcmp(u, u2, sizeof u) == 0 && memcmp(v, v2, sizeof v) == 0, "a failed sparse fit changed the factors");
    wlra_destroy(model);
}

/* Mixed precision through wlra_fit_csr (WLRA_OPTION_MIXED_PRECISION): an
 * implicit-feedback pattern at rank 8, fitted to convergence with the
 * option at its default and at 0, ends at one objective; with 0 no
 * half-step reads float32 rows, and with 1 never all of them (the last
 * iterations are float64). */
enum { IMPLICIT_N = 80, IMPLICIT_M = 50, IMPLICIT_K = 8 };

static void fit_implicit(double mixed, double *objective, double *iterations, double *narrow) {
    static int64_t row_ptr[IMPLICIT_N + 1], col_idx[IMPLICIT_N * IMPLICIT_M];
    static double m[IMPLICIT_N * IMPLICIT_M], w[IMPLICIT_N * IMPLICIT_M];
    rng_t r = { 2909 };
    int64_t p = 0;
    for (int64_t i = 0; i < IMPLICIT_N; i++) {
        row_ptr[i] = p;
        for (int64_t j = 0; j < IMPLICIT_M; j++) {
            if (rng_uniform(&r) < 0.15 || (i + j) % 9 == 0) {
                col_idx[p] = j;
                m[p] = 1.0;
                w[p] = 1.0 + 10.0 * floor(1.0 / (0.02 + rng_uniform(&r)));
                p++;
            }
        }
    }
    row_ptr[IMPLICIT_N] = p;
    wlra_model *model = new_model(IMPLICIT_K);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_TOLERANCE, 1e-13), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 5000), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_SHARED_PCG), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MIXED_PRECISION, mixed), WLRA_OK);
    EXPECT_STATUS(wlra_fit_csr(model, IMPLICIT_N, IMPLICIT_M, row_ptr, col_idx, m, w, 0.0, 1.0), WLRA_OK);
    double converged = 0;
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_CONVERGED, &converged), WLRA_OK);
    CHECK(converged == 1, "the implicit-feedback fit (mixed precision %g) did not converge", mixed);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, objective), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_ITERATIONS, iterations), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_NARROW_HALF_STEPS, narrow), WLRA_OK);
    wlra_destroy(model);
}

static void test_mixed_precision_csr(void) {
    double mixed, wide, iterations, wide_iterations, narrow_mixed, narrow_wide;
    fit_implicit(1.0, &mixed, &iterations, &narrow_mixed);
    fit_implicit(0.0, &wide, &wide_iterations, &narrow_wide);
    CHECK(fabs(mixed - wide) <= 1e-10 * wide, "mixed %.15g, float64 %.15g", mixed, wide);
    CHECK(narrow_wide == 0, "%g half-steps read float32 rows with the option off", narrow_wide);
    CHECK(narrow_mixed >= 0 && narrow_mixed < 2 * iterations, "%g narrow half-steps", narrow_mixed);
}

/* Offsets: the planted matrix plus a 1^T + 1 b^T, fitted with both; the
 * model's values through wlra_predict, its parts through wlra_get_offsets,
 * and a new row through wlra_transform_with_offsets. */
static void test_offsets(const double *truth, const double *weights) {
    static double shifted[N * M];
    double a_true[N], b_true[M];
    for (size_t i = 0; i < N; i++) a_true[i] = 3.0 + 0.1 * (double)i;
    for (size_t j = 0; j < M; j++) b_true[j] = -2.0 + 0.05 * (double)j;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < M; j++) shifted[i * M + j] = truth[i * M + j] + a_true[i] + b_true[j];
    wlra_model *model = new_model(K);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_OFFSETS, WLRA_OFFSETS_BOTH), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_OFFSETS, 4), WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_TOLERANCE, 1e-15), WLRA_OK);
    EXPECT_STATUS(wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 3000), WLRA_OK);
    EXPECT_STATUS(wlra_get_offsets(model, NULL, NULL), WLRA_ERROR_NOT_FITTED);
    EXPECT_STATUS(wlra_fit(model, N, M, shifted, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);

    /* Every entry through wlra_predict against the planted matrix. */
    static int64_t rows[N * M], cols[N * M];
    static double values[N * M];
    for (size_t p = 0; p < N * M; p++) {
        rows[p] = (int64_t)(p / M);
        cols[p] = (int64_t)(p % M);
    }
    EXPECT_STATUS(wlra_predict(model, N * M, rows, cols, values), WLRA_OK);
    double err = 0.0, size = 0.0;
    for (size_t p = 0; p < N * M; p++) {
        err += (values[p] - shifted[p]) * (values[p] - shifted[p]);
        size += shifted[p] * shifted[p];
    }
    CHECK(sqrt(err / size) <= 1e-8, "offsets: relative error %g", sqrt(err / size));

    /* The gauge: sum(b) = 0, a the model's row means. */
    double a[N], b[M], b_sum = 0.0;
    EXPECT_STATUS(wlra_get_offsets(model, a, b), WLRA_OK);
    for (size_t j = 0; j < M; j++) b_sum += b[j];
    CHECK(fabs(b_sum) <= 1e-9, "sum of column offsets %g", b_sum);
    double row0 = 0.0;
    for (size_t j = 0; j < M; j++) row0 += shifted[j] / M;
    CHECK(fabs(a[0] - row0) <= 1e-8 * fabs(row0), "a[0] = %g, row mean %g", a[0], row0);

    /* A new row: the first training row again, its offset solved with it. */
    double u_new[K], a_new = NAN;
    EXPECT_STATUS(wlra_transform_with_offsets(model, 1, shifted, M, weights, M, u_new, K, &a_new, WLRA_ROW_MAJOR),
                  WLRA_OK);
    CHECK(fabs(a_new - a[0]) <= 1e-8 * fabs(a[0]), "fold-in a %g against %g", a_new, a[0]);
    rows[0] = N; /* out of range: nothing written */
    values[0] = 7.0;
    EXPECT_STATUS(wlra_predict(model, 1, rows, cols, values), WLRA_ERROR_INVALID_ARGUMENT);
    CHECK(values[0] == 7.0, "a refused predict wrote %g", values[0]);
    EXPECT_STATUS(wlra_predict(model, 1, NULL, cols, values), WLRA_ERROR_NULL_POINTER);
    wlra_destroy(model);
}

/* A saved fit loaded into a fresh model (wlra_set_fitted): its factors and
 * row offsets, read out column-major as a program saving them would, give
 * the same fold-in and predictions; no objective; a bad load changes
 * nothing. */
static void test_set_fitted(const double *truth, const double *weights) {
    wlra_model *fitted = new_model(K);
    EXPECT_STATUS(wlra_set_option(fitted, WLRA_OPTION_OFFSETS, WLRA_OFFSETS_ROWS), WLRA_OK);
    EXPECT_STATUS(wlra_fit(fitted, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    static double u[N * K], v[M * K], a[N];
    EXPECT_STATUS(wlra_get_factors(fitted, u, N, v, M, WLRA_COL_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_offsets(fitted, a, NULL), WLRA_OK);

    wlra_model *loaded = new_model(K);
    EXPECT_STATUS(wlra_get_offsets(loaded, a, NULL), WLRA_ERROR_NOT_FITTED);
    EXPECT_STATUS(wlra_set_fitted(loaded, N, M, u, N, v, M, a, NULL, WLRA_COL_MAJOR), WLRA_OK);
    double value = NAN;
    EXPECT_STATUS(wlra_get_info(loaded, WLRA_INFO_ITERATIONS, &value), WLRA_OK);
    CHECK(value == 0.0, "a loaded fit has %g iterations", value);
    EXPECT_STATUS(wlra_get_info(loaded, WLRA_INFO_OBJECTIVE, &value), WLRA_ERROR_INVALID_ARGUMENT);

    /* Two new rows (the first training rows): the same fold-in. */
    double u_fit[2 * K], u_loaded[2 * K], a_fit[2], a_loaded[2];
    EXPECT_STATUS(wlra_transform_with_offsets(fitted, 2, truth, M, weights, M, u_fit, K, a_fit, WLRA_ROW_MAJOR),
                  WLRA_OK);
    EXPECT_STATUS(wlra_transform_with_offsets(loaded, 2, truth, M, weights, M, u_loaded, K, a_loaded,
                                              WLRA_ROW_MAJOR),
                  WLRA_OK);
    for (size_t p = 0; p < 2 * K; p++)
        CHECK(fabs(u_fit[p] - u_loaded[p]) <= 1e-12 * fabs(u_fit[p]) + 1e-14, "fold-in u[%zu]", p);
    for (size_t r = 0; r < 2; r++)
        CHECK(fabs(a_fit[r] - a_loaded[r]) <= 1e-12 * fabs(a_fit[r]) + 1e-14, "fold-in a[%zu]", r);
    int64_t rows[3] = { 0, 17, N - 1 }, cols[3] = { 0, 5, M - 1 };
    double p_fit[3], p_loaded[3];
    EXPECT_STATUS(wlra_predict(fitted, 3, rows, cols, p_fit), WLRA_OK);
    EXPECT_STATUS(wlra_predict(loaded, 3, rows, cols, p_loaded), WLRA_OK);
    CHECK(memcmp(p_fit, p_loaded, sizeof p_fit) == 0, "predictions of the loaded fit differ");

    /* A NaN in V: refused, the loaded fit stays. */
    double v_first = v[0];
    v[0] = NAN;
    EXPECT_STATUS(wlra_set_fitted(loaded, N, M, u, N, v, M, a, NULL, WLRA_COL_MAJOR), WLRA_ERROR_NON_FINITE_INPUT);
    EXPECT_STATUS(wlra_set_fitted(loaded, N, M, NULL, N, v, M, a, NULL, WLRA_COL_MAJOR), WLRA_ERROR_NULL_POINTER);
    EXPECT_STATUS(wlra_predict(loaded, 3, rows, cols, p_loaded), WLRA_OK);
    CHECK(memcmp(p_fit, p_loaded, sizeof p_fit) == 0, "a refused load changed the model");
    v[0] = v_first;
    wlra_destroy(fitted);
    wlra_destroy(loaded);
}

/* The canonical form (wlra_get_canonical, 1.4): orthonormal u and v,
 * descending s, u diag(s) v^T = U V^T, the largest entry of each column
 * of v positive; NOT_FITTED before a fit and nothing written. */
static void test_canonical(const double *truth, const double *weights) {
    wlra_model *model = new_model(K);
    static double u[N * K], v[M * K], cu[N * K], cv[M * K];
    double s[K] = { -1, -1, -1 };
    EXPECT_STATUS(wlra_get_canonical(model, cu, K, s, cv, K, WLRA_ROW_MAJOR), WLRA_ERROR_NOT_FITTED);
    CHECK(s[0] == -1, "s written before a fit");
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_canonical(model, cu, K, s, cv, K, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_canonical(model, cu, K - 1, s, cv, K, WLRA_ROW_MAJOR), WLRA_ERROR_INVALID_ARGUMENT);
    for (size_t a = 0; a < K; a++) {
        if (a + 1 < K) CHECK(s[a] >= s[a + 1], "s[%zu] < s[%zu]", a, a + 1);
        size_t top = 0;
        for (size_t j = 1; j < M; j++)
            if (fabs(cv[j * K + a]) > fabs(cv[top * K + a])) top = j;
        CHECK(cv[top * K + a] > 0, "column %zu of v: largest entry negative", a);
        for (size_t b = 0; b < K; b++) {
            double uu = 0, vv = 0;
            for (size_t i = 0; i < N; i++) uu += cu[i * K + a] * cu[i * K + b];
            for (size_t j = 0; j < M; j++) vv += cv[j * K + a] * cv[j * K + b];
            double want = a == b ? 1.0 : 0.0;
            CHECK(fabs(uu - want) < 1e-12 && fabs(vv - want) < 1e-12, "not orthonormal (%zu, %zu)", a, b);
        }
    }
    double worst = 0, largest = 0;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < M; j++) {
            double x = 0, y = 0;
            for (size_t c = 0; c < K; c++) {
                x += u[i * K + c] * v[j * K + c];
                y += cu[i * K + c] * s[c] * cv[j * K + c];
            }
            worst = fmax(worst, fabs(x - y));
            largest = fmax(largest, fabs(x));
        }
    CHECK(worst <= 1e-12 * largest, "u diag(s) v^T misses U V^T by %g", worst);
    wlra_destroy(model);
}

/* WLRA_INFO_DEGENERATE: a rank-K fit of a matrix of rank 1 lacks K - 1
 * components (a lower rank fits the same product); the planted rank-K
 * truth lacks none. */
static void test_degenerate(const double *truth, const double *weights) {
    static double rank_one[N * M];
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < M; j++) rank_one[i * M + j] = (double)(i + 1) * (double)(j + 1);
    double value = -1;
    wlra_model *model = new_model(K);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_DEGENERATE, &value), WLRA_ERROR_NOT_FITTED);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_DEGENERATE, &value), WLRA_OK);
    CHECK(value == 0, "the planted rank-%d fit: degenerate %g", K, value);
    EXPECT_STATUS(wlra_fit(model, N, M, rank_one, M, NULL, M, WLRA_ROW_MAJOR), WLRA_OK);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_DEGENERATE, &value), WLRA_OK);
    CHECK(value == K - 1, "a rank-%d fit of a rank-one matrix: degenerate %g", K, value);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_NARROW_HALF_STEPS + 1, &value), WLRA_ERROR_INVALID_ARGUMENT);
    wlra_destroy(model);
}

int main(void) {
    double *truth = planted_truth(N, M, K, 7);
    static double weights[N * M];
    if (!truth) return 2;
    fill_weights(weights, N * M);

    test_version_and_messages();
    test_create_and_options();
    test_option_info();
    test_fit_both_layouts(truth, weights);
    test_bad_fits_change_nothing(truth, weights);
    test_warm_start(truth, weights);
    test_progress_and_cancel(truth, weights);
    test_unit_weights_and_threads(truth);
    test_sparse();
    test_mixed_precision_csr();
    test_offsets(truth, weights);
    test_set_fitted(truth, weights);
    test_canonical(truth, weights);
    test_degenerate(truth, weights);

    free(truth);
    printf("c api: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
