/* .Call glue between R and the wlra C ABI: one fit per call, R's
 * column-major double matrices passed by pointer (no copy), a dgCMatrix
 * transposed to CSR in O(nnz) (wlra_fit_csr), and fold-in of new rows
 * against a saved fit (wlra_set_fitted, wlra_transform_with_offsets), and the
 * canonical form of a fit's factors (wlra_get_canonical).
 * Nothing here may longjmp while the library is on the stack: R objects are allocated before the model exists, the progress
 * callback runs R code under R_tryEval and checks for Ctrl-C under
 * R_ToplevelExec; R/wlra.R raises what they caught once the fit is over. */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include <R_ext/Utils.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "wlra.h"

/* The progress callback's state: the R call `progress(iteration,
 * objective)` (R_NilValue when there is none), built once with its two
 * argument vectors, which each callback overwrites in place; whether to
 * print each iteration; what stopped the fit. */
typedef struct {
    SEXP call, iteration, objective, env;
    int verbose;
    int failed, interrupted;
} progress_ctx;

static void check_interrupt(void *unused) {
    (void)unused;
    R_CheckUserInterrupt();
}

/* Whether Ctrl-C is pending. R_CheckUserInterrupt longjmps on an
 * interrupt; R_ToplevelExec stops that jump at its own context (with no
 * R handler in reach), so the Rust frames below are never jumped over. */
static int interrupt_pending(void) {
    return !R_ToplevelExec(check_interrupt, NULL);
}

/* Installed on every fit, so Ctrl-C is noticed after every outer iteration
 * with or without an R progress function. Returns non-zero to cancel. */
static int32_t call_progress(void *user_data, size_t iteration, double objective) {
    progress_ctx *ctx = user_data;
    if (ctx->verbose) {
        Rprintf("wlra: iteration %llu: objective %.10g\n", (unsigned long long)iteration, objective);
        R_FlushConsole();
    }
    if (interrupt_pending()) {
        ctx->interrupted = 1;
        return 1;
    }
    if (isNull(ctx->call)) return 0;
    REAL(ctx->iteration)[0] = (double)iteration;
    REAL(ctx->objective)[0] = objective;
    int error = 0;
    SEXP stop = R_tryEval(ctx->call, ctx->env, &error);
    if (error) {
        ctx->failed = 1;
        return 1;
    }
    /* The R wrapper returns TRUE to cancel, FALSE to go on. */
    return TYPEOF(stop) == LGLSXP && XLENGTH(stop) == 1 && LOGICAL(stop)[0] == TRUE;
}

/* Issue 14's items, by their agreed values until the header has them. */
#ifndef WLRA_INFO_METHOD_USED
#define WLRA_INFO_METHOD_USED 7
#endif
#ifndef WLRA_INFO_STARTS
#define WLRA_INFO_STARTS 8
#endif
#ifndef WLRA_INFO_STARTS_AT_BEST
#define WLRA_INFO_STARTS_AT_BEST 9
#endif

#ifndef WLRA_INFO_ZERO_WEIGHT_LINES
#define WLRA_INFO_ZERO_WEIGHT_LINES 12
#endif
#ifndef WLRA_INFO_DEGENERATE
#define WLRA_INFO_DEGENERATE 13
#endif

/* Every library has the first N_REQUIRED_INFO items; a library without
 * the others answers WLRA_ERROR_INVALID_ARGUMENT and they stay NA. */
#define N_REQUIRED_INFO 5
#define N_INFO 12
static const int32_t INFO_ITEMS[N_INFO] = {
    WLRA_INFO_OBJECTIVE, WLRA_INFO_ITERATIONS, WLRA_INFO_CONVERGED,
    WLRA_INFO_ELAPSED_SECONDS, WLRA_INFO_SOLVER_USED,
    WLRA_INFO_METHOD_USED, WLRA_INFO_STARTS, WLRA_INFO_STARTS_AT_BEST,
    /* Invalid after a fit that held nothing out: NA then. */
    WLRA_INFO_HELD_OUT_RMSE, WLRA_INFO_HELD_OUT_ENTRIES,
    /* Rows plus columns without a positive weight (1.4): warned about. */
    WLRA_INFO_ZERO_WEIGHT_LINES,
    /* Components the fitted U V^T lacks (1.4): warned about. */
    WLRA_INFO_DEGENERATE,
};

