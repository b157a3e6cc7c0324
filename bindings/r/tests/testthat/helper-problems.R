# Shared problems for the tests: a seeded planted problem, and the problem of
# bindings/tests/reference.c with the factors that C program gets for it.

planted_problem <- function() {
  set.seed(20240601)
  U <- matrix(rnorm(80 * 3), 80, 3)
  V <- matrix(rnorm(60 * 3), 60, 3)
  W <- matrix(runif(80 * 60, 0.1, 1), 80, 60)
  list(truth = U %*% t(V), W = W)
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

# Builds and runs reference.c (cc -std=c99 -Wall -Wextra -Werror), returns list(U, V).
reference_factors <- function() {
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
            file.path(root, "bindings", "tests", "reference.c"), "-o", exe,
            paste0("-L", dir), "-lwlra", paste0("-Wl,-rpath,", dir), "-lm")
  if (system2(cc, args) != 0) stop("compiling reference.c failed")
  out <- file.path(dir, "factors.txt")
  if (system2(exe, out) != 0) stop("reference program failed")
  values <- scan(out, quiet = TRUE)
  n <- values[1]; m <- values[2]; k <- values[3]
  values <- values[-(1:3)]
  list(U = matrix(values[1:(n * k)], n, k, byrow = TRUE),
       V = matrix(values[(n * k + 1):((n + m) * k)], m, k, byrow = TRUE))
}
