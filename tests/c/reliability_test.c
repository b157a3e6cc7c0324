/* What a busy model refuses, and sizes that would wrap (docs/reliability.md).
 * One case per run, named on the command line (tests/c_api.rs runs each as
 * its own test). Plain C99, read like a user's program: while wlra_fit runs,
 * its progress callback may not change, read, refit or destroy the model; it
 * gets WLRA_ERROR_BUSY and the fit carries on. */
#include "check.h"
#include "planted.h"
#include "wlra.h"

#include <stdio.h>
#include <string.h>


#define EXPECT_MESSAGE(text, needle)                                       \
    CHECK(strstr((text), (needle)) != NULL, "message \"%s\" lacks \"%s\"", \
          (text), (needle))

enum { N = 60, M = 40, K = 3 };

static double *truth;
static double weights[N * M];

/* What the callback tried, and the fit's own arguments for refitting. */
typedef struct {
    wlra_model *model;
    size_t calls;
    int refused;     /* every call inside the callback got the expected status */
    int failed_line; /* the first check inside the callback that did not */
} callback_state;

/* A check inside the callback (it cannot print mid-fit as nicely). */
#define REFUSED(s, cond)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            (s)->refused = 0;                                              \
            if ((s)->failed_line == 0) (s)->failed_line = __LINE__;        \
        }                                                                  \
    } while (0)

static wlra_model *new_model(void) {
    wlra_model *model = NULL;
    EXPECT_STATUS(wlra_create(K, &model), WLRA_OK);
    return model;
}

/* The fit under the callback ran to its end, with the callback on every
 * iteration, and its factors are good. */
static void check_fit_finished(wlra_model *model, wlra_status status, const callback_state *s) {
    double iterations = 0, threads = -1;
    double u[N * K], v[M * K];
    CHECK(status == WLRA_OK, "the fit returned %d (%s)", (int)status, wlra_last_error(model));
    CHECK(s->refused, "the check at line %d inside the callback failed", s->failed_line);
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_ITERATIONS, &iterations), WLRA_OK);
    CHECK(iterations >= 1 && (double)s->calls == iterations, "%zu callback calls, %g iterations",
          s->calls, iterations);
    EXPECT_STATUS(wlra_get_option(model, WLRA_OPTION_THREADS, &threads), WLRA_OK);
    CHECK(threads == 0, "WLRA_OPTION_THREADS became %g inside the fit", threads);
    EXPECT_STATUS(wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR), WLRA_OK);
    double err = relative_error(u, v, truth, N, M, K);
    CHECK(err <= 1e-6, "relative error %g", err);
}

/* Row 1: the callback removes itself (this freed the closure in use). */
static int32_t remove_itself(void *user_data, size_t iteration, double objective) {
    callback_state *s = user_data;
    (void)iteration;
    (void)objective;
    s->calls++;
    wlra_status got = wlra_set_progress(s->model, NULL, NULL);
    REFUSED(s, got == WLRA_ERROR_BUSY);
    REFUSED(s, strstr(wlra_last_error(s->model), "wlra_set_progress: the model is busy") != NULL);
    return 0;
}

static void progress_callback_removing_itself_is_busy(void) {
    wlra_model *model = new_model();
    callback_state s = { model, 0, 1, 0 };
    EXPECT_STATUS(wlra_set_progress(model, remove_itself, &s), WLRA_OK);
    check_fit_finished(model, wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), &s);
    /* After the fit the model is free again: the callback can go. */
    size_t calls = s.calls;
    EXPECT_STATUS(wlra_set_progress(model, NULL, NULL), WLRA_OK);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    CHECK(s.calls == calls, "the removed callback was called again (%zu calls)", s.calls);
    wlra_destroy(model);
}

/* Row 2: the callback changes the thread count and refits (this freed the
 * pool in use and hung). */
