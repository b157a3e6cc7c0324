# Runs the testthat suite against the installed package and ends with
# "R: N passed, M failed"; exits non-zero on any failure.
# Usage: Rscript bindings/r/tests/run.R   (wlra installed in .libPaths())
library(testthat)
library(wlra)
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])))
results <- as.data.frame(test_dir(file.path(here, "testthat"), package = "wlra",
                                  load_package = "installed", reporter = "summary",
                                  stop_on_failure = FALSE))
failed <- sum(results$failed) + sum(results$error)
passed <- sum(results$nb) - sum(results$failed)
cat(sprintf("R: %d passed, %d failed\n", passed, failed))
quit(status = if (failed > 0) 1 else 0)
