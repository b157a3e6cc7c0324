# Input the binding refuses before libwlra sees it, with a message naming the
# argument in the caller's terms (issue 28): starting factors of the wrong
# shape, complex and character matrices. Python has the same cases in
# tests/test_input_checks.py.

input_problem <- function() {
  set.seed(28)
  list(M = matrix(rnorm(6 * 2), 6, 2) %*% matrix(rnorm(2 * 5), 2, 5),
       U0 = matrix(rnorm(6 * 2), 6, 2), V0 = matrix(rnorm(5 * 2), 5, 2))
}

test_that("a start with an extra column is refused, not truncated", {
  p <- input_problem()
  expect_error(wlra(p$M, rank = 2, start = list(U = cbind(p$U0, 1), V = p$V0)),
               paste("start$U is 6 x 3 but must be 6 x 2: one row per row of M (6)",
                     "and one column per component (rank = 2)"),
               fixed = TRUE, class = "wlra_error_invalid_argument")
  expect_error(wlra(p$M, rank = 2, start = list(U = p$U0, V = cbind(p$V0, 1))),
               "start$V is 5 x 3 but must be 5 x 2", fixed = TRUE, class = "wlra_error_invalid_argument")
})

test_that("a start with too few columns is refused in terms of rank", {
  p <- input_problem()
  expect_error(wlra(p$M, rank = 2, start = list(U = p$U0[, 1, drop = FALSE], V = p$V0)),
               "start$U is 6 x 1 but must be 6 x 2", fixed = TRUE, class = "wlra_error_invalid_argument")
  expect_error(wlra(p$M, rank = 2, start = list(U = p$U0, V = p$V0[1:4, ])),
               "start$V is 4 x 2 but must be 5 x 2: one row per column of M (5)", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  sparse <- Matrix::Matrix(p$M, sparse = TRUE)
  expect_error(wlra_sparse(sparse, rank = 2, start = list(U = cbind(p$U0, 1), V = p$V0)),
               "start$U is 6 x 3 but must be 6 x 2", fixed = TRUE, class = "wlra_error_invalid_argument")
})

test_that("a start of the right shape is taken", {
  p <- input_problem()
  fit <- wlra(p$M, rank = 2, start = list(U = p$U0, V = p$V0), max_iterations = 0)
  expect_lte(max(abs(unname(fitted(fit)) - p$U0 %*% t(p$V0))), 1e-12)
})

test_that("complex M or W is refused without dropping the imaginary part", {
  p <- input_problem()
  expect_warning(
    expect_error(wlra(p$M + 1i, rank = 2), "M is a complex matrix: wlra fits real matrices",
                 fixed = TRUE, class = "wlra_error_invalid_argument"), NA)
  expect_error(wlra(p$M, p$M * 0 + 1 + 0i, rank = 2), "W is a complex matrix", fixed = TRUE,
               class = "wlra_error_invalid_argument")
})

test_that("a character matrix is refused before any coercion warning", {
  p <- input_problem()
  text <- matrix(as.character(p$M), nrow(p$M))
  text[2, 3] <- "x"
  expect_warning(
    expect_error(wlra(text, rank = 2), "M is a character matrix: wlra needs a numeric one",
                 fixed = TRUE, class = "wlra_error_invalid_argument"), NA)
  frame <- as.data.frame(text)
  expect_error(wlra(frame, rank = 2), "M is a character matrix", fixed = TRUE,
               class = "wlra_error_invalid_argument")
  expect_error(wlra(p$M, matrix("1", 6, 5), rank = 2), "W is a character matrix", fixed = TRUE,
               class = "wlra_error_invalid_argument")
})

test_that("a degenerate fit warns with the library's count", {
  rank_one <- outer(1:6, 1:5) + 0
  expect_warning(wlra(rank_one, rank = 2),
                 "wlra: the fit is degenerate: U V^T has rank 1, below rank = 2 (1 of its singular values are 0); a lower rank fits the same product",
                 fixed = TRUE, class = "wlra_degenerate_warning")
  expect_warning(wlra(matrix(0, 6, 5), rank = 2),
                 "wlra: the fit is degenerate: U V^T = 0 (all 2 singular values are 0)",
                 fixed = TRUE, class = "wlra_degenerate_warning")
  p <- input_problem()
  expect_warning(wlra(p$M, rank = 2), NA)
  # Every weight 0 is said once, as such, not again as a degenerate fit.
  expect_warning(expect_warning(wlra(p$M, 0 * p$M, rank = 2), "every weight is 0",
                                class = "wlra_zero_weight_warning"), NA)
})