static int32_t change_threads_and_refit(void *user_data, size_t iteration, double objective) {
    callback_state *s = user_data;
    (void)iteration;
    (void)objective;
    s->calls++;
    REFUSED(s, wlra_set_option(s->model, WLRA_OPTION_THREADS, 2) == WLRA_ERROR_BUSY);
    REFUSED(s, strstr(wlra_last_error(s->model), "wlra_set_option: the model is busy") != NULL);
    REFUSED(s, wlra_fit(s->model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR) == WLRA_ERROR_BUSY);
    REFUSED(s, strstr(wlra_last_error(s->model), "wlra_fit: the model is busy") != NULL);
    return 0;
}

static void progress_callback_changing_threads_and_refitting_is_busy(void) {
    wlra_model *model = new_model();
    callback_state s = { model, 0, 1, 0 };
    EXPECT_STATUS(wlra_set_progress(model, change_threads_and_refit, &s), WLRA_OK);
    check_fit_finished(model, wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), &s);
    wlra_destroy(model);
}

/* Row 3: every call that changes or reads the model is refused inside the
 * callback (a refit and set_option were accepted); the calls that stay
 * allowed work, and so does a fit on another model. */
static int32_t try_everything(void *user_data, size_t iteration, double objective) {
    callback_state *s = user_data;
    wlra_model *model = s->model;
    int64_t row_ptr[3] = { 0, 1, 2 };
    int64_t col_idx[2] = { 0, 1 };
    double values[2] = { 1.0, 2.0 }, u[N * K], v[M * K], value;
    (void)objective;
    s->calls++;
    memset(u, 0, sizeof u);
    memset(v, 0, sizeof v);
    REFUSED(s, wlra_fit(model, N, M, truth, M, NULL, 0, WLRA_ROW_MAJOR) == WLRA_ERROR_BUSY);
    REFUSED(s, wlra_fit_csr(model, 2, 2, row_ptr, col_idx, values, NULL, 0, 0) == WLRA_ERROR_BUSY);
    REFUSED(s, strstr(wlra_last_error(model), "wlra_fit_csr: the model is busy") != NULL);
    REFUSED(s, wlra_set_option(model, WLRA_OPTION_SEED, 5) == WLRA_ERROR_BUSY);
    REFUSED(s, wlra_set_factors(model, N, M, u, K, v, K, WLRA_ROW_MAJOR) == WLRA_ERROR_BUSY);
    REFUSED(s, wlra_set_progress(model, NULL, NULL) == WLRA_ERROR_BUSY);
    REFUSED(s, wlra_get_option(model, WLRA_OPTION_SEED, &value) == WLRA_ERROR_BUSY);
    REFUSED(s, wlra_get_info(model, WLRA_INFO_OBJECTIVE, &value) == WLRA_ERROR_BUSY);
    REFUSED(s, wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR) == WLRA_ERROR_BUSY);
    REFUSED(s, strstr(wlra_last_error(model), "wlra_get_factors: the model is busy") != NULL);
    REFUSED(s, strstr(wlra_last_error(NULL), "wlra_get_factors: the model is busy") != NULL);
    /* Destroying the model the fit is using does nothing, and says so. */
    wlra_destroy(model);
    REFUSED(s, strstr(wlra_last_error(NULL), "wlra_destroy: the model is busy") != NULL);
    /* Still allowed: static texts, and every call on another model. */
    REFUSED(s, strcmp(wlra_status_message(WLRA_ERROR_BUSY),
                         "the model is busy: a fit is running on it") == 0);
    if (iteration == 1) {
        wlra_model *other = NULL;
        REFUSED(s, wlra_create(1, &other) == WLRA_OK);
        REFUSED(s, wlra_fit_csr(other, 2, 2, row_ptr, col_idx, values, NULL, 0, 0) == WLRA_OK);
        wlra_destroy(other);
    }
    return 0;
}