/* The options the R side reads back after a fit (the non-convergence
 * warning, the ridge that fold-in must use, which offsets the fit has);
 * NA where the library lacks one. */
#define N_READ_OPTIONS 5
static const int32_t READ_OPTIONS[N_READ_OPTIONS] = {
    WLRA_OPTION_MAX_ITERATIONS, WLRA_OPTION_TOLERANCE, WLRA_OPTION_RIDGE, WLRA_OPTION_RIDGE_SCALING,
    WLRA_OPTION_OFFSETS,
};

/* The problem of one .Call: a dense column-major matrix (w may be NULL),
 * or, when row_ptr is not NULL, CSR arrays with the values outside them. */
typedef struct {
    size_t n_rows, n_cols;
    const double *m, *w;
    const int64_t *row_ptr, *col_idx;
    const double *m_values, *w_values;
    double m_default, w_default;
} problem;

static wlra_status fit_problem(wlra_model *model, const problem *p) {
    if (p->row_ptr != NULL)
        return wlra_fit_csr(model, p->n_rows, p->n_cols, p->row_ptr, p->col_idx, p->m_values,
                            p->w_values, p->m_default, p->w_default);
    size_t ld = p->n_rows > 0 ? p->n_rows : 1;
    return wlra_fit(model, p->n_rows, p->n_cols, p->m, ld, p->w, ld, WLRA_COL_MAJOR);
}

/* run_fit's list with status and message only: a failure found before any fit. */
static SEXP failure(int status, const char *message) {
    SEXP out = PROTECT(allocVector(VECSXP, 8));
    SET_VECTOR_ELT(out, 0, ScalarInteger(status));
    SET_VECTOR_ELT(out, 1, mkString(message));
    UNPROTECT(1);
    return out;
}

/* One fit of `p` with the options, progress callback, verbosity and start
 * of the R side. Returns list(status, message, U, V, info, options, a, b)
 * where info is c(objective, iterations, converged, elapsed, solver,
 * method, starts, starts at best, held-out RMSE, held-out entries,
 * zero-weight lines, rank deficiency),
 * options c(max_iterations, tolerance, ridge, ridge_scaling, offsets) as
 * the model had them, a and b the row and column offsets
 * (wlra_get_offsets: zeros for a side the fit does not have), and U, V,
 * info, options, a, b are meaningful for status 0 or
 * WLRA_ERROR_CANCELLED. Status -1: the R progress function failed; -2:
 * Ctrl-C cancelled the fit. */
