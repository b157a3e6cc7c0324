# The "wlra" object: predict(newdata) against the rows' weighted ridge
# regressions solved in R, the canonical u, d, v against R's own SVD of the
# fitted matrix, residuals, summary and the non-convergence warning.

# The fitted values of rows `X` (NA: missing) with weights `Wx` against V,
# each row's weighted ridge regression solved by lm.wfit (a QR of the
# weighted design, with sqrt(penalty) I appended as k extra rows), not by
# the normal equations the library forms.
ridge_rows_by_lm <- function(V, X, Wx, ridge, by_weight_sums = FALSE) {
  k <- ncol(V)
  t(vapply(seq_len(nrow(X)), function(r) {
    w <- Wx[r, ]
    x <- X[r, ]
    w[is.na(x)] <- 0
    x[is.na(x)] <- 0
    penalty <- if (by_weight_sums) ridge * sum(w) else ridge
    u <- if (penalty > 0) {
      lm.wfit(rbind(V, diag(sqrt(penalty), k)), c(x, numeric(k)), c(w, rep(1, k)))$coefficients
    } else {
      lm.wfit(V, x, w)$coefficients
    }
    drop(V %*% u)
  }, numeric(nrow(V))))
}

cv_problem <- function() {
  p <- planted_problem()
  set.seed(11)
  list(M = p$truth + 0.05 * matrix(rnorm(length(p$truth)), nrow(p$truth)), W = p$W)
}

test_that("predict(newdata, weights) solves each new row's weighted ridge regression", {
  p <- cv_problem()
  set.seed(5)
  X <- p$M[1:12, ] + matrix(rnorm(12 * 60), 12)
  Wx <- matrix(runif(12 * 60, 0, 2), 12)
  X[2, c(3, 40)] <- NA
  X[7, 1:50] <- NA
  for (ridge in c(0, 0.7)) {
    fit <- wlra(p$M, p$W, rank = 3, ridge = ridge, solver = "exact", tolerance = 1e-10, max_iterations = 500)
    got <- predict(fit, X, Wx)
    want <- ridge_rows_by_lm(fit$V, X, Wx, ridge)
    expect_equal(dim(got), c(12L, 60L))
    expect_lte(max(abs(got - want)), 1e-10)
    # weights = NULL: 1 where newdata is observed.
    ones <- matrix(1, 12, 60)
    expect_lte(max(abs(predict(fit, X) - ridge_rows_by_lm(fit$V, X, ones, ridge))), 1e-10)
  }
  fit <- wlra(p$M, p$W, rank = 3, ridge = 0.05, ridge_scaling = "weight_sums", tolerance = 1e-10,
              max_iterations = 500)
  expect_equal(fit$ridge_scaling, "weight_sums")
  expect_lte(max(abs(predict(fit, X, Wx) - ridge_rows_by_lm(fit$V, X, Wx, 0.05, TRUE))), 1e-10)
})

test_that("a new row with no observed entry is predicted 0, never NaN", {
  p <- cv_problem()
  fit <- wlra(p$M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500)
  X <- p$M[1:2, ]
  X[1, ] <- NA
  got <- predict(fit, X)
  expect_identical(got[1, ], rep(0, 60))
  expect_lte(max(abs(got[2, ] - ridge_rows_by_lm(fit$V, X[2, , drop = FALSE], matrix(1, 1, 60), 0))), 1e-10)
  expect_identical(dim(predict(fit, X[0, , drop = FALSE])), c(0L, 60L))
})

test_that("predict with the training rows reproduces the fit to its tolerance", {
  p <- cv_problem()
  tolerance <- 1e-14
  fit <- wlra(p$M, p$W, rank = 3, solver = "exact", tolerance = tolerance, max_iterations = 5000)
  expect_true(fit$converged)
  # At convergence the objective's relative decrease is below `tolerance`;
  # the factors then move by O(sqrt(tolerance)) relative, and so does the
  # U half-step that fold-in repeats for the training rows.
  refolded <- predict(fit, p$M, p$W)
  relative <- norm(refolded - fitted(fit), "F") / norm(fitted(fit), "F")
  cat(file = stderr(), sprintf("\nfold-in of the training rows: relative difference %.2e (sqrt(tolerance) = %.0e)\n",
                               relative, sqrt(tolerance)))
  expect_lte(relative, 10 * sqrt(tolerance))
})

