# The R binding against the C ABI: recovery, agreement with a C program,
# errors as conditions, cancellation, and that matrices pass without a copy.

relative_error <- function(fit, truth) norm(fitted(fit) - truth, "F") / norm(truth, "F")

test_that("planted rank-3 problem is recovered", {
  p <- planted_problem()
  fit <- wlra(p$truth, p$W, rank = 3, tolerance = 1e-14, max_iterations = 500)
  expect_s3_class(fit, "wlra")
  expect_equal(dim(fit$U), c(80L, 3L))
  expect_equal(dim(fit$V), c(60L, 3L))
  expect_lte(relative_error(fit, p$truth), 1e-8)
  expect_true(fit$iterations >= 1 && fit$objective >= 0 && is.logical(fit$converged))
  expect_true(fit$solver_used %in% c("exact", "sketch"))
})

test_that("factors equal the C ABI reference program's", {
  ref <- reference_factors()
  p <- reference_problem()
  fit <- reference_fit(p$M, p$W)
  expect_lte(max(abs(fit$U - ref$U)), 1e-12)
  expect_lte(max(abs(fit$V - ref$V)), 1e-12)
  expect_equal(fit$iterations, 25L)
  expect_false(fit$converged)
  expect_equal(fit$solver_used, "exact")
})

test_that("numeric option values map like their names", {
  p <- reference_problem()
  by_name <- reference_fit(p$M, p$W)
  by_value <- wlra(p$M, p$W, rank = 3, max_iterations = 25, tolerance = 0, seed = 7, init = 1, solver = 1)
  expect_identical(by_value$U, by_name$U)
})

test_that("integer matrices are converted", {
  M <- matrix(0:11, 4, 3)
  expect_identical(wlra(M, rank = 1, seed = 1)$U, wlra(M * 1.0, rank = 1, seed = 1)$U)
})

test_that("fitted and predict give U V^T and its entries", {
  p <- planted_problem()
  fit <- wlra(p$truth, p$W, rank = 3, max_iterations = 5, tolerance = 0)
  full <- fit$U %*% t(fit$V)
  expect_equal(fitted(fit), full)
  expect_equal(predict(fit), full)
  expect_equal(predict(fit, i = c(1, 5, 80), j = c(2, 60, 1)), full[cbind(c(1, 5, 80), c(2, 60, 1))])
  expect_equal(predict(fit, i = cbind(c(3, 4), c(7, 8))), full[cbind(c(3, 4), c(7, 8))])
})

test_that("warm start with zero iterations returns the start", {
  p <- planted_problem()
  first <- wlra(p$truth, p$W, rank = 3, max_iterations = 3, tolerance = 0)
  again <- wlra(p$truth, p$W, rank = 3, max_iterations = 0, start = list(U = first$U, V = first$V))
  expect_identical(again$U, first$U)
  expect_identical(again$V, first$V)
})

test_that("negative weight is a wlra_error_negative_weight condition with the library's message", {
  p <- planted_problem()
  W <- p$W
  W[5, 8] <- -0.5
  err <- tryCatch(wlra(p$truth, W, rank = 3), error = function(e) e)
  expect_identical(class(err), c("wlra_error_negative_weight", "wlra_error", "error", "condition"))
  expect_match(conditionMessage(err), "W[", fixed = TRUE)
  expect_equal(err$status, 4L)
  expect_error(wlra(p$truth, W, rank = 3), class = "wlra_error_negative_weight")
})

test_that("other library errors map to their condition classes", {
  p <- planted_problem()
  expect_error(wlra(p$truth, p$W, rank = 3, tolerance = -1), "WLRA_OPTION_TOLERANCE",
               class = "wlra_error_invalid_argument")
  expect_error(wlra(p$truth, p$W, rank = 0), "rank", class = "wlra_error_invalid_argument")
  bad <- p$truth
  bad[3, 2] <- Inf
  expect_error(wlra(bad, p$W, rank = 3), "M[3, 2] = inf is not finite", fixed = TRUE,
               class = "wlra_error_non_finite_input")
  expect_error(wlra(p$truth, p$W, rank = 3, solver = "fastest"), "solver", class = "wlra_error_invalid_argument")
  expect_error(wlra(p$truth, p$W, rank = 3, max_iteration = 5), "unknown wlra option")
})

test_that("a progress callback cancelling after 2 iterations keeps their factors", {
  p <- planted_problem()
  seen <- integer()
  err <- tryCatch(
    wlra(p$truth, p$W, rank = 3, tolerance = 1e-14,
         progress = function(iteration, objective) { seen <<- c(seen, iteration); iteration >= 2 }),
    wlra_error_cancelled = function(e) e)
  expect_s3_class(err, "wlra_error_cancelled")
  expect_equal(seen, c(1, 2))
  two <- wlra(p$truth, p$W, rank = 3, tolerance = 0, max_iterations = 2)
  expect_equal(err$result$iterations, 2L)
  expect_lte(max(abs(err$result$U - two$U)), 1e-12)
  expect_lte(max(abs(err$result$V - two$V)), 1e-12)
})

test_that("an error in the progress callback cancels the fit and is re-signalled", {
  p <- planted_problem()
  expect_error(wlra(p$truth, p$W, rank = 3, progress = function(i, f) stop("from the callback")),
               "from the callback")
  calls <- 0
  fit <- wlra(p$truth, p$W, rank = 3, max_iterations = 4, tolerance = 0,
              progress = function(i, f) { calls <<- calls + 1; NULL })
  expect_equal(calls, 4)
  expect_equal(fit$iterations, 4L)
})

