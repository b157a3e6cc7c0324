# Offsets (WLRA_OPTION_OFFSETS): offsets = "rows" / "columns" / "both"
# fits M ~ a 1^T + 1 b^T + U V^T jointly; the fit carries row_offsets and
# col_offsets, and fitted(), predict() and residuals() include them. New
# rows fold in against [V, 1] with the column offsets taken off their data,
# checked here against each row's weighted least squares by lm.wfit.

tight_fit <- function(...) do.call(wlra, c(list(...), tight))

test_that("a planted a 1^T + 1 b^T + U V^T is recovered, offsets in the documented gauge", {
  p <- offsets_planted()
  fit <- tight_fit(p$M, p$W, rank = 3, offsets = "both")
  scale <- max(abs(p$M))
  expect_identical(fit$offsets, "both")
  expect_lte(max(abs(fitted(fit) - p$M)), 1e-8 * scale)
  # The gauge: 1^T U = 1^T V = 0 and sum(b) = 0, so a = M's row means and
  # b = its column means minus the grand mean.
  expect_lte(max(abs(fit$row_offsets - rowMeans(p$M))), 1e-8 * scale)
  expect_lte(max(abs(fit$col_offsets - (colMeans(p$M) - mean(p$M)))), 1e-8 * scale)
  expect_lte(max(abs(colSums(fit$U)), abs(colSums(fit$V))), 1e-8 * scale)
  expect_length(fit$row_offsets, 40)
  expect_length(fit$col_offsets, 30)
  # predict(i, j) and residuals include the offsets too.
  i <- c(1, 6, 40)
  j <- c(2, 30, 8)
  expect_lte(max(abs(predict(fit, i = i, j = j) - fitted(fit)[cbind(i, j)])), 1e-12 * scale)
  expect_identical(predict(fit, i = cbind(i, j)), predict(fit, i = i, j = j))
  expect_lte(max(abs(residuals(fit))), 1e-8 * scale)
})

test_that("one side's offsets: the other is NULL, the fitted side in its gauge", {
  p <- offsets_planted(seed = 3)
  scale <- max(abs(p$M))
  # 1 b^T is one more rank: rank 4 with row offsets holds the planted model.
  rows <- tight_fit(p$M, p$W, rank = 4, offsets = "rows")
  expect_identical(rows$offsets, "rows")
  expect_null(rows$col_offsets)
  expect_lte(max(abs(fitted(rows) - p$M)), 1e-8 * scale)
  expect_lte(max(abs(colSums(rows$V))), 1e-8 * scale)
  expect_lte(max(abs(rows$row_offsets - rowMeans(p$M))), 1e-8 * scale)
  columns <- tight_fit(p$M, p$W, rank = 4, offsets = "columns")
  expect_null(columns$row_offsets)
  expect_lte(max(abs(fitted(columns) - p$M)), 1e-8 * scale)
  expect_lte(max(abs(columns$col_offsets - colMeans(p$M))), 1e-8 * scale)
  # match.arg's partial matching, as for any R choice.
  expect_identical(tight_fit(p$M, p$W, rank = 4, offsets = "col")$offsets, "columns")
})

test_that("rank k without offsets cannot fit the planted matrix", {
  p <- offsets_planted(seed = 3)
  plain <- tight_fit(p$M, p$W, rank = 3)
  expect_identical(plain$offsets, "none")
  expect_null(plain$row_offsets)
  expect_null(plain$col_offsets)
  expect_gt(max(abs(fitted(plain) - p$M)), 1e-3 * max(abs(p$M)))
  both <- tight_fit(p$M, p$W, rank = 3, offsets = "both")
  expect_lt(both$objective, 1e-12 * plain$objective)
})

