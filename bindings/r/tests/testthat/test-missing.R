# NA (and NaN) in M means missing, weight 0 there: the same fit as the
# explicit W = 0; an NA in W is an error naming R's 1-based entry.

# 1-based entries of the 37 x 23 reference problem to leave out.
missing_entries <- rbind(c(1, 1), c(4, 3), c(4, 6), c(21, 12), c(37, 23))

with_missing <- function(M, W, value = NA) {
  M_na <- M
  M_zero <- M
  W_zero <- W
  M_na[missing_entries] <- value
  M_zero[missing_entries] <- 0
  W_zero[missing_entries] <- 0
  list(M_na = M_na, M_zero = M_zero, W_zero = W_zero)
}

expect_same_fit <- function(a, b) {
  expect_lte(max(abs(a$U - b$U)), 1e-12)
  expect_lte(max(abs(a$V - b$V)), 1e-12)
  expect_lte(abs(a$objective - b$objective), 1e-12 * max(1, b$objective))
}

test_that("NA and NaN in M give the explicit zero-weight fit", {
  p <- reference_problem()
  for (value in list(NA, NaN)) {
    m <- with_missing(p$M, p$W, value)
    M_before <- m$M_na
    W_before <- p$W
    expect_same_fit(reference_fit(m$M_na, p$W), reference_fit(m$M_zero, m$W_zero))
    # The caller's matrices are left as they were.
    expect_identical(m$M_na, M_before)
    expect_identical(p$W, W_before)
  }
})

test_that("NA in M without W weighs the observed entries 1", {
  p <- reference_problem()
  m <- with_missing(p$M, p$W)
  ones <- matrix(1, nrow(p$M), ncol(p$M))
  ones[missing_entries] <- 0
  expect_same_fit(reference_fit(m$M_na, NULL), reference_fit(m$M_zero, ones))
})

test_that("NA in an integer M is missing too", {
  M <- matrix(1:12, 4, 3)
  M[2, 3] <- NA
  W <- matrix(1, 4, 3)
  W[2, 3] <- 0
  M0 <- M
  M0[2, 3] <- 0L
  a <- wlra(M, rank = 1, seed = 1, init = "random", max_iterations = 10, tolerance = 0)
  b <- wlra(M0, W, rank = 1, seed = 1, init = "random", max_iterations = 10, tolerance = 0)
  expect_same_fit(a, b)
})

test_that("an NA in W is an error with R's 1-based row and column", {
  p <- reference_problem()
  W <- p$W
  W[3, 2] <- NA
  expect_error(wlra(p$M, W, rank = 3), "W[3, 2] = NA is not finite", fixed = TRUE,
               class = "wlra_error_non_finite_input")
  W[3, 2] <- NaN
  M <- p$M
  M[1, 1] <- NA # missing in M does not hide an NA weight
  expect_error(wlra(M, W, rank = 3), "W[3, 2] = NaN", fixed = TRUE, class = "wlra_error_non_finite_input")
})

test_that("a stored NA in a sparse M is missing", {
  skip_if_not_installed("Matrix")
  s <- reference_csr_problem()
  M <- s$M
  W <- s$W
  M@x[c(2, 10)] <- NA
  M0 <- M
  W0 <- W
  M0@x[c(2, 10)] <- 0
  W0@x[c(2, 10)] <- 0
  fit <- function(M, W) wlra_sparse(M, W, rank = 3, m_default = s$m_default, w_default = s$w_default,
                                    max_iterations = 25, tolerance = 0, seed = 7, init = "random", solver = "exact")
  expect_same_fit(fit(M, W), fit(M0, W0))
  W@x[5] <- NA
  expect_error(fit(M0, W), "is not finite", class = "wlra_error_non_finite_input")
})

test_that("rows and columns without weight warn with the library's count", {
  p <- reference_problem()
  M <- p$M
  M[5, ] <- NA  # one row, all missing
  W <- p$W
  W[, 3] <- 0  # one column, all weight 0
  expect_warning(fit <- wlra(M, W, rank = 3, max_iterations = 25, tolerance = 0, seed = 7, init = "random"),
                 "2 of the 37 rows and 23 columns have no positive weight", class = "wlra_zero_weight_warning")
  expect_true(all(fit$U[5, ] == 0) && all(fit$V[3, ] == 0))
  expect_warning(wlra(p$M, 0 * p$W, rank = 3, max_iterations = 25, tolerance = 0),
                 "every weight is 0", class = "wlra_zero_weight_warning")
})
