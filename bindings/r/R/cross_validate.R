# Choosing rank and ridge on held-out entries, on the C library's own
# machinery as in the Python binding (wlra.cross_validate): the folds are the
# library's (WLRA_OPTION_FOLDS: a hash of (seed, row, column) over the
# observed entries, so M is never copied or split here), and each fold's
# held-out RMSE is what the library reports (WLRA_INFO_HELD_OUT_RMSE).

# The values of `ranks` or `ridges`, checked: not empty, each one `ok`.
cv_settings <- function(name, values, ok, rule, call) {
  if (length(values) == 0) {
    stop(wlra_condition(2L, sprintf("%s is empty: give at least one value", name), call))
  }
  if (!is.numeric(values)) {
    stop(wlra_condition(2L, sprintf("%s must be numbers, got %s", name, class(values)[1]), call))
  }
  bad <- which(!vapply(values, ok, logical(1)))
  if (length(bad)) {
    stop(wlra_condition(2L, sprintf("%s holds %s: %s", name, format(values[[bad[1]]]), rule), call))
  }
  as.numeric(values)
}

cross_validate <- function(M, W = NULL, ranks, ridges, folds = 5, seed = 0, ...,
                           offsets = c("none", "rows", "columns", "both"), path = TRUE) {
  call <- match.call()
  # Every fit has these offsets, and the held-out RMSE includes them.
  offsets <- offsets_choice(offsets, call)
  if (missing(ranks)) stop(wlra_condition(2L, "ranks is missing: give the ranks to compare", call))
  if (missing(ridges)) stop(wlra_condition(2L, "ridges is missing: give the ridges to compare", call))
  ranks <- cv_settings("ranks", ranks, function(k) !is.na(k) && k >= 1 && k == floor(k),
                       "ranks must be whole numbers >= 1", call)
  ridges <- cv_settings("ridges", ridges, function(r) is.finite(r) && r >= 0,
                        "ridges must be finite numbers >= 0", call)
  if (!is.numeric(folds) || length(folds) != 1 || is.na(folds) || folds < 2 || folds != floor(folds)) {
    stop(wlra_condition(2L, sprintf("folds = %s must be a whole number >= 2", format(folds)), call))
  }
  options <- list(...)
  taken <- intersect(names(options), c("rank", "ridge", "folds", "held_out_fold", "seed", "progress", "start"))
  if (length(taken)) stop(sprintf("cross_validate() sets %s itself", paste(taken, collapse = ", ")))
  if (!is.logical(path) || length(path) != 1 || is.na(path)) {
    stop(wlra_condition(2L, "path must be TRUE or FALSE", call))
  }
  fit <- if (is_sparse_matrix(M)) wlra_sparse else wlra

  fold_rmse <- array(NA_real_, c(length(ranks), length(ridges), folds))
  not_converged <- 0L
  # Along the ridge path (path = TRUE), largest ridge first (ties in the
  # order given), each fit starts from the one before it on the same fold,
  # whatever an init in ... says: Python's wlra.cross_validate.
  path_order <- order(-ridges)
  for (a in seq_along(ranks)) {
    for (h in seq_len(folds)) {
      fits <- withCallingHandlers(
        along_path(fit, list(M, W, rank = ranks[[a]], folds = folds, held_out_fold = h, seed = seed,
                             offsets = offsets), ridges[path_order], options, warm = path),
        wlra_convergence_warning = function(w) {
          not_converged <<- not_converged + 1L
          invokeRestart("muffleWarning")
        })
      fold_rmse[a, path_order, h] <- vapply(fits, `[[`, 0, "held_out_rmse")
    }
  }
  if (not_converged > 0) {
    warning(structure(class = c("wlra_convergence_warning", "warning", "condition"), list(
      message = sprintf("%d of the %d fits of the cross-validation did not converge; raise max_iterations or tolerance",
                        not_converged, length(fold_rmse)), call = call)))
  }
  rmse <- apply(fold_rmse, c(1, 2), mean)
  # The first minimum with ranks outer, ridges inner: the Python binding's
  # np.argmin over its ranks x ridges table.
  best <- which(t(rmse) == min(rmse))[1]
  best_rank <- (best - 1) %/% length(ridges) + 1
  best_ridge <- (best - 1) %% length(ridges) + 1
  table <- data.frame(rank = rep(ranks, each = length(ridges)), ridge = rep(ridges, times = length(ranks)),
                      rmse = as.vector(t(rmse)))
  structure(list(table = table, best_rank = ranks[[best_rank]], best_ridge = ridges[[best_ridge]],
                 best_rmse = rmse[best_rank, best_ridge], rmse = array(rmse, dim(rmse), list(ranks, ridges)),
                 fold_rmse = fold_rmse, folds = as.integer(folds), seed = seed, offsets = offsets, call = call),
            class = "wlra_cv")
}

# The fits of `fit` (wlra or wlra_sparse) with `args` at `ridges` in the
# order given: the first starts as `options` say; with `warm` each later one
# starts from the fit before it, whatever init the options name (Python's
# _along_path).
along_path <- function(fit, args, ridges, options, warm = TRUE) {
  fits <- vector("list", length(ridges))
  for (b in seq_along(ridges)) {
    this <- options
    if (warm && b > 1) this[c("start", "init")] <- list(fits[[b - 1]], "given")
    fits[[b]] <- do.call(fit, c(args, list(ridge = ridges[[b]]), this))
  }
  fits
}

fit_path <- function(M, W = NULL, rank, ridges, ...) {
  call <- match.call()
  if (missing(ridges)) stop(wlra_condition(2L, "ridges is missing: give the ridges of the path", call))
  ridges <- cv_settings("ridges", ridges, function(r) is.finite(r) && r >= 0,
                        "ridges must be finite numbers >= 0", call)
  options <- list(...)
  taken <- intersect(names(options), c("ridge", "start"))
  if (length(taken)) stop(sprintf("fit_path() sets %s itself", paste(taken, collapse = ", ")))
  fit <- if (is_sparse_matrix(M)) wlra_sparse else wlra
  along_path(fit, list(M, W, rank = rank), ridges, options)
}

print.wlra_cv <- function(x, ...) {
  words <- offsets_words(x$offsets)
  cat(sprintf("wlra cross-validation, %d folds%s: mean held-out RMSE\n", x$folds,
              if (is.null(words)) "" else paste(", with", words)))
  print(x$table, row.names = FALSE)
  cat(sprintf("best: rank %s, ridge %g (RMSE %.6g)\n", format(x$best_rank), x$best_ridge, x$best_rmse))
  invisible(x)
}
