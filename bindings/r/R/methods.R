# Methods of the "wlra" fit object: print, summary, fitted, residuals and
# predict, the last folding new rows in against the fit's V with its ridge
# through the C ABI: the fit (factors and offsets) loaded into a model with
# wlra_set_fitted, then wlra_transform_with_offsets (src/wlra_r.c).

# The model a 1^T + 1 b^T + U %*% t(V), with the offsets the fit has.
fitted.wlra <- function(object, ...) {
  out <- tcrossprod(object$U, object$V)
  # A matrix plus a vector recycles down the columns: a_i on row i.
  if (!is.null(object$row_offsets)) out <- out + unname(object$row_offsets)
  if (!is.null(object$col_offsets)) out <- out + rep(unname(object$col_offsets), each = nrow(out))
  out
}

# The model's entries at rows i and columns j (1-based, or names), offsets
# included: O(length(i) k), never the whole product.
model_entries <- function(object, i, j) {
  out <- rowSums(object$U[i, , drop = FALSE] * object$V[j, , drop = FALSE])
  if (!is.null(object$row_offsets)) out <- out + unname(object$row_offsets[i])
  if (!is.null(object$col_offsets)) out <- out + unname(object$col_offsets[j])
  out
}

# M - fitted(object), NA where M is NA; for a wlra_sparse() fit a sparse
# matrix of M's pattern (the residuals at the stored entries only).
residuals.wlra <- function(object, ...) {
  M <- object$data
  if (is.null(M)) stop("this wlra fit keeps no data (M) to take residuals of")
  if (is_sparse_matrix(M)) {
    col <- rep.int(seq_len(ncol(M)), diff(M@p))
    M@x <- M@x - model_entries(object, M@i + 1L, col)
    return(M)
  }
  M - fitted(object)
}

# The factor rows U (n_new x rank) of new rows `newdata` (NA: missing) with
# `weights` (NULL: 1 where observed), and with row offsets their own
# offsets a (NULL without): list(U, a). The library solves them
# (wlra_transform_with_offsets) on the fit loaded with wlra_set_fitted: the
# fit's U and V as the library returned them, its offsets, its ridge.
fold_in <- function(object, newdata, weights, call) {
  if (is_sparse_matrix(newdata) || !(is.matrix(newdata) || is.data.frame(newdata))) {
    stop(wlra_condition(2L, sprintf(paste(
      "newdata must be a matrix of new rows (NA: missing) with the fit's %d columns, got %s;",
      "entries of the fit itself are predict(fit, i = , j = )"), nrow(object$V), class(newdata)[1]), call))
  }
  if (is.data.frame(newdata)) newdata <- as.matrix(newdata)
  if (!is.double(newdata)) storage.mode(newdata) <- "double"
  if (ncol(newdata) != nrow(object$V)) {
    stop(wlra_condition(2L, sprintf("newdata has %d columns, the fit %d (ncol(M))",
                                    ncol(newdata), nrow(object$V)), call))
  }
  columns <- rownames(object$V)
  if (!is.null(columns) && !is.null(colnames(newdata)) && !identical(colnames(newdata), columns)) {
    stop(wlra_condition(2L, "colnames(newdata) differ from the fit's columns (colnames(M))", call))
  }
  if (!is.null(weights)) {
    if (is.data.frame(weights)) weights <- as.matrix(weights)
    if (!is.matrix(weights) || !is.numeric(weights) && !is.logical(weights)) {
      stop(wlra_condition(2L, "weights must be a numeric matrix of newdata's shape", call))
    }
    if (!identical(dim(weights), dim(newdata))) {
      stop(wlra_condition(2L, sprintf("weights is %d x %d but newdata is %d x %d", nrow(weights),
                                      ncol(weights), nrow(newdata), ncol(newdata)), call))
    }
    if (!is.double(weights)) storage.mode(weights) <- "double"
  }
  k <- ncol(object$V)
  with_row_offsets <- !is.null(object$row_offsets)
  if (nrow(newdata) == 0) return(list(U = matrix(0, 0, k), a = if (with_row_offsets) numeric()))
  # NA in newdata is missing (WLRA_OPTION_MISSING_NAN, read by the library).
  if (!is.null(weights)) stop_if_na_weight(weights, call, c("weights", "newdata"))
  ridge <- c(ridge = object$ridge, ridge_scaling = match(object$ridge_scaling, names(.wlra_choices$ridge_scaling)) - 1)
  ridge <- ridge[!is.na(ridge)]
  as_doubles <- function(x) if (is.null(x)) NULL else { storage.mode(x) <- "double"; unname(x) }
  out <- .Call(C_wlra_r_transform, as_doubles(object$U), as_doubles(object$V), as_doubles(object$row_offsets),
               as_doubles(object$col_offsets),
               unname(as.double(c(.wlra_options[names(ridge)], .wlra_option_missing_nan))),
               unname(as.double(c(ridge, 1))), newdata, weights)
  if (out[[1]] != 0L) stop(wlra_condition(out[[1]], one_based_message(out[[2]]), call))
  U <- out[[3]]
  rownames(U) <- rownames(newdata)
  a <- if (with_row_offsets) stats::setNames(out[[4]], rownames(newdata))
  list(U = U, a = a)
}

