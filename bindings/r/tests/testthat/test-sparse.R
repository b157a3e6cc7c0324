# wlra_sparse() against the C ABI's wlra_fit_csr: a dgCMatrix gives the fit
# of the densified problem and the C program's factors, completion recovers a
# planted matrix, errors are wlra_error conditions, and a 20000 x 20000 input
# is never densified.

skip_if_not_installed("Matrix")

relative_difference <- function(a, b) norm(fitted(a) - fitted(b), "F") / norm(fitted(a), "F")

densified <- function(i, j, x, dims, default) {
  out <- matrix(default, dims[1], dims[2])
  out[cbind(i, j)] <- x
  out
}

test_that("a dgCMatrix gives the fit of the densified problem", {
  p <- sparse_planted(70, 50, 3, 0.4, seed = 90)
  values <- p$noisy[cbind(p$i, p$j)]
  values[1:25] <- 0 # observed zeros: stored, so they stay in the pattern
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = values, dims = c(70, 50))
  W <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$weights, dims = c(70, 50))
  expect_s4_class(M, "dgCMatrix")
  expect_equal(length(M@x), length(p$i))
  for (defaults in list(c(0, 0), c(0.25, 1))) {
    # Plain alternation: accelerated alternation (AUTO's choice) takes the
    # two paths' rounding apart (2.3e-9 in 15 iterations).
    got <- wlra_sparse(M, W, rank = 3, m_default = defaults[1], w_default = defaults[2],
                       tolerance = 0, max_iterations = 15, method = "alternating")
    dense <- wlra(densified(p$i, p$j, values, c(70, 50), defaults[1]),
                  densified(p$i, p$j, p$weights, c(70, 50), defaults[2]),
                  rank = 3, tolerance = 0, max_iterations = 15, method = "alternating")
    diff <- relative_difference(dense, got)
    cat(file = stderr(), sprintf("\nm_default %g, w_default %g: U V^T differs from the dense fit by %.2e; objectives %.12e vs %.12e\n",
                                 defaults[1], defaults[2], diff, dense$objective, got$objective))
    expect_equal(got$iterations, 15L)
    expect_equal(dense$iterations, 15L)
    expect_lte(diff, 1e-10)
    expect_lte(abs(got$objective - dense$objective), 1e-10 * dense$objective)
    expect_equal(dim(got$U), c(70L, 3L))
    expect_equal(dim(got$V), c(50L, 3L))
  }
})

test_that("weights default to 1 on the pattern", {
  p <- sparse_planted(40, 30, 2, 0.5, seed = 94)
  values <- p$noisy[cbind(p$i, p$j)]
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = values, dims = c(40, 30))
  got <- wlra_sparse(M, rank = 2, tolerance = 0, max_iterations = 10)
  dense <- wlra(densified(p$i, p$j, values, c(40, 30), 0), densified(p$i, p$j, 1, c(40, 30), 0),
                rank = 2, tolerance = 0, max_iterations = 10)
  expect_lte(relative_difference(dense, got), 1e-10)
})

test_that("factors equal the C ABI sparse reference program's", {
  ref <- reference_factors("reference_csr.c")
  p <- reference_csr_problem()
  expect_equal(sum(p$M@x == 0), 37) # the stored zeros survived sparseMatrix()
  fit <- wlra_sparse(p$M, p$W, rank = 3, m_default = p$m_default, w_default = p$w_default,
                     max_iterations = 25, tolerance = 0, seed = 7, init = "random", solver = "exact")
  cat(file = stderr(), sprintf("\nfactors differ from reference_csr.c by %.1e\n",
                               max(abs(fit$U - ref$U), abs(fit$V - ref$V))))
  expect_lte(max(abs(fit$U - ref$U)), 1e-12)
  expect_lte(max(abs(fit$V - ref$V)), 1e-12)
  expect_equal(fit$iterations, 25L)
  expect_false(fit$converged)
  expect_equal(fit$solver_used, "exact")
})