static SEXP run_fit(const problem *p, SEXP rank_, SEXP option_ids, SEXP option_values,
                    SEXP progress, SEXP verbose, SEXP start_u, SEXP start_v) {
    size_t n_rows = p->n_rows, n_cols = p->n_cols;
    size_t rank = (size_t)asReal(rank_);

    SEXP out = PROTECT(allocVector(VECSXP, 8));
    SEXP u = allocMatrix(REALSXP, (int)n_rows, (int)rank);
    SET_VECTOR_ELT(out, 2, u);
    SEXP v = allocMatrix(REALSXP, (int)n_cols, (int)rank);
    SET_VECTOR_ELT(out, 3, v);
    SEXP info = allocVector(REALSXP, N_INFO);
    SET_VECTOR_ELT(out, 4, info);
    for (int i = 0; i < N_INFO; i++) REAL(info)[i] = NA_REAL;
    SEXP read = allocVector(REALSXP, N_READ_OPTIONS);
    SET_VECTOR_ELT(out, 5, read);
    for (int i = 0; i < N_READ_OPTIONS; i++) REAL(read)[i] = NA_REAL;
    SEXP a = allocVector(REALSXP, (R_xlen_t)n_rows);
    SET_VECTOR_ELT(out, 6, a);
    SEXP b = allocVector(REALSXP, (R_xlen_t)n_cols);
    SET_VECTOR_ELT(out, 7, b);

    progress_ctx ctx = { R_NilValue, R_NilValue, R_NilValue, R_GlobalEnv, asLogical(verbose) == TRUE, 0, 0 };
    if (!isNull(progress)) {
        ctx.iteration = PROTECT(ScalarReal(0));
        ctx.objective = PROTECT(ScalarReal(0));
        ctx.call = PROTECT(lang3(progress, ctx.iteration, ctx.objective));
    }

    /* From here on: no R allocation until the model is destroyed. */
    char message[4096] = "";
    wlra_model *model = NULL;
    wlra_status status = wlra_create(rank, &model);
    if (status == WLRA_OK) {
        for (R_xlen_t i = 0; status == WLRA_OK && i < XLENGTH(option_ids); i++)
            status = wlra_set_option(model, (int32_t)REAL(option_ids)[i], REAL(option_values)[i]);
        if (status == WLRA_OK && !isNull(start_u)) {
            SEXP udim = getAttrib(start_u, R_DimSymbol), vdim = getAttrib(start_v, R_DimSymbol);
            size_t su = (size_t)INTEGER(udim)[0], sv = (size_t)INTEGER(vdim)[0];
            status = wlra_set_factors(model, su, sv, REAL(start_u), su > 0 ? su : 1,
                                      REAL(start_v), sv > 0 ? sv : 1, WLRA_COL_MAJOR);
        }
        if (status == WLRA_OK)
            status = wlra_set_progress(model, call_progress, &ctx);
        if (status == WLRA_OK)
            status = fit_problem(model, p);
        if (status == WLRA_OK || status == WLRA_ERROR_CANCELLED) {
            /* The message of the fit (cancellation) must survive these calls. */
            if (status != WLRA_OK) snprintf(message, sizeof message, "%s", wlra_last_error(model));
            wlra_status got = wlra_get_factors(model, REAL(u), n_rows > 0 ? n_rows : 1,
                                               REAL(v), n_cols > 0 ? n_cols : 1, WLRA_COL_MAJOR);
            for (int i = 0; got == WLRA_OK && i < N_REQUIRED_INFO; i++)
                got = wlra_get_info(model, INFO_ITEMS[i], &REAL(info)[i]);
            for (int i = N_REQUIRED_INFO; got == WLRA_OK && i < N_INFO; i++) {
                double value;
                wlra_status optional = wlra_get_info(model, INFO_ITEMS[i], &value);
                if (optional == WLRA_OK)
                    REAL(info)[i] = value;
                else if (optional != WLRA_ERROR_INVALID_ARGUMENT)
                    got = optional;
            }
            for (int i = 0; got == WLRA_OK && i < N_READ_OPTIONS; i++) {
                double value;
                if (wlra_get_option(model, READ_OPTIONS[i], &value) == WLRA_OK) REAL(read)[i] = value;
            }
            if (got == WLRA_OK) got = wlra_get_offsets(model, REAL(a), REAL(b));
            if (got != WLRA_OK) {
                status = got;
                snprintf(message, sizeof message, "%s", wlra_last_error(model));
            }
        } else {
            snprintf(message, sizeof message, "%s", wlra_last_error(model));
        }
    } else {
        snprintf(message, sizeof message, "%s", wlra_last_error(NULL));
    }
    wlra_destroy(model);

    SET_VECTOR_ELT(out, 0, ScalarInteger(ctx.interrupted ? -2 : ctx.failed ? -1 : status));
    SET_VECTOR_ELT(out, 1, mkString(message));
    UNPROTECT(isNull(progress) ? 1 : 4);
    return out;
}

/* m, w: double matrices of one shape (w may be NULL); rank: double;
 * option_ids, option_values: doubles; progress: NULL or a function of two
 * arguments returning TRUE/FALSE (never signalling: see R/wlra.R);
 * verbose: a logical; start_u, start_v: NULL or double matrices. Returns
 * run_fit's list. */
SEXP wlra_r_fit(SEXP m, SEXP w, SEXP rank_, SEXP option_ids, SEXP option_values,
                SEXP progress, SEXP verbose, SEXP start_u, SEXP start_v) {
    SEXP dim = getAttrib(m, R_DimSymbol);
    problem p = {
        .n_rows = (size_t)INTEGER(dim)[0],
        .n_cols = (size_t)INTEGER(dim)[1],
        .m = REAL(m),
        .w = isNull(w) ? NULL : REAL(w),
    };
    return run_fit(&p, rank_, option_ids, option_values, progress, verbose, start_u, start_v);
}

