/* .Call glue between R and the wlra C ABI: one fit per call, R's
 * column-major double matrices passed by pointer (no copy). Nothing here may
 * longjmp while the library is on the stack: R objects are allocated before
 * the model exists, and the progress callback runs R code under R_tryEval. */
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>

#include <stdio.h>
#include <string.h>

#include "wlra.h"

/* The R call `progress(iteration, objective)`, built once with its two
 * argument vectors, which each callback overwrites in place. */
typedef struct {
    SEXP call, iteration, objective, env;
    int failed;
} progress_ctx;

static int32_t call_progress(void *user_data, size_t iteration, double objective) {
    progress_ctx *ctx = user_data;
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

static const int32_t INFO_ITEMS[5] = {
    WLRA_INFO_OBJECTIVE, WLRA_INFO_ITERATIONS, WLRA_INFO_CONVERGED,
    WLRA_INFO_ELAPSED_SECONDS, WLRA_INFO_SOLVER_USED,
};

/* m, w: double matrices of one shape (w may be NULL); rank: double;
 * option_ids, option_values: doubles; progress: NULL or a function of two
 * arguments returning TRUE/FALSE (never signalling: see R/wlra.R);
 * start_u, start_v: NULL or double matrices. Returns list(status, message,
 * U, V, info) where info is c(objective, iterations, converged, elapsed,
 * solver) and U, V, info are meaningful for status 0 or WLRA_ERROR_CANCELLED. */
SEXP wlra_r_fit(SEXP m, SEXP w, SEXP rank_, SEXP option_ids, SEXP option_values,
                SEXP progress, SEXP start_u, SEXP start_v) {
    SEXP dim = getAttrib(m, R_DimSymbol);
    size_t n_rows = (size_t)INTEGER(dim)[0], n_cols = (size_t)INTEGER(dim)[1];
    size_t rank = (size_t)asReal(rank_);
    size_t ld = n_rows > 0 ? n_rows : 1;

    SEXP out = PROTECT(allocVector(VECSXP, 5));
    SEXP u = allocMatrix(REALSXP, (int)n_rows, (int)rank);
    SET_VECTOR_ELT(out, 2, u);
    SEXP v = allocMatrix(REALSXP, (int)n_cols, (int)rank);
    SET_VECTOR_ELT(out, 3, v);
    SEXP info = allocVector(REALSXP, 5);
    SET_VECTOR_ELT(out, 4, info);
    for (int i = 0; i < 5; i++) REAL(info)[i] = NA_REAL;

    progress_ctx ctx = { R_NilValue, R_NilValue, R_NilValue, R_GlobalEnv, 0 };
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
        if (status == WLRA_OK && !isNull(progress))
            status = wlra_set_progress(model, call_progress, &ctx);
        if (status == WLRA_OK)
            status = wlra_fit(model, n_rows, n_cols, REAL(m), ld,
                              isNull(w) ? NULL : REAL(w), ld, WLRA_COL_MAJOR);
        if (status == WLRA_OK || status == WLRA_ERROR_CANCELLED) {
            /* The message of the fit (cancellation) must survive these calls. */
            if (status != WLRA_OK) snprintf(message, sizeof message, "%s", wlra_last_error(model));
            wlra_status got = wlra_get_factors(model, REAL(u), ld, REAL(v), n_cols > 0 ? n_cols : 1,
                                               WLRA_COL_MAJOR);
            for (int i = 0; got == WLRA_OK && i < 5; i++)
                got = wlra_get_info(model, INFO_ITEMS[i], &REAL(info)[i]);
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

    SET_VECTOR_ELT(out, 0, ScalarInteger(ctx.failed ? -1 : status));
    SET_VECTOR_ELT(out, 1, mkString(message));
    UNPROTECT(isNull(progress) ? 1 : 4);
    return out;
}

SEXP wlra_r_version(void) {
    return mkString(wlra_version());
}

static const R_CallMethodDef CALLS[] = {
    { "wlra_r_fit", (DL_FUNC)&wlra_r_fit, 8 },
    { "wlra_r_version", (DL_FUNC)&wlra_r_version, 0 },
    { NULL, NULL, 0 },
};

void R_init_wlra(DllInfo *dll) {
    R_registerRoutines(dll, NULL, CALLS, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
}