test_that("predict's arguments are checked, with 1-based entries in messages", {
  p <- cv_problem()
  fit <- wlra(p$M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500)
  X <- p$M[1:3, ]
  expect_error(predict(fit, X[, -1]), "newdata has 59 columns, the fit 60", class = "wlra_error_invalid_argument")
  expect_error(predict(fit, c(1, 2, 3)), "predict(fit, i = , j = )", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  Wx <- matrix(1, 3, 60)
  Wx[2, 5] <- NA
  expect_error(predict(fit, X, Wx), "weights[2, 5] = NA is not finite", fixed = TRUE,
               class = "wlra_error_non_finite_input")
  Wx[2, 5] <- -1
  expect_error(predict(fit, X, Wx), "weights[2, 5] = -1 is negative", fixed = TRUE,
               class = "wlra_error_negative_weight")
  X[3, 4] <- Inf
  expect_error(predict(fit, X), "newdata[3, 4] = inf is not finite", fixed = TRUE,
               class = "wlra_error_non_finite_input")
  expect_error(predict(fit, X, matrix(1, 2, 60)), "weights is 2 x 60 but newdata is 3 x 60",
               class = "wlra_error_invalid_argument")
  expect_error(predict(fit, weights = Wx), "newdata, which is missing", class = "wlra_error_invalid_argument")
})

test_that("a fit restored from disk still predicts new rows", {
  p <- cv_problem()
  fit <- wlra(p$M, p$W, rank = 3, ridge = 0.2, tolerance = 1e-10, max_iterations = 500)
  file <- tempfile(fileext = ".rds")
  saveRDS(fit, file)
  restored <- readRDS(file)
  expect_identical(predict(restored, p$M[1:4, ], p$W[1:4, ]), predict(fit, p$M[1:4, ], p$W[1:4, ]))
})

test_that("u, d, v are the canonical SVD form of U V^T", {
  p <- cv_problem()
  fit <- wlra(p$M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500)
  k <- 3
  expect_equal(dim(fit$u), c(80L, k))
  expect_equal(dim(fit$v), c(60L, k))
  expect_lte(max(abs(crossprod(fit$u) - diag(k))), 1e-12)
  expect_lte(max(abs(crossprod(fit$v) - diag(k))), 1e-12)
  expect_true(all(diff(fit$d) < 0) && all(fit$d > 0))
  scale <- max(abs(fitted(fit)))
  expect_lte(max(abs(fit$u %*% (fit$d * t(fit$v)) - tcrossprod(fit$U, fit$V))) / scale, 1e-12)
  # Sign rule: each column of v has its entry of largest magnitude positive.
  for (j in seq_len(k)) expect_gt(fit$v[which.max(abs(fit$v[, j])), j], 0)
  # Against R's own SVD of the fitted matrix, signs fixed by the same rule.
  s <- svd(fitted(fit), nu = k, nv = k)
  flip <- sign(vapply(seq_len(k), function(j) s$v[which.max(abs(s$v[, j])), j], 0))
  expect_lte(max(abs(fit$d - s$d[1:k])) / s$d[1], 1e-12)
  expect_lte(max(abs(fit$v - sweep(s$v, 2, flip, `*`))), 1e-10)
  expect_lte(max(abs(fit$u - sweep(s$u, 2, flip, `*`))), 1e-10)
})

test_that("the canonical form does not depend on the gauge of U and V, nor on qr()'s pivoting", {
  set.seed(8)
  U <- matrix(rnorm(30 * 3), 30)
  V <- matrix(rnorm(20 * 3), 20)
  A <- matrix(rnorm(9), 3)
  canonical <- get("canonical_factors", asNamespace("wlra"))
  a <- canonical(U, V)
  b <- canonical(U %*% A, V %*% t(solve(A)))
  expect_lte(max(abs(a$u - b$u)), 1e-10)
  expect_lte(max(abs(a$v - b$v)), 1e-10)
  expect_lte(max(abs(a$d - b$d)) / a$d[1], 1e-12)
  # A factor with a zero column (rank-deficient U V^T) makes qr() pivot.
  U[, 2] <- 0
  deficient <- canonical(U, V)
  expect_lte(max(abs(deficient$u %*% (deficient$d * t(deficient$v)) - tcrossprod(U, V))), 1e-12)
  expect_lte(deficient$d[3], 1e-12)
  expect_lte(max(abs(crossprod(deficient$v) - diag(3))), 1e-12)
})

test_that("the canonical form is the library's (wlra_get_canonical), at any scale of the data", {
  set.seed(9)
  U <- matrix(rnorm(30 * 3), 30)
  V <- matrix(rnorm(20 * 3), 20)
  canonical <- get("canonical_factors", asNamespace("wlra"))
  a <- canonical(U, V)
  # R's own SVD of U t(V), signs by the same rule.
  s <- svd(tcrossprod(U, V), nu = 3, nv = 3)
  flip <- sign(vapply(1:3, function(j) s$v[which.max(abs(s$v[, j])), j], 0))
  expect_lte(max(abs(a$d - s$d[1:3])) / s$d[1], 1e-12)
  expect_lte(max(abs(a$u - sweep(s$u, 2, flip, `*`))), 1e-10)
  expect_lte(max(abs(a$v - sweep(s$v, 2, flip, `*`))), 1e-10)
  for (scale in c(1e150, 1e-150)) {
    b <- canonical(U * scale, V)
    expect_lte(max(abs(a$u - b$u)), 1e-12)
    expect_lte(max(abs(a$v - b$v)), 1e-12)
    expect_lte(max(abs(b$d / scale - a$d)) / a$d[1], 1e-12)
  }
})

test_that("a sparse fit has the canonical form too, and its residuals at the stored entries", {
  p <- sparse_planted(50, 40, 2, 0.4, seed = 4)
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$noisy[cbind(p$i, p$j)], dims = c(50, 40))
  fit <- wlra_sparse(M, rank = 2, tolerance = 1e-10, max_iterations = 2000)
  expect_lte(max(abs(fit$u %*% (fit$d * t(fit$v)) - fitted(fit))) / max(abs(fitted(fit))), 1e-12)
  r <- residuals(fit)
  expect_s4_class(r, "dgCMatrix")
  expect_identical(r@i, M@i)
  expect_lte(max(abs(r[cbind(p$i, p$j)] - (p$noisy[cbind(p$i, p$j)] - fitted(fit)[cbind(p$i, p$j)]))), 1e-12)
})

