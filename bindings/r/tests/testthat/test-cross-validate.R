# cross_validate(): the planted rank is chosen, the table is the folds' mean
# of what single held-out fits report, the folds partition the observed
# entries, dense and sparse input agree, and bad settings are clear errors.

# A seeded rank-4 problem, 50 x 40, noise 0.1, weights in [0.2, 1] with 30 %
# of the entries unobserved (weight 0).
planted_rank_4 <- function() {
  set.seed(42)
  n <- 50
  m <- 40
  truth <- matrix(rnorm(n * 4), n) %*% matrix(rnorm(4 * m), 4)
  W <- matrix(runif(n * m, 0.2, 1), n)
  W[matrix(runif(n * m), n) < 0.3] <- 0
  list(M = truth + 0.1 * matrix(rnorm(n * m), n), W = W)
}

test_that("the planted rank 4 is picked from ranks 2, 4, 6", {
  p <- planted_rank_4()
  cv <- suppressWarnings(cross_validate(p$M, p$W, ranks = c(2, 4, 6), ridges = c(0, 1), folds = 4,
                                        method = "alternating", tolerance = 1e-9, max_iterations = 1000))
  expect_s3_class(cv, "wlra_cv")
  expect_identical(cv$best_rank, 4)
  expect_identical(cv$best_ridge, 0)
  expect_s3_class(cv$table, "data.frame")
  expect_identical(names(cv$table), c("rank", "ridge", "rmse"))
  expect_identical(cv$table$rank, c(2, 2, 4, 4, 6, 6))
  expect_identical(cv$table$ridge, c(0, 1, 0, 1, 0, 1))
  expect_identical(cv$best_rmse, min(cv$table$rmse))
  expect_equal(dim(cv$fold_rmse), c(3L, 2L, 4L))
  # The noise level is 0.1: the planted rank's held-out error is near it.
  expect_lt(cv$best_rmse, 0.2)
  expect_output(print(cv), "best: rank 4, ridge 0")
})

test_that("the table is the mean over the folds of single held-out fits, which partition the observed entries", {
  p <- planted_rank_4()
  cv <- cross_validate(p$M, p$W, ranks = 3, ridges = 0.5, folds = 3, seed = 9,
                       method = "alternating", solver = "exact", tolerance = 0, max_iterations = 20)
  fits <- lapply(1:3, function(h) {
    wlra(p$M, p$W, rank = 3, ridge = 0.5, folds = 3, held_out_fold = h, seed = 9,
         method = "alternating", solver = "exact", tolerance = 0, max_iterations = 20)
  })
  expect_identical(cv$fold_rmse[1, 1, ], vapply(fits, `[[`, 0, "held_out_rmse"))
  expect_equal(cv$table$rmse, mean(vapply(fits, `[[`, 0, "held_out_rmse")))
  expect_identical(sum(vapply(fits, `[[`, 0L, "held_out_entries")), sum(p$W > 0))
})

test_that("each fold runs the ridges as a path, largest first, each fit from the one before", {
  p <- planted_rank_4()
  settings <- list(ranks = 3, ridges = c(0, 2, 0.5), folds = 3, seed = 5, method = "alternating",
                   tolerance = 1e-10, max_iterations = 500)
  cv <- do.call(cross_validate, c(list(p$M, p$W), settings))
  alone <- do.call(cross_validate, c(list(p$M, p$W, path = FALSE), settings))
  one <- function(h, ridge, start = NULL) {
    args <- list(p$M, p$W, rank = 3, ridge = ridge, folds = 3, held_out_fold = h, seed = 5,
                 method = "alternating", tolerance = 1e-10, max_iterations = 500)
    if (!is.null(start)) args[c("start", "init")] <- list(start, "given")
    do.call(wlra, args)
  }
  for (h in 1:3) {
    first <- one(h, 2)
    second <- one(h, 0.5, first)
    third <- one(h, 0, second)
    expect_identical(cv$fold_rmse[1, c(2, 3, 1), h], c(first$held_out_rmse, second$held_out_rmse, third$held_out_rmse))
    expect_identical(alone$fold_rmse[1, , h], vapply(c(0, 2, 0.5), function(r) one(h, r)$held_out_rmse, 0))
  }
  # The largest ridge starts the path as an independent fit does.
  expect_identical(cv$fold_rmse[1, 2, ], alone$fold_rmse[1, 2, ])
  expect_error(do.call(cross_validate, c(list(p$M, p$W, path = NA), settings)), "path must be TRUE or FALSE")
})

