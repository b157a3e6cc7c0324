/* What a distributed model answers after its fit, on every rank, against
 * the single-process model of the same fits (every rank runs both on one
 * planted dense problem with rows and columns that carry no weight):
 *
 *   after_fit plain|offsets|scaled
 *                             (scaled: M times 2^-70 and W times 2^60, with
 *                             offsets) a fit of 3 iterations, then a warm one of 3
 *                             more (WLRA_INIT_WARM): factors, offsets,
 *                             objective, iterations, WLRA_INFO_ZERO_WEIGHT_LINES,
 *                             wlra_predict at this rank's rows, wlra_transform
 *                             and wlra_transform_with_offsets of new rows: the
 *                             same bits as wlra_fit's; wlra_get_canonical
 *                             refused on several ranks (it needs all of U),
 *                             wlra_fit's bits on one; the collective
 *                             wlra_get_canonical_mpi: wlra_fit's bits on
 *                             any number, and a bad ld_u on the last rank
 *                             refused on every rank
 *   after_fit zero-block      rows 112.. carry no weight (on 4 ranks, all of
 *                             the last rank's): its rows of U are 0, and
 *                             WLRA_INFO_DEGENERATE still counts the whole U
 *                             (0), not the rank's rows (4)
 *   after_fit warm-first      WLRA_INIT_WARM without a last fit: the SVD
 *                             start on every rank, as wlra_fit falls back
 *   after_fit fallbacks       METHOD_VARPRO with SOLVER_SKETCH: accelerated
 *                             alternation with SKETCH (the info items say
 *                             so), the bits of that fit asked for
 *   after_fit bad-warm        the last rank's model then fits its rows alone
 *                             (another V): every rank refuses the warm fit with
 *                             WLRA_ERROR_INVALID_ARGUMENT (on one rank there
 *                             is nothing to differ from: it fits) */
#include "check.h"
#include "wlra_mpi.h"
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

enum { N = 150, M = 90, K = 4, NEW = 5 };

static double value_scale = 1.0, weight_scale = 1.0;
static double data(int i, int j) {
    double s = 0.0;
    for (int d = 0; d < K; d++) s += uniform(1, i, d) * uniform(2, j, d);
    return (s + 2.0 + 1e-3 * uniform(3, i, j)) * value_scale;
}
/* Rows i % 19 == 0 and columns j % 23 == 0 carry no weight: 8 + 4 lines;
 * with zero_block, rows 112.. too. */
static int zero_block = 0;
static double weight(int i, int j) {
    if (i % 19 == 0 || j % 23 == 0 || (zero_block && i >= 112)) return 0.0;
    return (0.5 + 0.5 * (uniform(4, i, j) + 1.0)) * weight_scale;
}

static int with_offsets = 0;

static void set_options(wlra_model *model, int init, double seed) {
    wlra_set_option(model, WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING);
    wlra_set_option(model, WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT);
    wlra_set_option(model, WLRA_OPTION_INIT, init);
    wlra_set_option(model, WLRA_OPTION_SEED, seed);
    wlra_set_option(model, WLRA_OPTION_MAX_ITERATIONS, 3);
    wlra_set_option(model, WLRA_OPTION_TOLERANCE, 0);
    wlra_set_option(model, WLRA_OPTION_THREADS, 1);
    if (with_offsets) wlra_set_option(model, WLRA_OPTION_OFFSETS, WLRA_OFFSETS_BOTH);
}

/* Rows [r0, r1) of M and W, row-major. */
static void fill(int r0, int r1, double *m, double *w) {
    for (int i = r0; i < r1; i++)
        for (int j = 0; j < M; j++) {
            m[(size_t)(i - r0) * M + j] = data(i, j);
            w[(size_t)(i - r0) * M + j] = weight(i, j);
        }
}

static int same_bits(const double *a, const double *b, size_t count) {
    return memcmp(a, b, sizeof(double) * count) == 0;
}

/* Everything the distributed model answers about rows [r0, r1), against
 * the single-process model `single`. */