/* The slots of a dgCMatrix M (dim, col_ptr = M@p, row_idx = M@i, m_x = M@x)
 * and w_x = W@x for a W of the same pattern (or NULL); defaults =
 * c(m_default, w_default); the rest as for wlra_r_fit. The CSC of M is the
 * CSR of t(M): a counting sort by row turns it into the CSR of M that
 * wlra_fit_csr reads, in O(nnz + n_rows) time and memory (R_alloc, freed
 * when the .Call returns). Within a row, columns come out increasing. */
SEXP wlra_r_fit_csc(SEXP dim, SEXP col_ptr, SEXP row_idx, SEXP m_x, SEXP w_x, SEXP defaults,
                    SEXP rank_, SEXP option_ids, SEXP option_values, SEXP progress,
                    SEXP verbose, SEXP start_u, SEXP start_v) {
    size_t n_rows = (size_t)INTEGER(dim)[0], n_cols = (size_t)INTEGER(dim)[1];
    const int *cp = INTEGER(col_ptr), *ri = INTEGER(row_idx);
    size_t nnz = (size_t)XLENGTH(row_idx);
    char message[256];

    /* A valid dgCMatrix has all this; a hand-made one may not, and the
     * transposition below writes where these say. */
    if ((size_t)XLENGTH(col_ptr) != n_cols + 1 || (size_t)XLENGTH(m_x) != nnz ||
        (!isNull(w_x) && (size_t)XLENGTH(w_x) != nnz)) {
        snprintf(message, sizeof message,
                 "M@p has %lld entries, M@i %lld, M@x %lld: not a valid %llu x %llu dgCMatrix",
                 (long long)XLENGTH(col_ptr), (long long)nnz, (long long)XLENGTH(m_x),
                 (unsigned long long)n_rows, (unsigned long long)n_cols);
        return failure(WLRA_ERROR_INVALID_ARGUMENT, message);
    }
    if (cp[0] != 0 || (size_t)cp[n_cols] != nnz) {
        snprintf(message, sizeof message, "M@p must start at 0 and end at %llu, the length of M@i",
                 (unsigned long long)nnz);
        return failure(WLRA_ERROR_INVALID_ARGUMENT, message);
    }
    for (size_t j = 0; j < n_cols; j++)
        if (cp[j + 1] < cp[j]) {
            snprintf(message, sizeof message, "M@p decreases at column %llu", (unsigned long long)j + 1);
            return failure(WLRA_ERROR_INVALID_ARGUMENT, message);
        }
    for (size_t k = 0; k < nnz; k++)
        if (ri[k] < 0 || (size_t)ri[k] >= n_rows) {
            snprintf(message, sizeof message, "M@i[%llu] = %d is not a row index of a %llu-row matrix",
                     (unsigned long long)k + 1, ri[k], (unsigned long long)n_rows);
            return failure(WLRA_ERROR_INVALID_ARGUMENT, message);
        }

    const double *mx = REAL(m_x), *wx = isNull(w_x) ? NULL : REAL(w_x);
    int64_t *row_ptr = (int64_t *)R_alloc(n_rows + 1, sizeof(int64_t));
    int64_t *next = (int64_t *)R_alloc(n_rows + 1, sizeof(int64_t));
    int64_t *col_idx = (int64_t *)R_alloc(nnz > 0 ? nnz : 1, sizeof(int64_t));
    double *m_values = (double *)R_alloc(nnz > 0 ? nnz : 1, sizeof(double));
    double *w_values = wx == NULL ? NULL : (double *)R_alloc(nnz > 0 ? nnz : 1, sizeof(double));

    memset(row_ptr, 0, (n_rows + 1) * sizeof(int64_t));
    for (size_t k = 0; k < nnz; k++) row_ptr[ri[k] + 1]++;
    for (size_t i = 0; i < n_rows; i++) row_ptr[i + 1] += row_ptr[i];
    memcpy(next, row_ptr, (n_rows + 1) * sizeof(int64_t));
    for (size_t j = 0; j < n_cols; j++)
        for (int k = cp[j]; k < cp[j + 1]; k++) {
            int64_t q = next[ri[k]]++;
            col_idx[q] = (int64_t)j;
            m_values[q] = mx[k];
            if (wx != NULL) w_values[q] = wx[k];
        }

    problem p = {
        .n_rows = n_rows,
        .n_cols = n_cols,
        .row_ptr = row_ptr,
        .col_idx = col_idx,
        .m_values = m_values,
        .w_values = w_values,
        .m_default = REAL(defaults)[0],
        .w_default = REAL(defaults)[1],
    };
    return run_fit(&p, rank_, option_ids, option_values, progress, verbose, start_u, start_v);
}