test_that("a 3000 x 3000 double matrix is passed without a copy", {
  set.seed(3)
  M <- matrix(rnorm(3000 * 3000), 3000, 3000)
  W <- matrix(runif(3000 * 3000, 0.1, 1), 3000, 3000)
  size <- as.numeric(object.size(M))
  before <- gc(reset = TRUE)
  fit <- wlra(M, W, rank = 2, max_iterations = 2, tolerance = 0, init = "random")
  after <- gc()
  allocated <- (after["Vcells", "max used"] - before["Vcells", "used"]) * 8
  cat(file = stderr(), sprintf("\nno-copy: R heap grew by at most %.0f bytes during the fit of a %.0f-byte matrix (%.3f%%)\n",
                  allocated, size, 100 * allocated / size))
  expect_equal(dim(fit$U), c(3000L, 2L))
  expect_lt(allocated, 0.1 * size)
})

test_that("method and restarts are taken by name and checked", {
  p <- planted_problem()
  for (method in list("auto", "alternating", "varpro", "accelerated", 1)) {
    fit <- wlra(p$truth, p$W, rank = 3, max_iterations = 5, tolerance = 0, method = method, restarts = 2,
                init = "random")
    expect_true(is.na(fit$method_used) || fit$method_used %in% c("alternating", "varpro", "accelerated"))
    if (!is.na(fit$starts)) expect_true(1 <= fit$starts_at_best && fit$starts_at_best <= fit$starts && fit$starts <= 3)
  }
  expect_error(wlra(p$truth, p$W, rank = 3, method = "newton"), "method", class = "wlra_error_invalid_argument")
  expect_error(wlra(p$truth, p$W, rank = 3, method = 4), "WLRA_OPTION_METHOD", class = "wlra_error_invalid_argument")
  expect_error(wlra(p$truth, p$W, rank = 3, restarts = -2), "WLRA_OPTION_RESTARTS",
               class = "wlra_error_invalid_argument")
})

test_that("option ranges come from the library", {
  # The package types option ids and choice values, never bounds: the
  # library describes every option, with the header's name, its default
  # inside its range, and every choice the package offers inside that range.
  ns <- asNamespace("wlra")
  info <- get(".wlra_option_info", ns)
  options <- get(".wlra_options", ns)
  # Every id from 1 up but WLRA_OPTION_MISSING_NAN, the package's own.
  missing_nan <- get(".wlra_option_missing_nan", ns)
  expect_equal(sort(c(unname(options), missing_nan)), as.numeric(seq_len(length(options) + 1)))
  for (name in names(options)) {
    entry <- info(options[[name]])
    expect_equal(entry$name, paste0("WLRA_OPTION_", toupper(name)))
    expect_true(entry$min <= entry$default && entry$default <= entry$max, label = name)
  }
  choices <- get(".wlra_choices", ns)
  for (name in names(choices)) {
    entry <- info(options[[name]])
    expect_true(all(choices[[name]] >= entry$min & choices[[name]] <= entry$max), label = name)
  }
  expect_null(info(0))
  # WLRA_OPTION_MISSING_NAN is the package's own (every fit sets it); the
  # library describes no option past the last id.
  expect_equal(info(missing_nan)$name, "WLRA_OPTION_MISSING_NAN")
  expect_null(info(max(options, missing_nan) + 1))
})

test_that("constants match the C header", {
  root <- repo_root()
  if (is.null(root)) skip("needs the wlra source tree")
  header <- readLines(file.path(root, "include", "wlra.h"))
  defines <- regmatches(header, regexec("^#define (WLRA_[A-Z_]+) (-?[0-9]+)$", header))
  defines <- defines[lengths(defines) == 3]
  value <- setNames(as.numeric(vapply(defines, `[`, "", 3)), vapply(defines, `[`, "", 2))
  ns <- asNamespace("wlra")
  options <- get(".wlra_options", ns)
  expect_equal(unname(value[paste0("WLRA_OPTION_", toupper(names(options)))]), unname(options))
  expect_equal(unname(value["WLRA_OPTION_MISSING_NAN"]), get(".wlra_option_missing_nan", ns))
  choices <- get(".wlra_choices", ns)
  expect_equal(unname(value[paste0("WLRA_SOLVER_", toupper(names(choices$solver)))]), unname(choices$solver))
  expect_equal(unname(value[paste0("WLRA_INIT_", toupper(names(choices$init)))]), unname(choices$init))
  expect_equal(unname(value[paste0("WLRA_METHOD_", toupper(names(choices$method)))]), unname(choices$method))
  expect_equal(unname(value[paste0("WLRA_RIDGE_", toupper(names(choices$ridge_scaling)))]),
               unname(choices$ridge_scaling))
  expect_equal(unname(value[paste0("WLRA_OFFSETS_", toupper(names(choices$offsets)))]), unname(choices$offsets))
  statuses <- get(".wlra_status_names", ns)
  # WLRA_ERROR_BUSY (10): checked once the header has it.
  if (!("WLRA_ERROR_BUSY" %in% names(value))) statuses <- setdiff(statuses, "busy")
  expect_equal(unname(value[paste0("WLRA_ERROR_", toupper(statuses))]), seq_along(statuses))
  expect_match(wlra_library_version(), "^1\\.")
  # One version: DESCRIPTION's is Cargo.toml's, and the library's.
  cargo <- readLines(file.path(root, "Cargo.toml"))
  version <- sub('^version = "([^"]+)"$', "\\1", grep("^version = ", cargo, value = TRUE)[1])
  expect_equal(as.character(packageVersion("wlra")), version)
  expect_equal(wlra_library_version(), version)
})
