# Shared problems for the tests: seeded planted problems (dense and sparse),
# and the problems of bindings/tests/reference.c and reference_csr.c with the
# factors those C programs get for them.

planted_problem <- function() {
  set.seed(20240601)
  U <- matrix(rnorm(80 * 3), 80, 3)
  V <- matrix(rnorm(60 * 3), 60, 3)
  W <- matrix(runif(80 * 60, 0.1, 1), 80, 60)
  list(truth = U %*% t(V), W = W)
}

# A seeded planted sparse problem: truth (n x m, rank `rank`), noisy (truth +
# 0.1 noise), i, j (1-based) of the observed entries (a fraction `observed`),
# weights on them in [0.5, 3].
sparse_planted <- function(n, m, rank, observed, seed) {
  set.seed(seed)
  truth <- matrix(rnorm(n * rank), n, rank) %*% matrix(rnorm(rank * m), rank, m)
  noisy <- truth + 0.1 * matrix(rnorm(n * m), n, m)
  where <- which(matrix(runif(n * m), n, m) < observed, arr.ind = TRUE)
  list(truth = truth, noisy = noisy, i = where[, 1], j = where[, 2],
       weights = runif(nrow(where), 0.5, 3))
}

# The sparse problem of reference_csr.c, 0-based i, j in the formula: with
# f = frac(0.618 (i m + j)), (i, 3 i mod m) is a stored zero of weight 2,
# else (i, j) is stored when f < 0.45 with M_ij = sin(0.3 i + 0.7 j) +
# cos(0.11 i j) and W_ij = 0.5 + f; outside, M = 0.25 and W = 0.1. Returns
# dgCMatrix M and W.
reference_csr_problem <- function(n = 37, m = 23) {
  i <- matrix(as.double(0:(n - 1)), n, m)
  j <- matrix(as.double(0:(m - 1)), n, m, byrow = TRUE)
  x <- 0.618 * (i * m + j)
  f <- x - floor(x)
  zero <- j == (3 * i) %% m
  stored <- zero | f < 0.45
  values <- ifelse(zero, 0, sin(0.3 * i + 0.7 * j) + cos(0.11 * i * j))
  weights <- ifelse(zero, 2, 0.5 + f)
  at <- which(stored, arr.ind = TRUE)
  list(M = Matrix::sparseMatrix(i = at[, 1], j = at[, 2], x = values[at], dims = c(n, m)),
       W = Matrix::sparseMatrix(i = at[, 1], j = at[, 2], x = weights[at], dims = c(n, m)),
       m_default = 0.25, w_default = 0.1)
}

# M_ij = sin(0.3 i + 0.7 j) + cos(0.11 i j), W_ij = 0.1 + 0.9 frac(0.618 (i m + j)),
# 0-based i and j, as in reference.c.
reference_problem <- function(n = 37, m = 23) {
  i <- matrix(as.double(0:(n - 1)), n, m)
  j <- matrix(as.double(0:(m - 1)), n, m, byrow = TRUE)
  x <- 0.618 * (i * m + j)
  list(M = sin(0.3 * i + 0.7 * j) + cos(0.11 * i * j), W = 0.1 + 0.9 * (x - floor(x)))
}

# The options reference.c fits with.
reference_fit <- function(M, W) {
  wlra(M, W, rank = 3, max_iterations = 25, tolerance = 0, seed = 7, init = "random", solver = "exact")
}

repo_root <- function() {
  candidates <- c(Sys.getenv("WLRA_REPO"), file.path(getwd(), "..", "..", "..", ".."))
  for (dir in candidates[nzchar(candidates)]) {
    if (file.exists(file.path(dir, "bindings", "tests", "reference.c"))) return(normalizePath(dir))
  }
  NULL
}

library_path <- function() {
  lib <- Sys.getenv("WLRA_LIBRARY")
  if (!nzchar(lib) && nzchar(Sys.getenv("WLRA_PREFIX"))) lib <- file.path(Sys.getenv("WLRA_PREFIX"), "lib", "libwlra.so")
  if (nzchar(lib) && file.exists(lib)) normalizePath(lib) else NULL
}

# Builds and runs bindings/tests/<source> (cc -std=c99 -Wall -Wextra -Werror),
# returns list(U, V).
reference_factors <- function(source = "reference.c") {
  root <- repo_root()
  lib <- library_path()
  if (is.null(root) || is.null(lib)) testthat::skip("needs the wlra source tree and WLRA_LIBRARY")
  dir <- tempfile("wlra-reference")
  dir.create(dir)
  # Our own link directory with the plain name and the SONAME (libwlra.so.1).
  for (name in c("libwlra.so", "libwlra.so.1")) file.symlink(lib, file.path(dir, name))
  exe <- file.path(dir, "reference")
  cc <- Sys.getenv("CC", "cc")
  args <- c("-std=c99", "-Wall", "-Wextra", "-Werror", "-I", file.path(root, "include"),
            file.path(root, "bindings", "tests", source), "-o", exe,
            paste0("-L", dir), "-lwlra", paste0("-Wl,-rpath,", dir), "-lm")
  if (system2(cc, args) != 0) stop(sprintf("compiling %s failed", source))
  out <- file.path(dir, "factors.txt")
  if (system2(exe, out) != 0) stop("reference program failed")
  values <- scan(out, quiet = TRUE)
  n <- values[1]; m <- values[2]; k <- values[3]
  values <- values[-(1:3)]
  list(U = matrix(values[1:(n * k)], n, k, byrow = TRUE),
       V = matrix(values[(n * k + 1):((n + m) * k)], m, k, byrow = TRUE))
}

# A seeded planted a 1^T + 1 b^T + U V^T (n x m, U V^T of rank k, offsets
# of mean 2 and -1 and spread 3, so far from what U V^T alone holds) with
# weights in [0.1, 1]: list(M, W, U, V, a, b).
offsets_planted <- function(n = 40, m = 30, k = 3, seed = 0) {
  set.seed(seed)
  U <- matrix(rnorm(n * k), n, k)
  V <- matrix(rnorm(m * k), m, k)
  a <- 2 + 3 * rnorm(n)
  b <- -1 + 3 * rnorm(m)
  list(M = tcrossprod(U, V) + a + rep(b, each = n), W = matrix(runif(n * m, 0.1, 1), n, m),
       U = U, V = V, a = a, b = b)
}

# The fits that must reach the planted model to 1e-8 (offsets tests).
tight <- list(tolerance = 1e-15, regression_tolerance = 1e-14, max_iterations = 3000)