test_that("fit_path warm-starts each fit after the first, whatever init the options name", {
  p <- planted_rank_4()
  args <- list(p$M, p$W, rank = 3, method = "alternating", tolerance = 1e-10, max_iterations = 500, seed = 2)
  path <- do.call(fit_path, c(args, list(ridges = c(1, 0.2), init = "random")))
  expect_length(path, 2)
  first <- do.call(wlra, c(args, list(ridge = 1, init = "random")))
  expect_identical(path[[1]]$objective, first$objective)
  warm <- do.call(wlra, c(args, list(ridge = 0.2, start = first, init = "given")))
  expect_identical(path[[2]]$objective, warm$objective)
  cold <- do.call(wlra, c(args, list(ridge = 0.2, init = "random")))
  expect_lt(path[[2]]$iterations, cold$iterations)
  expect_error(fit_path(p$M, p$W, rank = 3, ridges = 1, start = first), "fit_path() sets start itself", fixed = TRUE)
  expect_error(fit_path(p$M, p$W, rank = 3, ridges = -1), "ridges holds -1")
})

test_that("a dgCMatrix of the observed entries gives the dense table", {
  p <- planted_rank_4()
  at <- which(p$W > 0, arr.ind = TRUE)
  M <- Matrix::sparseMatrix(at[, 1], at[, 2], x = p$M[at], dims = dim(p$M))
  W <- Matrix::sparseMatrix(at[, 1], at[, 2], x = p$W[at], dims = dim(p$M))
  settings <- list(ranks = c(2, 4), ridges = c(0, 0.5), folds = 3, method = "alternating", solver = "exact",
                   tolerance = 0, max_iterations = 30)
  sparse <- do.call(cross_validate, c(list(M, W), settings))
  dense <- do.call(cross_validate, c(list(p$M, p$W), settings))
  expect_lte(max(abs(sparse$fold_rmse - dense$fold_rmse)), 1e-7)
  expect_identical(c(sparse$best_rank, sparse$best_ridge), c(dense$best_rank, dense$best_ridge))
})

test_that("fits that do not converge give one warning for the whole cross-validation", {
  p <- planted_rank_4()
  expect_warning(cross_validate(p$M, p$W, ranks = 2, ridges = c(0, 1), folds = 2, init = "random",
                                method = "alternating", tolerance = 1e-14, max_iterations = 2),
                 "4 of the 4 fits of the cross-validation did not converge", class = "wlra_convergence_warning")
})

test_that("bad folds, ranks and ridges are clear errors", {
  p <- planted_rank_4()
  cv <- function(...) cross_validate(p$M, p$W, ...)
  expect_error(cv(ranks = 2, ridges = 0, folds = 1), "folds = 1 must be a whole number >= 2", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(cv(ranks = 2, ridges = 0, folds = 2.5), "folds = 2.5 must be a whole number >= 2", fixed = TRUE)
  expect_error(cv(ranks = numeric(0), ridges = 0), "ranks is empty: give at least one value", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(cv(ranks = c(2, 0), ridges = 0), "ranks holds 0: ranks must be whole numbers >= 1", fixed = TRUE)
  expect_error(cv(ranks = 2.5, ridges = 0), "ranks holds 2.5: ranks must be whole numbers >= 1", fixed = TRUE)
  expect_error(cv(ranks = c(2, NA), ridges = 0), "ranks holds NA", fixed = TRUE)
  expect_error(cv(ranks = 2, ridges = NULL), "ridges is empty: give at least one value", fixed = TRUE)
  expect_error(cv(ranks = "4", ridges = 0), "ranks must be numbers, got character", fixed = TRUE)
  expect_error(cv(ranks = 2, ridges = c(0, -1)), "ridges holds -1: ridges must be finite numbers >= 0", fixed = TRUE)
  expect_error(cv(ranks = 2, ridges = Inf), "ridges holds Inf", fixed = TRUE)
  expect_error(cv(ranks = 2), "ridges is missing", fixed = TRUE)
  expect_error(cv(ranks = 2, ridges = 0, rank = 3), "cross_validate() sets rank itself", fixed = TRUE)
})

test_that("a fold with no observed entry is an error naming the fold, counted from 1", {
  M <- matrix(1, 6, 5)
  W <- matrix(0, 6, 5)
  W[2, 3] <- 1
  # One observed entry: exactly one of 4 folds holds it.
  held <- vapply(1:4, function(h) {
    inherits(tryCatch(wlra(M, W, rank = 1, folds = 4, held_out_fold = h, max_iterations = 2, tolerance = 0),
                      wlra_error_invalid_argument = function(e) e), "wlra")
  }, logical(1))
  expect_identical(sum(held), 1L)
  empty <- which(!held)[1]
  expect_error(wlra(M, W, rank = 1, folds = 4, held_out_fold = empty),
               sprintf("held_out_fold = %d of folds = 4 holds no observed entry", empty), fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(cross_validate(M, W, ranks = 1, ridges = 0, folds = 4),
               "of folds = 4 holds no observed entry: nothing to validate on", class = "wlra_error_invalid_argument")
})