test_that("with a ridge the objective is the library's formula, the offsets unpenalized", {
  p <- offsets_planted(seed = 12)
  set.seed(13)
  noisy <- p$M + 0.1 * matrix(rnorm(length(p$M)), nrow(p$M))
  fit <- wlra(noisy, p$W, rank = 3, offsets = "both", ridge = 0.3, tolerance = 1e-12, max_iterations = 2000)
  formula <- sum(p$W * residuals(fit)^2) + 0.3 * (sum(fit$U^2) + sum(fit$V^2))
  expect_lte(abs(fit$objective - formula), 1e-10 * formula)
})

test_that("a sparse fit with offsets equals the dense one on 70 % of a planted model", {
  p <- offsets_planted(seed = 1)
  set.seed(2)
  seen <- matrix(runif(length(p$M)), nrow(p$M)) < 0.7
  at <- which(seen, arr.ind = TRUE)
  dense <- tight_fit(ifelse(seen, p$M, NA), p$W, rank = 3, offsets = "both")
  M <- Matrix::sparseMatrix(i = at[, 1], j = at[, 2], x = p$M[at], dims = dim(p$M))
  W <- Matrix::sparseMatrix(i = at[, 1], j = at[, 2], x = p$W[at], dims = dim(p$M))
  sparse <- do.call(wlra_sparse, c(list(M, W, rank = 3, offsets = "both"), tight))
  scale <- max(abs(p$M))
  expect_identical(sparse$offsets, "both")
  expect_lte(max(abs(fitted(dense) - fitted(sparse))), 1e-10 * scale)
  expect_lte(max(abs(dense$row_offsets - sparse$row_offsets)), 1e-10 * scale)
  expect_lte(max(abs(dense$col_offsets - sparse$col_offsets)), 1e-10 * scale)
  # The completion is the planted model, unseen entries included.
  expect_lte(max(abs(fitted(sparse) - p$M)), 1e-8 * scale)
  r <- residuals(sparse)
  expect_s4_class(r, "dgCMatrix")
  expect_lte(max(abs(r@x)), 1e-8 * scale)
})