/* Fold-in of new rows against a saved fit: its U (n_rows x rank) and V
 * (n_cols x rank), as the library returned them, and its row and column
 * offsets a, b (R NULL: none on that side), loaded into a model with
 * wlra_set_fitted, with its ridge (option_ids, option_values:
 * WLRA_OPTION_RIDGE and _RIDGE_SCALING as the fit had them). m_rows,
 * w_rows (NULL: all 1): n_new x n_cols, no NA. Returns list(status,
 * message, U_new, a_new): the n_new x rank factor rows and the rows' own
 * offsets (zeros without row offsets), from wlra_transform_with_offsets.
 * A fit object in R is plain data (it survives saveRDS), so the model is
 * loaded here for each call: O((n_rows + n_cols) rank) on top of the
 * fold-in itself. */
SEXP wlra_r_transform(SEXP u, SEXP v, SEXP a, SEXP b, SEXP option_ids, SEXP option_values, SEXP m_rows,
                      SEXP w_rows) {
    SEXP udim = getAttrib(u, R_DimSymbol), vdim = getAttrib(v, R_DimSymbol), mdim = getAttrib(m_rows, R_DimSymbol);
    size_t n_rows = (size_t)INTEGER(udim)[0], n_cols = (size_t)INTEGER(vdim)[0], rank = (size_t)INTEGER(vdim)[1];
    size_t n_new = (size_t)INTEGER(mdim)[0];

    SEXP out = PROTECT(allocVector(VECSXP, 4));
    SEXP u_new = allocMatrix(REALSXP, (int)n_new, (int)rank);
    SET_VECTOR_ELT(out, 2, u_new);
    SEXP a_new = allocVector(REALSXP, (R_xlen_t)n_new);
    SET_VECTOR_ELT(out, 3, a_new);

    /* From here on: no R allocation until the model is destroyed. */
    char message[4096] = "";
    wlra_model *model = NULL;
    wlra_status status = wlra_create(rank, &model);
    if (status == WLRA_OK) {
        for (R_xlen_t i = 0; status == WLRA_OK && i < XLENGTH(option_ids); i++)
            status = wlra_set_option(model, (int32_t)REAL(option_ids)[i], REAL(option_values)[i]);
        if (status == WLRA_OK)
            status = wlra_set_fitted(model, n_rows, n_cols, REAL(u), n_rows > 0 ? n_rows : 1, REAL(v),
                                     n_cols > 0 ? n_cols : 1, isNull(a) ? NULL : REAL(a), isNull(b) ? NULL : REAL(b),
                                     WLRA_COL_MAJOR);
        if (status == WLRA_OK)
            status = wlra_transform_with_offsets(model, n_new, REAL(m_rows), n_new,
                                                 isNull(w_rows) ? NULL : REAL(w_rows), n_new, REAL(u_new), n_new,
                                                 REAL(a_new), WLRA_COL_MAJOR);
        if (status != WLRA_OK) snprintf(message, sizeof message, "%s", wlra_last_error(model));
    } else {
        snprintf(message, sizeof message, "%s", wlra_last_error(NULL));
    }
    wlra_destroy(model);

    SET_VECTOR_ELT(out, 0, ScalarInteger(status));
    SET_VECTOR_ELT(out, 1, mkString(message));
    UNPROTECT(1);
    return out;
}