static void compare_models(wlra_model *model, wlra_model *single, int r0, int r1, int size) {
    int n_local = r1 - r0;
    double *u = malloc(sizeof(double) * N * K), *v = malloc(sizeof(double) * M * K);
    double *su = malloc(sizeof(double) * N * K), *sv = malloc(sizeof(double) * M * K);
    CHECK(wlra_get_factors(model, u, K, v, K, WLRA_ROW_MAJOR) == WLRA_OK, "wlra_get_factors");
    wlra_get_factors(single, su, K, sv, K, WLRA_ROW_MAJOR);
    CHECK(same_bits(u, su + (size_t)r0 * K, (size_t)n_local * K), "U's rows differ from wlra_fit's");
    CHECK(same_bits(v, sv, M * K), "V differs from wlra_fit's");

    double a[N] = {0}, b[M] = {0}, sa[N] = {0}, sb[M] = {0};
    CHECK(wlra_get_offsets(model, a, b) == WLRA_OK, "wlra_get_offsets: %s", wlra_last_error(model));
    wlra_get_offsets(single, sa, sb);
    CHECK(same_bits(a, sa + r0, (size_t)n_local) && same_bits(b, sb, M), "offsets differ from wlra_fit's");

    int32_t items[] = {WLRA_INFO_ITERATIONS, WLRA_INFO_OBJECTIVE, WLRA_INFO_ZERO_WEIGHT_LINES,
                       WLRA_INFO_DEGENERATE};
    for (int t = 0; t < 4; t++) {
        double mine = -1, theirs = -2;
        wlra_get_info(model, items[t], &mine);
        wlra_get_info(single, items[t], &theirs);
        /* The objective's row sums are added in another order than
         * wlra_fit's (docs/mpi.md): to rounding; the rest exactly. */
        double slack = items[t] == WLRA_INFO_OBJECTIVE ? 1e-12 * fabs(theirs) : 0.0;
        CHECK(fabs(mine - theirs) <= slack, "info %d: %.17g, wlra_fit's %.17g", items[t], mine, theirs);
    }
    double lines = 0, want = 0;
    for (int i = 0; i < N; i++) {
        int none = 1;
        for (int j = 0; j < M; j++) none &= weight(i, j) == 0.0;
        want += none;
    }
    for (int j = 0; j < M; j++) {
        int none = 1;
        for (int i = 0; i < N; i++) none &= weight(i, j) == 0.0;
        want += none;
    }
    wlra_get_info(model, WLRA_INFO_ZERO_WEIGHT_LINES, &lines);
    CHECK(lines == want, "WLRA_INFO_ZERO_WEIGHT_LINES = %g, the problem has %g", lines, want);
    double degenerate = -1;
    wlra_get_info(model, WLRA_INFO_DEGENERATE, &degenerate);
    CHECK(degenerate == 0, "WLRA_INFO_DEGENERATE = %g on a fit of full rank", degenerate);

    /* Predictions at this rank's rows (local indices) and every column. */
    size_t count = (size_t)n_local * M;
    int64_t *rows = malloc(sizeof(int64_t) * count), *cols = malloc(sizeof(int64_t) * count);
    int64_t *grows = malloc(sizeof(int64_t) * count);
    double *out = malloc(sizeof(double) * count), *sout = malloc(sizeof(double) * count);
    for (size_t p = 0; p < count; p++) {
        rows[p] = (int64_t)(p / M);
        grows[p] = rows[p] + r0;
        cols[p] = (int64_t)(p % M);
    }
    CHECK(wlra_predict(model, count, rows, cols, out) == WLRA_OK, "wlra_predict: %s", wlra_last_error(model));
    wlra_predict(single, count, grows, cols, sout);
    CHECK(same_bits(out, sout, count), "wlra_predict at this rank's rows differs from wlra_fit's");
    int64_t past = n_local;
    double ignored = 0;
    CHECK(wlra_predict(model, 1, &past, cols, &ignored) == WLRA_ERROR_INVALID_ARGUMENT,
          "wlra_predict past this rank's rows is not refused");

    /* Fold-in of new rows (the problem's own rows 1..NEW, reweighted). */
    double nm[NEW * M], nw[NEW * M], t[NEW * K], st[NEW * K], ta[NEW], sta[NEW];
    for (int r = 0; r < NEW; r++)
        for (int j = 0; j < M; j++) {
            nm[r * M + j] = data(r + 1, j);
            nw[r * M + j] = (0.25 + 0.5 * (uniform(9, r, j) + 1.0)) * weight_scale;
        }
    CHECK(wlra_transform(model, NEW, nm, M, nw, M, t, K, WLRA_ROW_MAJOR) == WLRA_OK,
          "wlra_transform: %s", wlra_last_error(model));
    wlra_transform(single, NEW, nm, M, nw, M, st, K, WLRA_ROW_MAJOR);
    CHECK(same_bits(t, st, NEW * K), "wlra_transform differs from wlra_fit's");
    CHECK(wlra_transform_with_offsets(model, NEW, nm, M, nw, M, t, K, ta, WLRA_ROW_MAJOR) == WLRA_OK,
          "wlra_transform_with_offsets: %s", wlra_last_error(model));
    wlra_transform_with_offsets(single, NEW, nm, M, nw, M, st, K, sta, WLRA_ROW_MAJOR);
    CHECK(same_bits(t, st, NEW * K) && same_bits(ta, sta, NEW),
          "wlra_transform_with_offsets differs from wlra_fit's");

    /* The canonical form needs every row of U. */
    double s[K], ss[K];
    wlra_status cs = wlra_get_canonical(model, u, K, s, v, K, WLRA_ROW_MAJOR);
    if (size > 1) {
        CHECK(cs == WLRA_ERROR_INVALID_ARGUMENT, "wlra_get_canonical on %d ranks: status %d", size, cs);
    } else {
        CHECK(cs == WLRA_OK, "wlra_get_canonical on 1 rank: %s", wlra_last_error(model));
        wlra_get_canonical(single, su, K, ss, sv, K, WLRA_ROW_MAJOR);
        CHECK(same_bits(s, ss, K) && same_bits(u, su, N * K) && same_bits(v, sv, M * K),
              "wlra_get_canonical on 1 rank differs from wlra_fit's");
    }
    /* The collective one gathers U: this rank's rows of wlra_fit's U_c,
     * its s and V_c, bit for bit, on any number of ranks. */
    wlra_get_canonical(single, su, K, ss, sv, K, WLRA_ROW_MAJOR);
    int comm_f = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    cs = wlra_get_canonical_mpi(model, comm_f, u, K, s, v, K, WLRA_ROW_MAJOR);
    CHECK(cs == WLRA_OK, "wlra_get_canonical_mpi: %s", wlra_last_error(model));
    CHECK(same_bits(s, ss, K) && same_bits(u, su + (size_t)r0 * K, (size_t)n_local * K) &&
              same_bits(v, sv, M * K),
          "wlra_get_canonical_mpi on %d ranks differs from wlra_fit's wlra_get_canonical", size);
    /* Bad input on the last rank only (ld_u below rank): every rank gets
     * its status, and nothing is written. */
    double before = v[0];
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    size_t ld = rank == size - 1 ? K - 1 : K;
    cs = wlra_get_canonical_mpi(model, comm_f, u, ld, s, v, K, WLRA_ROW_MAJOR);
    CHECK(cs == WLRA_ERROR_INVALID_ARGUMENT, "wlra_get_canonical_mpi, bad ld_u on the last rank: %d",
          cs);
    CHECK(same_bits(&before, v, 1), "wlra_get_canonical_mpi wrote after a refusal");
    free(u), free(v), free(su), free(sv), free(rows), free(cols), free(grows), free(out), free(sout);
}

