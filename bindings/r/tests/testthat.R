# R CMD check entry point; bindings/r/tests/run.R is the one bindings/run-tests.sh uses.
library(testthat)
library(wlra)
test_check("wlra")