# predict(fit): fitted(fit); predict(fit, newdata, weights): the fitted
# values of new rows, folded in (a_r + b_j + u_r . v_j with offsets);
# predict(fit, i = , j = ): entries of the model (offsets included) at rows
# i and columns j (vectors of one length, or a two-column index matrix as
# i).
predict.wlra <- function(object, newdata = NULL, weights = NULL, i = NULL, j = NULL, ...) {
  call <- match.call()
  if (!is.null(newdata)) {
    if (!is.null(i) || !is.null(j)) stop(wlra_condition(2L, "give newdata or i and j, not both", call))
    folded <- fold_in(object, newdata, weights, call)
    out <- tcrossprod(folded$U, object$V)
    if (!is.null(folded$a)) out <- out + unname(folded$a)
    if (!is.null(object$col_offsets)) out <- out + rep(unname(object$col_offsets), each = nrow(out))
    return(out)
  }
  if (!is.null(weights)) stop(wlra_condition(2L, "weights are those of newdata, which is missing", call))
  if (is.null(i) && is.null(j)) return(fitted(object))
  if (is.null(j)) {
    if (!is.matrix(i) || ncol(i) != 2) {
      stop(wlra_condition(2L, "without j, i must be a two-column matrix of (row, column) pairs", call))
    }
    j <- i[, 2]
    i <- i[, 1]
  }
  if (is.null(i) || length(i) != length(j)) {
    stop(wlra_condition(2L, sprintf("i and j must have one length (%d and %d)", length(i), length(j)), call))
  }
  model_entries(object, i, j)
}

fit_status <- function(x) {
  if (x$converged) "converged" else "not converged"
}

# Which offsets a fit has, in words: "row and column offsets", ..., NULL
# for none (and for a fit saved before offsets existed).
offsets_words <- function(offsets) {
  if (is.null(offsets)) return(NULL)
  switch(offsets, rows = "row offsets", columns = "column offsets", both = "row and column offsets", NULL)
}

print.wlra <- function(x, ...) {
  words <- offsets_words(x$offsets)
  cat(sprintf("wlra fit: %d x %d, rank %d%s; objective %.6g after %d iterations (%s), solver %s\n",
              nrow(x$U), nrow(x$V), ncol(x$U), if (is.null(words)) "" else paste(" with", words),
              x$objective, x$iterations, fit_status(x), x$solver_used))
  invisible(x)
}

summary.wlra <- function(object, ...) {
  structure(
    list(dim = c(nrow(object$U), nrow(object$V)), rank = ncol(object$U), d = object$d,
         offsets = if (is.null(object$offsets)) "none" else object$offsets,
         objective = object$objective, iterations = object$iterations,
         max_iterations = object$max_iterations, max_iterations_given = object$max_iterations_given,
         converged = object$converged,
         tolerance = object$tolerance, method_used = object$method_used,
         solver_used = object$solver_used, ridge = object$ridge, ridge_scaling = object$ridge_scaling,
         starts = object$starts, starts_at_best = object$starts_at_best,
         held_out_rmse = object$held_out_rmse, elapsed_seconds = object$elapsed_seconds,
         call = object$call),
    class = "summary.wlra")
}

print.summary.wlra <- function(x, digits = max(3L, getOption("digits") - 3L), ...) {
  if (!is.null(x$call)) cat("Call:\n", paste(deparse(x$call), collapse = "\n"), "\n\n", sep = "")
  cat(sprintf("Weighted low rank approximation of a %d x %d matrix, rank %d\n", x$dim[1], x$dim[2], x$rank))
  cat(sprintf("Objective:       %s\n", format(x$objective, digits = digits)))
  cat(sprintf("Iterations:      %d (%s), %s (tolerance = %g)\n",
              x$iterations, iteration_budget(x), fit_status(x), x$tolerance))
  cat(sprintf("Method, solver:  %s, %s\n", x$method_used, x$solver_used))
  if (!is.na(x$starts) && x$starts > 1) {
    cat(sprintf("Starts:          %d, %d at the best objective\n", x$starts, x$starts_at_best))
  }
  cat(sprintf("Ridge:           %g (%s)\n", x$ridge, x$ridge_scaling))
  words <- offsets_words(x$offsets)
  cat(sprintf("Offsets:         %s\n", if (is.null(words)) "none" else words))
  if (!is.na(x$held_out_rmse)) cat(sprintf("Held-out RMSE:   %s\n", format(x$held_out_rmse, digits = digits)))
  cat(sprintf("Elapsed:         %.3g s\n", x$elapsed_seconds))
  cat("Singular values:", format(x$d, digits = digits), "\n")
  invisible(x)
}