static void progress_callback_fitting_or_setting_options_is_busy(void) {
    wlra_model *model = new_model();
    callback_state s = { model, 0, 1, 0 };
    double seed = -1;
    EXPECT_STATUS(wlra_set_progress(model, try_everything, &s), WLRA_OK);
    check_fit_finished(model, wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), &s);
    EXPECT_STATUS(wlra_get_option(model, WLRA_OPTION_SEED, &seed), WLRA_OK);
    CHECK(seed == 0, "the seed became %g inside the fit", seed);
    /* The refused calls did not stick: the model still refits as before. */
    EXPECT_STATUS(wlra_set_progress(model, NULL, NULL), WLRA_OK);
    EXPECT_STATUS(wlra_fit(model, N, M, truth, M, weights, M, WLRA_ROW_MAJOR), WLRA_OK);
    wlra_destroy(model);
}

/* Row 7: n + 1 must not wrap (n_cols = SIZE_MAX gave INTERNAL). */
static void fit_csr_with_size_max_dims_is_invalid_argument(void) {
    int64_t row_ptr[3] = { 0, 1, 2 };
    int64_t col_idx[2] = { 0, 1 };
    double values[2] = { 1.0, 2.0 };
    wlra_model *model = NULL;
    EXPECT_STATUS(wlra_create(1, &model), WLRA_OK);
    EXPECT_STATUS(wlra_fit_csr(model, 2, SIZE_MAX, row_ptr, col_idx, values, NULL, 0, 0),
                  WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_MESSAGE(wlra_last_error(model), "n_cols = 18446744073709551615 is too large");
    EXPECT_STATUS(wlra_fit_csr(model, 2, SIZE_MAX - 1, row_ptr, col_idx, values, NULL, 0, 0),
                  WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_MESSAGE(wlra_last_error(model), "n_cols = 18446744073709551614 is too large");
    EXPECT_STATUS(wlra_fit_csr(model, 2, SIZE_MAX / 8, row_ptr, col_idx, values, NULL, 0, 0),
                  WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_STATUS(wlra_fit_csr(model, SIZE_MAX, 2, row_ptr, col_idx, values, NULL, 0, 0),
                  WLRA_ERROR_INVALID_ARGUMENT);
    EXPECT_MESSAGE(wlra_last_error(model), "n_rows = 18446744073709551615 is too large");
    EXPECT_STATUS(wlra_fit_csr(model, SIZE_MAX - 1, 2, row_ptr, col_idx, values, NULL, 0, 0),
                  WLRA_ERROR_INVALID_ARGUMENT);
    /* The model is untouched: never fitted, and the next good fit works. */
    double value;
    EXPECT_STATUS(wlra_get_info(model, WLRA_INFO_OBJECTIVE, &value), WLRA_ERROR_NOT_FITTED);
    EXPECT_STATUS(wlra_fit_csr(model, 2, 2, row_ptr, col_idx, values, NULL, 0, 0), WLRA_OK);
    wlra_destroy(model);
}

static const struct {
    const char *name;
    void (*run)(void);
} cases[] = {
    { "progress_callback_removing_itself_is_busy", progress_callback_removing_itself_is_busy },
    { "progress_callback_changing_threads_and_refitting_is_busy",
      progress_callback_changing_threads_and_refitting_is_busy },
    { "progress_callback_fitting_or_setting_options_is_busy",
      progress_callback_fitting_or_setting_options_is_busy },
    { "fit_csr_with_size_max_dims_is_invalid_argument", fit_csr_with_size_max_dims_is_invalid_argument },
};

int main(int argc, char **argv) {
    int ran = 0;
    truth = planted_truth(N, M, K, 11);
    if (!truth) return 2;
    rng_t r = { 777 };
    for (size_t i = 0; i < N * M; i++) weights[i] = 0.1 + 0.9 * rng_uniform(&r);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (argc < 2 || strcmp(argv[1], cases[c].name) == 0) {
            cases[c].run();
            ran++;
        }
    }
    free(truth);
    printf("reliability %s: %d passed, %d failed\n", argc < 2 ? "(all)" : argv[1], passed, failed);
    return ran > 0 && failed == 0 ? 0 : 1;
}