test_that("fitted and residuals: M - U V^T, NA where M is NA", {
  p <- cv_problem()
  M <- p$M
  M[4, 9] <- NA
  fit <- wlra(M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500)
  r <- residuals(fit)
  expect_true(is.na(r[4, 9]))
  expect_equal(sum(is.na(r)), 1L)
  expect_identical(r[-4, ], M[-4, ] - tcrossprod(fit$U[-4, ], fit$V))
  named <- M
  dimnames(named) <- list(paste0("r", 1:80), paste0("c", 1:60))
  fit <- wlra(named, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500)
  expect_identical(dimnames(fitted(fit)), dimnames(named))
  expect_identical(rownames(fit$v), colnames(named))
  expect_error(predict(fit, named[1:2, 60:1]), "colnames(newdata) differ", fixed = TRUE)
})

test_that("summary and print give rank, objective, iterations, convergence, method and solver", {
  p <- cv_problem()
  fit <- wlra(p$M, p$W, rank = 3, ridge = 0.1, method = "alternating", solver = "exact",
              tolerance = 1e-8, max_iterations = 2000)
  s <- summary(fit)
  expect_s3_class(s, "summary.wlra")
  expect_identical(s$rank, 3L)
  expect_identical(s$objective, fit$objective)
  expect_identical(s$iterations, fit$iterations)
  expect_true(s$converged)
  expect_identical(c(s$method_used, s$solver_used), c("alternating", "exact"))
  expect_identical(s$max_iterations, 2000L)
  expect_identical(s$ridge, 0.1)
  out <- capture.output(print(s))
  expect_true(any(grepl("80 x 60 matrix, rank 3", out, fixed = TRUE)))
  expect_true(any(grepl(sprintf("Iterations:      %d (max_iterations = 2000 for the whole fit, restarts included), converged",
                                fit$iterations), out, fixed = TRUE)))
  expect_true(any(grepl("Method, solver:  alternating, exact", out, fixed = TRUE)))
  expect_output(print(fit), "wlra fit: 80 x 60, rank 3; objective .* iterations \\(converged\\), solver exact")
})