/* VarPro and SKETCH do not distribute: what runs instead, and says so. */
static int fallbacks(int rank, int size) {
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    int comm_f = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    double *m = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
    double *w = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
    fill(r0, r1, m, w);
    wlra_model *asked = NULL, *ran = NULL;
    wlra_create(K, &asked);
    wlra_create(K, &ran);
    set_options(asked, WLRA_INIT_RANDOM, 7);
    set_options(ran, WLRA_INIT_RANDOM, 7);
    wlra_set_option(asked, WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO);
    wlra_set_option(asked, WLRA_OPTION_SOLVER, WLRA_SOLVER_SKETCH);
    wlra_set_option(ran, WLRA_OPTION_METHOD, WLRA_METHOD_ACCELERATED);
    wlra_set_option(ran, WLRA_OPTION_SOLVER, WLRA_SOLVER_SKETCH);
    wlra_model *models[2] = {asked, ran};
    for (int t = 0; t < 2; t++) {
        wlra_status s = wlra_fit_mpi(models[t], comm_f, N, M, (size_t)r0, (size_t)(r1 - r0), m, M,
                                     w, M, WLRA_ROW_MAJOR);
        CHECK(s == WLRA_OK, "rank %d: fallbacks fit %d: %s", rank, t, wlra_last_error(models[t]));
    }
    double method = -1, solver = -1;
    wlra_get_info(asked, WLRA_INFO_METHOD_USED, &method);
    wlra_get_info(asked, WLRA_INFO_SOLVER_USED, &solver);
    CHECK(method == WLRA_METHOD_ACCELERATED && solver == WLRA_SOLVER_SKETCH,
          "VARPRO + SKETCH ran method %g with solver %g", method, solver);
    double *u1 = malloc(sizeof(double) * N * K), *u2 = malloc(sizeof(double) * N * K);
    double *v1 = malloc(sizeof(double) * M * K), *v2 = malloc(sizeof(double) * M * K);
    wlra_get_factors(asked, u1, K, v1, K, WLRA_ROW_MAJOR);
    wlra_get_factors(ran, u2, K, v2, K, WLRA_ROW_MAJOR);
    CHECK(same_bits(u1, u2, (size_t)(r1 - r0) * K) && same_bits(v1, v2, M * K),
          "VARPRO + SKETCH differs from ACCELERATED + SKETCH");
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("after_fit fallbacks on %d ranks: %s\n", size,
               total == 0 ? "VARPRO + SKETCH ran ACCELERATED + SKETCH, and said so" : "FAILED");
    free(u1), free(u2), free(v1), free(v2), free(m), free(w);
    wlra_destroy(asked);
    wlra_destroy(ran);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "plain";
    with_offsets = strcmp(mode, "offsets") == 0 || strcmp(mode, "scaled") == 0;
    zero_block = strcmp(mode, "zero-block") == 0;
    if (strcmp(mode, "scaled") == 0) {
        value_scale = ldexp(1.0, -70);
        weight_scale = ldexp(1.0, 60);
    }
    int warm_first = strcmp(mode, "warm-first") == 0, bad = strcmp(mode, "bad-warm") == 0;
    if (strcmp(mode, "fallbacks") == 0) return fallbacks(rank, size);
    int r0 = (int)((long)rank * N / size), r1 = (int)((long)(rank + 1) * N / size);
    int comm_f = (int)MPI_Comm_c2f(MPI_COMM_WORLD);

    double *m = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
    double *w = malloc(sizeof(double) * (size_t)(r1 - r0) * M);
    double *gm = malloc(sizeof(double) * N * M), *gw = malloc(sizeof(double) * N * M);
    fill(r0, r1, m, w);
    fill(0, N, gm, gw);

    wlra_model *model = NULL, *single = NULL;
    wlra_create(K, &model);
    wlra_create(K, &single);
    /* The first fit (none for warm-first), then the warm one. */
    if (!warm_first) {
        set_options(model, WLRA_INIT_RANDOM, 7);
        set_options(single, WLRA_INIT_RANDOM, 7);
        wlra_status s = wlra_fit_mpi(model, comm_f, N, M, (size_t)r0, (size_t)(r1 - r0), m, M, w, M,
                                     WLRA_ROW_MAJOR);
        CHECK(s == WLRA_OK, "rank %d: the first fit: %s", rank, wlra_last_error(model));
        /* bad-warm: the last rank's model then fits its rows alone, with
         * another seed: the shapes still match, V does not. */
        if (bad && rank == size - 1 && size > 1) {
            set_options(model, WLRA_INIT_RANDOM, 8);
            s = wlra_fit(model, (size_t)(r1 - r0), M, m, M, w, M, WLRA_ROW_MAJOR);
            CHECK(s == WLRA_OK, "the last rank's own fit: %s", wlra_last_error(model));
        }
        CHECK(wlra_fit(single, N, M, gm, M, gw, M, WLRA_ROW_MAJOR) == WLRA_OK, "wlra_fit");
    }
    set_options(model, WLRA_INIT_WARM, 7);
    set_options(single, WLRA_INIT_WARM, 7);
    wlra_status s = wlra_fit_mpi(model, comm_f, N, M, (size_t)r0, (size_t)(r1 - r0), m, M, w, M,
                                 WLRA_ROW_MAJOR);
    CHECK(wlra_fit(single, N, M, gm, M, gw, M, WLRA_ROW_MAJOR) == WLRA_OK, "wlra_fit (warm)");
    if (bad && size > 1) {
        CHECK(s == WLRA_ERROR_INVALID_ARGUMENT, "rank %d: bad-warm: status %d", rank, s);
        if (rank == 0) printf("bad-warm on %d ranks: rank 0 says: %s\n", size, wlra_last_error(model));
    } else {
        CHECK(s == WLRA_OK, "rank %d: the warm fit: %s", rank, wlra_last_error(model));
        if (s == WLRA_OK) compare_models(model, single, r0, r1, size);
        if (warm_first) {
            /* The SVD start, as a fresh model with WLRA_INIT_SVD gives it. */
            wlra_model *svd = NULL;
            wlra_create(K, &svd);
            set_options(svd, WLRA_INIT_SVD, 7);
            wlra_fit_mpi(svd, comm_f, N, M, (size_t)r0, (size_t)(r1 - r0), m, M, w, M, WLRA_ROW_MAJOR);
            double *u1 = malloc(sizeof(double) * N * K), *u2 = malloc(sizeof(double) * N * K);
            wlra_get_factors(model, u1, K, NULL, K, WLRA_ROW_MAJOR);
            wlra_get_factors(svd, u2, K, NULL, K, WLRA_ROW_MAJOR);
            CHECK(same_bits(u1, u2, (size_t)(r1 - r0) * K), "warm without a last fit is not the SVD start");
            free(u1), free(u2);
            wlra_destroy(svd);
        }
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("after_fit %s on %d ranks: %s\n", mode, size, total == 0 ? "every check passed" : "FAILED");
    wlra_destroy(model);
    wlra_destroy(single);
    free(m), free(w), free(gm), free(gw);
    MPI_Finalize();
    return total == 0 ? 0 : 1;
}