test_that("a bad offsets value is a clear invalid_argument error", {
  p <- offsets_planted(seed = 4)
  message <- 'offsets = "diagonal" is not one of "none", "rows", "columns", "both"'
  expect_error(wlra(p$M, p$W, rank = 2, offsets = "diagonal"), message, fixed = TRUE,
               class = "wlra_error_invalid_argument")
  M <- Matrix::Matrix(p$M, sparse = TRUE)
  expect_error(wlra_sparse(M, rank = 2, offsets = "diagonal"), message, fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(cross_validate(p$M, p$W, ranks = 2, ridges = 0, offsets = "diagonal"), message, fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(wlra(p$M, p$W, rank = 2, offsets = 3), "offsets = 3 is not one of", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(wlra(p$M, p$W, rank = 2, offsets = c("rows", "both")), "is not one of",
               class = "wlra_error_invalid_argument")
})

# Row r's prediction a_r + b_j + u_r . v_j with [u_r, a_r] from lm.wfit: the
# weighted least squares of x_r - b against [V, 1] (V alone without row
# offsets), the ridge as k extra rows sqrt(penalty) [I, 0] of weight 1.
offsets_rows_by_lm <- function(fit, X, Wx, by_weight_sums = FALSE) {
  V <- unname(fit$V)
  k <- ncol(V)
  b <- if (is.null(fit$col_offsets)) numeric(nrow(V)) else unname(fit$col_offsets)
  rows <- !is.null(fit$row_offsets)
  design <- if (rows) cbind(V, 1) else V
  t(vapply(seq_len(nrow(X)), function(r) {
    w <- Wx[r, ]
    y <- X[r, ] - b
    w[is.na(y)] <- 0
    y[is.na(y)] <- 0
    penalty <- if (by_weight_sums) fit$ridge * sum(w) else fit$ridge
    coef <- if (penalty > 0) {
      extra <- cbind(diag(sqrt(penalty), k), if (rows) 0)
      lm.wfit(rbind(design, extra), c(y, numeric(k)), c(w, rep(1, k)))$coefficients
    } else {
      lm.wfit(design, y, w)$coefficients
    }
    drop(design %*% coef) + b
  }, numeric(nrow(V))))
}

test_that("predict(newdata, weights) with offsets is each row's weighted least squares against [V, 1]", {
  p <- offsets_planted(seed = 5)
  set.seed(6)
  X <- p$M[1:10, ] + matrix(rnorm(10 * 30), 10)
  Wx <- matrix(runif(10 * 30, 0, 2), 10)
  X[2, c(3, 20)] <- NA
  X[7, 1:24] <- NA
  noisy <- p$M + 0.1 * matrix(rnorm(length(p$M)), nrow(p$M))
  for (offsets in c("both", "rows", "columns")) {
    for (ridge in c(0, 0.3)) {
      fit <- wlra(noisy, p$W, rank = 3, offsets = offsets, ridge = ridge, tolerance = 1e-10, max_iterations = 1000)
      got <- predict(fit, X, Wx)
      expect_equal(dim(got), c(10L, 30L))
      expect_lte(max(abs(got - offsets_rows_by_lm(fit, X, Wx))), 1e-10 * max(abs(got)))
      # weights = NULL: 1 where newdata is observed; with none missing, the
      # rows share one design.
      ones <- matrix(1, 10, 30)
      expect_lte(max(abs(predict(fit, X) - offsets_rows_by_lm(fit, X, ones))), 1e-10 * max(abs(got)))
      full <- p$M[11:15, ]
      expect_lte(max(abs(predict(fit, full) - offsets_rows_by_lm(fit, full, ones[1:5, ]))), 1e-10 * max(abs(got)))
    }
  }
  fit <- wlra(noisy, p$W, rank = 3, offsets = "both", ridge = 0.02, ridge_scaling = "weight_sums",
              tolerance = 1e-10, max_iterations = 1000)
  expect_lte(max(abs(predict(fit, X, Wx) - offsets_rows_by_lm(fit, X, Wx, TRUE))), 1e-10 * max(abs(X), na.rm = TRUE))
  expect_lte(max(abs(predict(fit, p$M[1:3, ]) - offsets_rows_by_lm(fit, p$M[1:3, ], matrix(1, 3, 30), TRUE))),
             1e-10 * max(abs(p$M)))
})

test_that("a fit saved with saveRDS and read back folds in through wlra_set_fitted as the fit does", {
  p <- offsets_planted(seed = 12)
  set.seed(13)
  X <- p$M[1:6, ] + 0.1 * matrix(rnorm(6 * 30), 6)
  Wx <- matrix(runif(6 * 30, 0, 2), 6)
  X[2, 5] <- NA
  path <- tempfile(fileext = ".rds")
  on.exit(unlink(path))
  for (offsets in c("none", "rows", "columns", "both")) {
    for (ridge in c(0, 0.3)) {
      fit <- wlra(p$M, p$W, rank = 3, offsets = offsets, ridge = ridge, tolerance = 1e-10, max_iterations = 1000)
      saveRDS(fit, path)
      again <- readRDS(path)
      got <- predict(again, newdata = X, weights = Wx)
      # The library's fold-in, on the fit loaded from the saved object: the
      # in-memory fit's, bit for bit, and each row's least squares (lm) to
      # rounding.
      expect_identical(got, predict(fit, newdata = X, weights = Wx))
      expect_lte(max(abs(got - offsets_rows_by_lm(fit, X, Wx))), 1e-10 * max(abs(got)))
    }
  }
})

test_that("a new row with no weight predicts the column offsets exactly", {
  p <- offsets_planted(seed = 7)
  fit <- tight_fit(p$M, p$W, rank = 3, offsets = "both")
  X <- p$M[1:3, ]
  Wx <- matrix(1, 3, 30)
  Wx[1, ] <- 0
  X[3, ] <- NA
  got <- predict(fit, X, Wx)
  expect_identical(got[1, ], unname(fit$col_offsets))
  expect_identical(got[3, ], unname(fit$col_offsets))
  expect_lte(max(abs(got[2, ] - p$M[2, ])), 1e-8 * max(abs(p$M)))
  # Row offsets only: no column offsets to fall back on, so 0.
  rows <- tight_fit(p$M, p$W, rank = 4, offsets = "rows")
  expect_identical(predict(rows, X, Wx)[1, ], rep(0, 30))
  expect_identical(dim(predict(fit, X[0, , drop = FALSE])), c(0L, 30L))
})

test_that("predict with the training rows reproduces a fit with offsets to its tolerance", {
  set.seed(9)
  p <- offsets_planted(seed = 8)
  noisy <- p$M + 0.1 * matrix(rnorm(length(p$M)), nrow(p$M))
  for (ridge in c(0, 0.5)) {
    fit <- wlra(noisy, p$W, rank = 3, offsets = "both", ridge = ridge, solver = "exact",
                tolerance = 1e-14, max_iterations = 5000)
    expect_true(fit$converged)
    # As for a fit without offsets (test-methods.R): the factors move by
    # O(sqrt(tolerance)) relative at convergence, and so does the U
    # half-step that fold-in repeats for the training rows.
    refolded <- predict(fit, noisy, p$W)
    expect_lte(norm(refolded - fitted(fit), "F") / norm(fitted(fit), "F"), 10 * sqrt(1e-14))
  }
})

test_that("predict(newdata) with offsets checks its input as the library does", {
  p <- offsets_planted(seed = 10)
  fit <- wlra(p$M, p$W, rank = 3, offsets = "both", tolerance = 1e-10, max_iterations = 1000)
  X <- p$M[1:3, ]
  Wx <- matrix(1, 3, 30)
  Wx[2, 5] <- -1
  expect_error(predict(fit, X, Wx), "weights[2, 5] = -1 is negative", fixed = TRUE,
               class = "wlra_error_negative_weight")
  Wx[2, 5] <- Inf
  expect_error(predict(fit, X, Wx), "weights[2, 5] = inf is not finite", fixed = TRUE,
               class = "wlra_error_non_finite_input")
  X[3, 4] <- -Inf
  expect_error(predict(fit, X), "newdata[3, 4] = -inf is not finite", fixed = TRUE,
               class = "wlra_error_non_finite_input")
  expect_error(predict(fit, X[, -1]), "newdata has 29 columns, the fit 30", class = "wlra_error_invalid_argument")
})

test_that("print, summary and cross_validate name the offsets", {
  p <- offsets_planted(seed = 11)
  fit <- wlra(p$M, p$W, rank = 3, offsets = "both", tolerance = 1e-10, max_iterations = 1000)
  expect_output(print(fit), "wlra fit: 40 x 30, rank 3 with row and column offsets; objective")
  s <- summary(fit)
  expect_identical(s$offsets, "both")
  expect_true(any(grepl("Offsets:         row and column offsets", capture.output(print(s)), fixed = TRUE)))
  plain <- summary(wlra(p$M, p$W, rank = 3, tolerance = 1e-10, max_iterations = 1000))
  expect_true(any(grepl("Offsets:         none", capture.output(print(plain)), fixed = TRUE)))
  # Held out, the offsets model predicts the planted entries; rank 3 alone
  # cannot.
  cv <- cross_validate(p$M, p$W, ranks = 3, ridges = 0, folds = 3, offsets = "both",
                       tolerance = 1e-12, max_iterations = 3000)
  none <- cross_validate(p$M, p$W, ranks = 3, ridges = 0, folds = 3, tolerance = 1e-12, max_iterations = 3000)
  expect_identical(cv$offsets, "both")
  expect_lt(cv$best_rmse, 1e-3 * none$best_rmse)
  expect_output(print(cv), "3 folds, with row and column offsets")
})
