# verbose = TRUE prints one line per iteration, and Ctrl-C (SIGINT) during a
# long fit returns control promptly, as R's own interrupt: both through the
# C progress callback, which every fit installs.

test_that("verbose = TRUE prints one line per iteration", {
  p <- planted_problem()
  out <- capture.output(fit <- wlra(p$truth, p$W, rank = 3, max_iterations = 4, tolerance = 0, verbose = TRUE))
  expect_length(out, fit$iterations)
  expect_equal(fit$iterations, 4L)
  expect_match(out, "^wlra: iteration [1-4]: objective [0-9.e+-]+$")
  expect_identical(as.integer(sub("^wlra: iteration ([0-9]+):.*", "\\1", out)), 1:4)
  # The last line's objective is the fit's, to the 10 digits printed.
  last <- as.numeric(sub(".*objective ", "", out[4]))
  expect_lte(abs(last - fit$objective), 1e-9 * fit$objective)
  expect_silent(wlra(p$truth, p$W, rank = 3, max_iterations = 4, tolerance = 0))
  # With a progress function too: both run, every iteration.
  seen <- integer()
  out <- capture.output(both <- wlra(p$truth, p$W, rank = 3, max_iterations = 3, tolerance = 0, verbose = TRUE,
                                     progress = function(i, f) { seen <<- c(seen, i); FALSE }))
  expect_length(out, 3)
  expect_identical(seen, c(1, 2, 3))
})

# A child R that fits for well over 30 s (a 800 x 600 weighted problem of
# rank 16, tolerance 0, effectively unlimited iterations of about 10 ms
# each on one thread) and writes what ended the fit, with the time.
long_fit_child <- function(dir, handler) {
  script <- file.path(dir, "long-fit.R")
  writeLines(c(
    "library(wlra)",
    "set.seed(0)",
    "M <- matrix(rnorm(800 * 600), 800)",
    "W <- matrix(runif(800 * 600, 0.1, 1), 800)",
    "report <- function(what) writeLines(sprintf('%s %.6f', what, as.numeric(Sys.time())), 'ended.txt')",
    "writeLines('fitting', 'started.txt')",
    "fit <- function() wlra(M, W, rank = 16, max_iterations = 1e9, tolerance = 0, method = 'alternating',",
    "                       solver = 'exact', threads = 1)",
    if (handler) {
      "tryCatch({ fit(); report('finished') }, interrupt = function(e) report('interrupted'))"
    } else {
      "local({ on.exit(report('halted')); fit(); report('finished') })"
    }), script)
  rscript <- file.path(R.home("bin"), "Rscript")
  pid <- system(sprintf("cd %s && exec %s --vanilla %s >out.txt 2>&1 & echo $!",
                        shQuote(dir), shQuote(rscript), shQuote(script)), intern = TRUE)
  as.integer(pid)
}

wait_for <- function(file, seconds) {
  deadline <- Sys.time() + seconds
  while (!file.exists(file) && Sys.time() < deadline) Sys.sleep(0.01)
  file.exists(file)
}

test_that("Ctrl-C during a long fit returns control within a second", {
  skip_on_os("windows")
  dir <- tempfile("wlra-interrupt")
  dir.create(dir)
  pid <- long_fit_child(dir, handler = TRUE)
  on.exit(tools::pskill(pid, tools::SIGKILL), add = TRUE)
  expect_true(wait_for(file.path(dir, "started.txt"), 10))
  Sys.sleep(2)
  expect_false(file.exists(file.path(dir, "ended.txt")))
  sent <- as.numeric(Sys.time())
  tools::pskill(pid, tools::SIGINT)
  expect_true(wait_for(file.path(dir, "ended.txt"), 5))
  seen <- as.numeric(Sys.time()) - sent
  ended <- strsplit(readLines(file.path(dir, "ended.txt")), " ")[[1]]
  latency <- as.numeric(ended[2]) - sent
  cat(file = stderr(), sprintf("\nCtrl-C: the fit %s %.3f s after SIGINT (seen by the test after %.3f s)\n",
                               ended[1], latency, seen))
  expect_identical(ended[1], "interrupted")
  expect_lt(latency, 1)
})

test_that("Ctrl-C with no handler stops a script as R's own interrupt does", {
  skip_on_os("windows")
  dir <- tempfile("wlra-interrupt")
  dir.create(dir)
  pid <- long_fit_child(dir, handler = FALSE)
  on.exit(tools::pskill(pid, tools::SIGKILL), add = TRUE)
  expect_true(wait_for(file.path(dir, "started.txt"), 10))
  Sys.sleep(1)
  sent <- as.numeric(Sys.time())
  tools::pskill(pid, tools::SIGINT)
  expect_true(wait_for(file.path(dir, "ended.txt"), 5))
  ended <- strsplit(readLines(file.path(dir, "ended.txt")), " ")[[1]]
  # The fit never finished: the interrupt unwound it (running on.exit).
  expect_identical(ended[1], "halted")
  expect_lt(as.numeric(ended[2]) - sent, 1)
})