/* The canonical form of U t(V) (wlra_get_canonical, C ABI 1.4) for U
 * (n x k) and V (m x k), loaded with wlra_set_fitted: list(status,
 * message, u, d, v), u and v column-major. */
SEXP wlra_r_canonical(SEXP u, SEXP v) {
    SEXP udim = getAttrib(u, R_DimSymbol), vdim = getAttrib(v, R_DimSymbol);
    size_t n_rows = (size_t)INTEGER(udim)[0], n_cols = (size_t)INTEGER(vdim)[0], rank = (size_t)INTEGER(vdim)[1];

    SEXP out = PROTECT(allocVector(VECSXP, 5));
    SEXP u_c = allocMatrix(REALSXP, (int)n_rows, (int)rank);
    SET_VECTOR_ELT(out, 2, u_c);
    SEXP d = allocVector(REALSXP, (R_xlen_t)rank);
    SET_VECTOR_ELT(out, 3, d);
    SEXP v_c = allocMatrix(REALSXP, (int)n_cols, (int)rank);
    SET_VECTOR_ELT(out, 4, v_c);

    /* From here on: no R allocation until the model is destroyed. */
    char message[4096] = "";
    wlra_model *model = NULL;
    wlra_status status = wlra_create(rank, &model);
    if (status == WLRA_OK) {
        size_t ld_u = n_rows > 0 ? n_rows : 1, ld_v = n_cols > 0 ? n_cols : 1;
        status = wlra_set_fitted(model, n_rows, n_cols, REAL(u), ld_u, REAL(v), ld_v, NULL, NULL, WLRA_COL_MAJOR);
        if (status == WLRA_OK)
            status = wlra_get_canonical(model, REAL(u_c), ld_u, REAL(d), REAL(v_c), ld_v, WLRA_COL_MAJOR);
        if (status != WLRA_OK) snprintf(message, sizeof message, "%s", wlra_last_error(model));
    } else {
        snprintf(message, sizeof message, "%s", wlra_last_error(NULL));
    }
    wlra_destroy(model);

    SET_VECTOR_ELT(out, 0, ScalarInteger(status));
    SET_VECTOR_ELT(out, 1, mkString(message));
    UNPROTECT(1);
    return out;
}

SEXP wlra_r_version(void) {
    return mkString(wlra_version());
}

/* An option's row of the library's table (wlra_option_info): list(name,
 * min, max, default), or NULL for an unknown id. The package types option
 * ids and choice values, never bounds. */
SEXP wlra_r_option_info(SEXP option) {
    const char *name = NULL;
    double low = 0.0, high = 0.0, value = 0.0;
    if (wlra_option_info(asInteger(option), &name, &low, &high, &value) != WLRA_OK) {
        return R_NilValue;
    }
    SEXP out = PROTECT(allocVector(VECSXP, 4));
    SEXP names = PROTECT(allocVector(STRSXP, 4));
    const char *fields[] = { "name", "min", "max", "default" };
    for (int i = 0; i < 4; i++) SET_STRING_ELT(names, i, mkChar(fields[i]));
    SET_VECTOR_ELT(out, 0, mkString(name));
    SET_VECTOR_ELT(out, 1, ScalarReal(low));
    SET_VECTOR_ELT(out, 2, ScalarReal(high));
    SET_VECTOR_ELT(out, 3, ScalarReal(value));
    setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(2);
    return out;
}

static const R_CallMethodDef CALLS[] = {
    { "wlra_r_fit", (DL_FUNC)&wlra_r_fit, 9 },
    { "wlra_r_fit_csc", (DL_FUNC)&wlra_r_fit_csc, 13 },
    { "wlra_r_transform", (DL_FUNC)&wlra_r_transform, 8 },
    { "wlra_r_canonical", (DL_FUNC)&wlra_r_canonical, 2 },
    { "wlra_r_version", (DL_FUNC)&wlra_r_version, 0 },
    { "wlra_r_option_info", (DL_FUNC)&wlra_r_option_info, 1 },
    { NULL, NULL, 0 },
};

void R_init_wlra(DllInfo *dll) {
    R_registerRoutines(dll, NULL, CALLS, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
}