test_that("other sparse classes are converted by Matrix: triplets sum repeats", {
  p <- sparse_planted(40, 30, 2, 0.5, seed = 96)
  values <- p$noisy[cbind(p$i, p$j)]
  # Every entry twice, its value and weight split in two parts.
  M <- Matrix::sparseMatrix(i = rep(p$i, 2), j = rep(p$j, 2), x = c(0.3 * values, 0.7 * values),
                            dims = c(40, 30), repr = "T")
  W <- Matrix::sparseMatrix(i = rep(p$i, 2), j = rep(p$j, 2), x = c(0.5 * p$weights, 0.5 * p$weights),
                            dims = c(40, 30), repr = "T")
  expect_s4_class(M, "dgTMatrix")
  got <- wlra_sparse(M, W, rank = 2, tolerance = 0, max_iterations = 10)
  dense <- wlra(as.matrix(M), as.matrix(W), rank = 2, tolerance = 0, max_iterations = 10)
  expect_lte(relative_difference(dense, got), 1e-10)
  R <- Matrix::sparseMatrix(i = p$i, j = p$j, x = values, dims = c(40, 30), repr = "R")
  expect_s4_class(R, "dgRMatrix")
  by_row <- wlra_sparse(R, rank = 2, tolerance = 0, max_iterations = 10)
  by_col <- wlra_sparse(as(R, "CsparseMatrix"), rank = 2, tolerance = 0, max_iterations = 10)
  expect_identical(by_row$U, by_col$U)
})

test_that("completion recovers the unobserved entries to 1e-6", {
  p <- sparse_planted(60, 50, 3, 0.4, seed = 97)
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$truth[cbind(p$i, p$j)], dims = c(60, 50))
  fit <- wlra_sparse(M, rank = 3, w_default = 0, tolerance = 1e-16, max_iterations = 3000)
  unobserved <- matrix(TRUE, 60, 50)
  unobserved[cbind(p$i, p$j)] <- FALSE
  err <- sqrt(sum((fitted(fit) - p$truth)[unobserved]^2) / sum(p$truth[unobserved]^2))
  cat(file = stderr(), sprintf("\ncompletion: relative error %.2e on the %d unobserved entries after %d iterations\n",
                               err, sum(unobserved), fit$iterations))
  expect_lte(err, 1e-6)
})

test_that("W with another pattern is a wlra_error_invalid_argument naming the entry", {
  p <- sparse_planted(30, 20, 2, 0.4, seed = 98)
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$noisy[cbind(p$i, p$j)], dims = c(30, 20))
  last <- length(p$i)
  W <- Matrix::sparseMatrix(i = p$i[-last], j = p$j[-last], x = p$weights[-last], dims = c(30, 20))
  err <- tryCatch(wlra_sparse(M, W, rank = 2), error = function(e) e)
  expect_identical(class(err), c("wlra_error_invalid_argument", "wlra_error", "error", "condition"))
  expect_match(conditionMessage(err), sprintf("M stores [%d, %d] but W does not", p$i[last], p$j[last]), fixed = TRUE)
  expect_equal(err$status, 2L)
  # Same count, one entry moved to an unobserved place.
  free <- which(as.matrix(M) == 0, arr.ind = TRUE)[1, ]
  i <- p$i
  j <- p$j
  i[last] <- free[1]
  j[last] <- free[2]
  W <- Matrix::sparseMatrix(i = i, j = j, x = p$weights, dims = c(30, 20))
  expect_error(wlra_sparse(M, W, rank = 2), "W must store exactly the entries M stores",
               class = "wlra_error_invalid_argument")
  expect_error(wlra_sparse(M, Matrix::sparseMatrix(i = 1, j = 1, x = 1, dims = c(30, 21)), rank = 2),
               "W is 30 x 21 but M is 30 x 20", class = "wlra_error_invalid_argument")
  expect_error(wlra_sparse(M, matrix(1, 30, 20), rank = 2), "W must be a sparse matrix",
               class = "wlra_error_invalid_argument")
})

