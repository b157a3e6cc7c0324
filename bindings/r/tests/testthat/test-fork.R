# Forked workers (parallel::mclapply) fit, predict and fold in after the
# parent has fitted: a forked child inherits no thread of the library's
# pools, which the library detects and replaces (docs/reliability.md). The
# workers run in a child R under `timeout`, so a hang fails the test
# instead of stopping the suite.

test_that("parallel::mclapply over 4 workers fits after the parent has", {
  skip_on_os("windows")
  dir <- tempfile("wlra-fork")
  dir.create(dir)
  on.exit(unlink(dir, recursive = TRUE), add = TRUE)
  script <- file.path(dir, "fork.R")
  writeLines(c(
    "library(wlra)",
    "set.seed(1)",
    "M <- matrix(rnorm(60 * 3), 60) %*% matrix(rnorm(3 * 40), 3)",
    "W <- matrix(runif(60 * 40, 0.1, 1), 60)",
    "parent <- wlra(M, W, rank = 3, threads = 2)",
    "one <- function(i) {",
    "  fit <- wlra(M, W, rank = 3, threads = 2)",
    "  c(fit$objective, predict(fit, newdata = M[1:2, ])[1, 1])",
    "}",
    "out <- parallel::mclapply(1:4, one, mc.cores = 4)",
    "ok <- vapply(out, is.numeric, TRUE)",
    "objectives <- vapply(out, function(x) x[1], 0)",
    "same <- all(abs(objectives - parent$objective) <= 1e-12 * parent$objective)",
    "writeLines(sprintf('%d %d', sum(ok), as.integer(same)), 'result.txt')"
  ), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  status <- system(sprintf("cd %s && timeout 60 %s --vanilla fork.R >out.txt 2>&1",
                           shQuote(dir), shQuote(rscript)))
  expect_equal(status, 0L, info = paste(readLines(file.path(dir, "out.txt")), collapse = "\n"))
  result <- readLines(file.path(dir, "result.txt"))
  expect_identical(result, "4 1")
})