test_that("a fit that stops without converging warns, naming iterations and max_iterations", {
  p <- cv_problem()
  expect_warning(fit <- wlra(p$M, p$W, rank = 3, max_iterations = 3, tolerance = 1e-12, init = "random"),
                 "wlra did not converge: 3 iterations (max_iterations = 3 for the whole fit, restarts included)", fixed = TRUE,
                 class = "wlra_convergence_warning")
  expect_false(fit$converged)
  M <- Matrix::Matrix(p$M, sparse = TRUE)
  W <- Matrix::Matrix(p$W, sparse = TRUE)
  expect_warning(wlra_sparse(M, W, rank = 3, max_iterations = 2, tolerance = 1e-12, init = "random"),
                 "2 iterations (max_iterations = 2 for the whole fit, restarts included)", fixed = TRUE, class = "wlra_convergence_warning")
  expect_no_warning(fit <- wlra(p$M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500))
  expect_true(fit$converged)
  # Fits that ask not to converge: tolerance = 0 (run max_iterations), or
  # max_iterations = 0 (the start as it is); and a cancelled fit.
  expect_no_warning(wlra(p$M, p$W, rank = 3, max_iterations = 3, tolerance = 0))
  expect_no_warning(wlra(p$M, p$W, rank = 3, max_iterations = 0, start = list(U = fit$U, V = fit$V)))
  expect_no_warning(expect_error(wlra(p$M, p$W, rank = 3, tolerance = 1e-12, progress = function(i, f) i == 2),
                                 class = "wlra_error_cancelled"))
})

test_that("held_out_fold counts from 1 and is checked", {
  p <- cv_problem()
  fit <- wlra(p$M, p$W, rank = 3, folds = 4, held_out_fold = 4, tolerance = 1e-10, max_iterations = 500)
  expect_gt(fit$held_out_entries, 0L)
  expect_gt(fit$held_out_rmse, 0)
  expect_true(is.na(wlra(p$M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 500)$held_out_rmse))
  expect_error(wlra(p$M, p$W, rank = 3, folds = 4, held_out_fold = 5),
               "held_out_fold = 5 must be a whole number in 1..folds = 4", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(wlra(p$M, p$W, rank = 3, folds = 4, held_out_fold = 0), "held_out_fold = 0",
               class = "wlra_error_invalid_argument")
})

test_that("summary says the default budget is per start, not max_iterations = 100", {
  # Missing entries with the defaults: AUTO may run VarPro with restarts,
  # each start with its method's own budget, so the total can pass 100.
  p <- cv_problem()
  fit <- suppressWarnings(wlra(p$M, p$W, rank = 3))
  expect_false(fit$max_iterations_given)
  out <- capture.output(print(summary(fit)))
  line <- grep("^Iterations:", out, value = TRUE)
  expect_length(line, 1)
  expect_false(grepl("of max_iterations = 100", line, fixed = TRUE))
  expect_true(grepl(paste0("max_iterations not set: each start runs up to its method's default, ",
                           "100 for alternation, 500 for VarPro)"), line, fixed = TRUE))
  expect_true(startsWith(line, sprintf("Iterations:      %d (", fit$iterations)))
})

test_that("help(wlra) says what runs by default, and it is what runs", {
  rd <- tools::Rd_db("wlra")[["wlra.Rd"]]
  # The Rd source with \code{} markup removed: the same in any locale
  # (Rd2txt's quotes depend on it).
  text <- paste(as.character(rd, deparse = TRUE), collapse = "")
  text <- gsub("\\s+", " ", gsub("\\\\code\\{([^{}]*)\\}", "\\1", text))
  expect_true(grepl("What runs by default (method = \"auto\"): the truncated SVD in closed form where it is the optimum", text, fixed = TRUE))
  expect_true(grepl("plain alternation when clip, overrelaxation or an explicit solver is set", text, fixed = TRUE))
  expect_false(grepl("bound on the factors' entries (0 = off)", text, fixed = TRUE))
  set.seed(3)
  M <- matrix(rnorm(30 * 2), 30) %*% matrix(rnorm(2 * 20), 2) + 0.01 * matrix(rnorm(600), 30)
  expect_identical(wlra(M, rank = 2)$method_used, "svd")
  expect_identical(wlra(M, rank = 2, clip = 2)$method_used, "alternating")
  M[sample(600, 200)] <- NA
  expect_true(suppressWarnings(wlra(M, rank = 2))$method_used %in% c("accelerated", "varpro"))
})