test_that("bad values are wlra_error conditions with the library's message", {
  p <- sparse_planted(30, 20, 2, 0.4, seed = 99)
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$noisy[cbind(p$i, p$j)], dims = c(30, 20))
  W <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$weights, dims = c(30, 20))
  W@x[4] <- -0.5
  err <- tryCatch(wlra_sparse(M, W, rank = 2), error = function(e) e)
  expect_identical(class(err), c("wlra_error_negative_weight", "wlra_error", "error", "condition"))
  # The library names the 0-based row of W@x[4] and its place in the CSR arrays.
  expect_match(conditionMessage(err), sprintf("row %d: w_values\\[\\d+\\] = -0.5 is negative", W@i[4]))
  expect_equal(err$status, 4L)
  expect_error(wlra_sparse(M, rank = 2, w_default = -1), "w_default = -1 is negative",
               class = "wlra_error_negative_weight")
  bad <- M
  bad@x[1] <- Inf # (a stored NA is missing: test-missing.R)
  expect_error(wlra_sparse(bad, rank = 2), "m_values\\[\\d+\\] = inf is not finite",
               class = "wlra_error_non_finite_input")
  # A hand-made dgCMatrix with a row index past nrow: caught before the transposition.
  broken <- M
  broken@i[2] <- 30L
  expect_error(wlra_sparse(broken, rank = 2), "M@i\\[2\\] = 30 is not a row index of a 30-row matrix",
               class = "wlra_error_invalid_argument")
  # A repeated row in a column: the library names the row.
  repeated <- Matrix::sparseMatrix(i = c(1, 2), j = c(1, 1), x = c(1, 2), dims = c(3, 2))
  repeated@i[2] <- 0L
  expect_error(wlra_sparse(repeated, rank = 1), "row 0: col_idx\\[1\\] = 0 is not greater than",
               class = "wlra_error_invalid_argument")
  expect_error(wlra_sparse(M, rank = 2, m_default = "a"), "m_default must be a single number",
               class = "wlra_error_invalid_argument")
  expect_error(wlra_sparse(M, rank = 2, max_iteration = 5), "unknown wlra option")
})

test_that("dense and sparse inputs point to the right function", {
  M <- Matrix::sparseMatrix(i = c(1, 2, 3), j = c(1, 2, 1), x = c(1, 2, 3), dims = c(3, 2))
  expect_error(wlra(M, rank = 1), "use wlra_sparse()", fixed = TRUE, class = "wlra_error_invalid_argument")
  expect_error(wlra_sparse(as.matrix(M), rank = 1), "M must be a sparse matrix of package Matrix",
               class = "wlra_error_invalid_argument")
})

test_that("a progress callback cancelling after 2 iterations keeps their factors", {
  p <- sparse_planted(40, 30, 2, 0.5, seed = 100)
  M <- Matrix::sparseMatrix(i = p$i, j = p$j, x = p$noisy[cbind(p$i, p$j)], dims = c(40, 30))
  err <- tryCatch(wlra_sparse(M, rank = 2, tolerance = 0, progress = function(i, f) i >= 2),
                  wlra_error_cancelled = function(e) e)
  two <- wlra_sparse(M, rank = 2, tolerance = 0, max_iterations = 2)
  expect_equal(err$result$iterations, 2L)
  expect_lte(max(abs(err$result$U - two$U)), 1e-12)
})

test_that("a 20000 x 20000 dgCMatrix is not densified", {
  n <- 20000
  set.seed(101)
  i <- sample.int(n, 2e5, replace = TRUE)
  j <- sample.int(n, 2e5, replace = TRUE)
  M <- Matrix::sparseMatrix(i = i, j = j, x = rnorm(2e5), dims = c(n, n))
  W <- M
  W@x <- runif(length(M@x), 0.5, 3)
  dense_bytes <- n * n * 8
  before <- gc(reset = TRUE)
  fit <- wlra_sparse(M, W, rank = 2, w_default = 1, max_iterations = 2, tolerance = 0, init = "random")
  after <- gc()
  allocated <- (after["Vcells", "max used"] - before["Vcells", "used"]) * 8
  cat(file = stderr(), sprintf("\nno-densify: R heap grew by at most %.0f bytes during the fit of a %d x %d dgCMatrix with %d stored entries (%.3f%% of its %.0f dense bytes)\n",
                               allocated, n, n, length(M@x), 100 * allocated / dense_bytes, dense_bytes))
  expect_equal(dim(fit$U), c(n, 2L))
  expect_equal(fit$iterations, 2L)
  expect_lt(allocated, 0.01 * dense_bytes)
})
