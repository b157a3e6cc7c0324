# wlra() and wlra_sparse(): the R face of the C ABI's create / set_option /
# fit (wlra_fit, wlra_fit_csr) / get_factors sequence, and the "wlra" fit
# object. Numerics all live in libwlra; this file checks R-level shapes,
# names options, turns statuses into conditions and puts the factors in
# their canonical form. Methods of the object: R/methods.R; cross-validation:
# R/cross_validate.R.

# Option names -> WLRA_OPTION_* values, and the named values of solver / init
# / ... (C ABI version 1, stable; a test checks them against include/wlra.h).
# offsets is set through wlra()'s own argument, not through `...`.
.wlra_options <- c(
  max_iterations = 1, tolerance = 2, seed = 3, solver = 4, init = 5, ridge = 6,
  threads = 7, sketch_size_factor = 8, regression_tolerance = 9, clip = 10,
  adaptive_accuracy = 11, overrelaxation = 12, method = 13, restarts = 14,
  ridge_scaling = 15, folds = 16, held_out_fold = 17, offsets = 18,
  # 19 is WLRA_OPTION_MISSING_NAN, the package's own (.wlra_option_missing_nan).
  mixed_precision = 20
)
# WLRA_OPTION_MISSING_NAN (C ABI 1.4): the library reads NA / NaN in M as a
# missing entry (weight 0) in place; wlra() and predict(newdata =) set it,
# so M is never copied or scanned here. Not a user option.
.wlra_option_missing_nan <- 19
.wlra_choices <- list(
  solver = c(auto = 0, exact = 1, sketch = 2, shared_pcg = 3),
  init = c(svd = 0, random = 1, given = 2),
  method = c(auto = 0, alternating = 1, varpro = 2, accelerated = 3),
  ridge_scaling = c(uniform = 0, weight_sums = 1),
  offsets = c(none = 0, rows = 1, columns = 2, both = 3)
)
# What WLRA_INFO_METHOD_USED reports, by value: the methods one can ask for,
# and WLRA_METHOD_SVD (4), the closed form AUTO runs where the truncated SVD
# is the optimum.
.wlra_methods_used <- c("auto", "alternating", "varpro", "accelerated", "svd")

# The `offsets` argument of wlra(), wlra_sparse() and cross_validate(),
# matched as match.arg() does (the default, all four, is "none"), an
# invalid_argument error naming the value otherwise.
offsets_choice <- function(offsets, call) {
  choices <- names(.wlra_choices$offsets)
  tryCatch(match.arg(offsets, choices), error = function(e) {
    stop(wlra_condition(2L, sprintf("offsets = %s is not one of %s", paste(deparse(offsets), collapse = " "),
                                    paste0("\"", choices, "\"", collapse = ", ")), call))
  })
}
.wlra_status_names <- c(
  "null_pointer", "invalid_argument", "non_finite_input", "negative_weight",
  "not_fitted", "cancelled", "out_of_memory", "numerical", "internal", "busy"
)

# An R condition for a wlra status: classes
# c("wlra_error_<status>", "wlra_error", "error", "condition").
wlra_condition <- function(status, message, call = sys.call(-1), ...) {
  name <- if (status >= 1 && status <= length(.wlra_status_names)) .wlra_status_names[[status]] else "unknown"
  structure(
    class = c(paste0("wlra_error_", name), "wlra_error", "error", "condition"),
    list(message = message, call = call, status = status, status_name = name, ...)
  )
}

is_sparse_matrix <- function(x) isS4(x) && methods::is(x, "sparseMatrix")

as_double_matrix <- function(x, what) {
  if (is_sparse_matrix(x)) {
    stop(wlra_condition(2L, sprintf(paste(
      "%s is a sparse matrix (%s): use wlra_sparse(), which keeps it sparse",
      "(and says what M and W are outside its pattern)"), what, class(x)[1]), NULL))
  }
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!is.matrix(x)) stop(wlra_condition(2L, sprintf("%s must be a matrix", what), NULL))
  # Refused before any conversion: as.double() would turn text into NA
  # ("NAs introduced by coercion", then a fit of the rest) and drop
  # imaginary parts with only a warning.
  if (is.complex(x)) {
    stop(wlra_condition(2L, sprintf(paste(
      "%s is a complex matrix: wlra fits real matrices",
      "(pass Re(%s) or Mod(%s) if that is what you mean)"), what, what, what), NULL))
  }
  if (!is.numeric(x) && !is.logical(x)) {
    stop(wlra_condition(2L, sprintf(paste(
      "%s is a %s matrix: wlra needs a numeric one",
      "(convert it first, e.g. storage.mode(%s) <- \"double\", if its entries are numbers)"),
      what, typeof(x), what), NULL))
  }
  # Only integer or logical matrices are converted; doubles pass as they are.
  if (!is.double(x)) storage.mode(x) <- "double"
  x
}

# The first NA (or NaN) of W, 1-based, as a wlra_error_non_finite_input:
# NA means missing in M only. O(n m) only when W holds an NA.
stop_if_na_weight <- function(W, call, names = c("W", "M")) {
  if (!anyNA(W)) return(invisible())
  at <- which(is.na(W), arr.ind = TRUE)[1, ]
  stop(wlra_condition(3L, sprintf(
    "%s[%d, %d] = %s is not finite (NA means missing in %s only; give weight 0 instead)",
    names[[1]], at[[1]], at[[2]], if (is.nan(W[at[[1]], at[[2]]])) "NaN" else "NA", names[[2]]), call))
}

# The library names entries 0-based (M[2, 1] = Inf): R's 1-based [3, 2];
# fold-in's M_rows and W_rows are predict()'s newdata and weights; folds
# (WLRA_OPTION_HELD_OUT_FOLD) count from 1 as held_out_fold does in R.
one_based_message <- function(message) {
  at <- regmatches(message, regexec("^(M|W|M_rows|W_rows)\\[([0-9]+), ([0-9]+)\\](.*)$", message))[[1]]
  if (length(at) == 5) {
    name <- c(M = "M", W = "W", M_rows = "newdata", W_rows = "weights")[[at[[2]]]]
    return(sprintf("%s[%.0f, %.0f]%s", name, as.numeric(at[[3]]) + 1, as.numeric(at[[4]]) + 1, at[[5]]))
  }
  at <- regmatches(message, regexec("^fold ([0-9]+) of WLRA_OPTION_FOLDS = ([0-9]+)(.*)$", message))[[1]]
  if (length(at) == 4) {
    return(sprintf("held_out_fold = %.0f of folds = %s%s", as.numeric(at[[2]]) + 1, at[[3]], at[[4]]))
  }
  message
}

# Options, start and progress as the .Call glue takes them, checked; shared
# by wlra() and wlra_sparse(). `raised` receives an error of `progress`.
# held_out_fold counts from 1 in R (WLRA_OPTION_HELD_OUT_FOLD from 0).
fit_arguments <- function(rank, options, start, progress, raised, call, dims) {
  if (!is.numeric(rank) || length(rank) != 1 || is.na(rank) || rank < 0 || rank != floor(rank)) {
    stop(wlra_condition(2L, sprintf("rank = %s must be a whole number >= 1", format(rank)), call))
  }
  if (!is.null(start) && is.null(options$init)) options$init <- "given"
  names_ <- names(options)
  if (length(options) && (is.null(names_) || any(names_ == ""))) stop("wlra options must be named")
  unknown <- setdiff(names_, names(.wlra_options))
  if (length(unknown)) {
    stop(sprintf("unknown wlra option(s) %s; options are %s",
                 paste(unknown, collapse = ", "), paste(names(.wlra_options), collapse = ", ")))
  }
  values <- vapply(names_, function(name) {
    value <- options[[name]]
    choices <- .wlra_choices[[name]]
    if (!is.null(choices) && is.character(value)) {
      if (!(value %in% names(choices))) {
        stop(wlra_condition(2L, sprintf("%s = \"%s\" is not one of %s", name, value,
                                        paste(names(choices), collapse = ", ")), call))
      }
      return(unname(choices[[value]]))
    }
    if (length(value) != 1 || !(is.numeric(value) || is.logical(value))) {
      stop(wlra_condition(2L, sprintf("option %s must be a single number", name), call))
    }
    as.double(value)
  }, numeric(1))
  if ("held_out_fold" %in% names_) {
    fold <- values[["held_out_fold"]]
    folds <- if ("folds" %in% names_) values[["folds"]] else NA
    if (is.na(fold) || fold < 1 || fold != floor(fold) || (!is.na(folds) && fold > folds)) {
      stop(wlra_condition(2L, sprintf("held_out_fold = %s must be a whole number in 1..folds%s",
                                      format(fold), if (is.na(folds)) "" else sprintf(" = %s", format(folds))), call))
    }
    values[["held_out_fold"]] <- fold - 1
  }

  start_u <- start_v <- NULL
  if (!is.null(start)) {
    start_u <- as_double_matrix(start$U, "start$U")
    start_v <- as_double_matrix(start$V, "start$V")
    # The C ABI reads rank columns: fewer would be read past, more ignored.
    check_start_shape(start_u, "start$U", dims[[1]], "row of M", rank, call)
    check_start_shape(start_v, "start$V", dims[[2]], "column of M", rank, call)
  }

  # The callback wrapper never signals: an error in `progress` cancels the
  # fit and is re-signalled by fit_result(), after libwlra has returned.
  wrapper <- NULL
  if (!is.null(progress)) {
    progress <- match.fun(progress)
    wrapper <- function(iteration, objective) {
      tryCatch(isTRUE(as.logical(progress(iteration, objective))),
               error = function(e) { raised$error <- e; TRUE },
               interrupt = function(e) { raised$error <- e; TRUE })
    }
  }
  list(rank = as.double(rank), option_ids = unname(as.double(.wlra_options[names_])),
       option_values = unname(values), progress = wrapper, start_u = start_u, start_v = start_v)
}

check_start_shape <- function(x, what, rows, of, rank, call) {
  if (!identical(dim(x), as.integer(c(rows, rank)))) {
    stop(wlra_condition(2L, sprintf(
      "%s is %d x %d but must be %d x %.0f: one row per %s (%d) and one column per component (rank = %.0f)",
      what, nrow(x), ncol(x), rows, rank, of, rows, rank), call))
  }
}

# Ctrl-C seen by the C glue, raised once libwlra has returned, as R raises
# its own: an "interrupt" condition for the handlers in reach
# (tryCatch(interrupt = ), withCallingHandlers), then back to the top level.
raise_interrupt <- function() {
  signalCondition(structure(class = c("interrupt", "condition"), list(message = "", call = NULL)))
  invokeRestart("abort")
}

# The canonical form of U V^T, computed by the library (wlra_get_canonical,
# C ABI 1.4): u (n x k) and v (m x k) with orthonormal columns and d (k,
# decreasing) with u diag(d) t(v) = U t(V), k <= min(n, m); from the thin QR
# of each factor and the SVD of the k x k core, O((n + m) k^2). In each
# column of v the entry of largest magnitude is positive (the first of
# equal ones), u's column flipped with it: the rule of the Python binding.
canonical_factors <- function(U, V) {
  k <- ncol(U)
  if (k == 0 || nrow(U) == 0 || nrow(V) == 0) {
    return(list(u = U[, 0, drop = FALSE], d = numeric(), v = V[, 0, drop = FALSE]))
  }
  storage.mode(U) <- "double"
  storage.mode(V) <- "double"
  out <- .Call(C_wlra_r_canonical, U, V)
  if (out[[1]] != 0L) stop(wlra_condition(out[[1]], one_based_message(out[[2]]), sys.call(-1)))
  u <- out[[3]]
  v <- out[[5]]
  dimnames(u) <- list(rownames(U), NULL)
  dimnames(v) <- list(rownames(V), NULL)
  list(u = u, d = out[[4]], v = v)
}

# The options with WLRA_OPTION_OFFSETS added, unless it is "none" (the
# library's default, left unset as before offsets existed).
with_offsets <- function(options, offsets) {
  if (offsets != "none") options$offsets <- offsets
  options
}

# The iteration budget a fit ran under, in words: an explicit max_iterations
# bounds the whole fit, restarts included; without one every start gets its
# outer method's default budget (100 iterations for alternation, 500 for
# VarPro), so the total may exceed 100 (docs/api.md, WLRA_OPTION_MAX_ITERATIONS).
iteration_budget <- function(x) {
  if (isFALSE(x$max_iterations_given)) {
    starts <- if (!is.null(x$starts) && !is.na(x$starts) && x$starts > 1) sprintf("%d starts, ", x$starts) else ""
    sprintf("%smax_iterations not set: each start runs up to its method's default, 100 for alternation, 500 for VarPro",
            starts)
  } else {
    sprintf("max_iterations = %d for the whole fit, restarts included", x$max_iterations)
  }
}

# The "wlra" object, or the condition, for what the .Call glue returned:
# list(status, message, U, V, info, options, a, b). `data` is the M fitted
# (kept for residuals(), by reference: no copy); `names` the dimnames of the
# factors' rows. row_offsets (a) and col_offsets (b) are NULL for a side
# the fit does not have (WLRA_OPTION_OFFSETS, read back from the model).
fit_result <- function(out, raised, call, data = NULL, names = list(NULL, NULL), budget_given = TRUE) {
  status <- out[[1]]
  if (status == -2L || inherits(raised$error, "interrupt")) raise_interrupt()
  if (!is.null(raised$error)) stop(raised$error)
  if (status == -1L) stop(wlra_condition(6L, "the progress callback could not be run", call))
  if (status != 0L && status != 6L) stop(wlra_condition(status, one_based_message(out[[2]]), call))
  info <- out[[5]]
  read <- out[[6]]
  U <- out[[3]]
  V <- out[[4]]
  rownames(U) <- names[[1]]
  rownames(V) <- names[[2]]
  canonical <- canonical_factors(U, V)
  offsets <- if (is.na(read[[5]])) "none" else names(.wlra_choices$offsets)[read[[5]] + 1]
  row_offsets <- col_offsets <- NULL
  if (offsets %in% c("rows", "both")) row_offsets <- stats::setNames(out[[7]], names[[1]])
  if (offsets %in% c("columns", "both")) col_offsets <- stats::setNames(out[[8]], names[[2]])
  result <- structure(
    list(U = U, V = V, u = canonical$u, d = canonical$d, v = canonical$v,
         offsets = offsets, row_offsets = row_offsets, col_offsets = col_offsets,
         objective = info[[1]], iterations = as.integer(info[[2]]),
         converged = info[[3]] != 0, elapsed_seconds = info[[4]],
         solver_used = names(.wlra_choices$solver)[info[[5]] + 1],
         method_used = if (is.na(info[[6]])) NA_character_ else .wlra_methods_used[info[[6]] + 1],
         starts = as.integer(info[[7]]), starts_at_best = as.integer(info[[8]]),
         held_out_rmse = info[[9]], held_out_entries = as.integer(info[[10]]),
         max_iterations = as.integer(read[[1]]), max_iterations_given = budget_given,
         tolerance = read[[2]], ridge = read[[3]],
         ridge_scaling = if (is.na(read[[4]])) NA_character_ else names(.wlra_choices$ridge_scaling)[read[[4]] + 1],
         data = data, call = call),
    class = "wlra"
  )
  if (status == 6L) stop(wlra_condition(6L, out[[2]], call, result = result))
  # max_iterations = 0 (the start as it is) and tolerance = 0 (exactly
  # max_iterations iterations) ask for a fit that cannot converge: no warning.
  if (!result$converged && isTRUE(result$max_iterations > 0) && isTRUE(result$tolerance > 0)) {
    warning(structure(
      class = c("wlra_convergence_warning", "warning", "condition"),
      list(message = sprintf(paste(
        "wlra did not converge: %d iterations (%s) ended with the objective's",
        "relative decrease above tolerance = %g; raise max_iterations or tolerance"),
        result$iterations, iteration_budget(result), result$tolerance),
        call = call, result = result)))
  }
  # Rows or columns without a positive weight (WLRA_INFO_ZERO_WEIGHT_LINES,
  # counted by the library): their factor rows are 0.
  zero_lines <- info[[11]]
  if (length(zero_lines) && !is.na(zero_lines) && zero_lines > 0) {
    n <- nrow(U)
    m <- nrow(V)
    text <- if (zero_lines == n + m) {
      "wlra: every weight is 0 (or every entry of M missing): the fit is U = V = 0, d = 0"
    } else {
      sprintf("wlra: %d of the %d rows and %d columns have no positive weight (all weights 0, or M missing there): their factor rows are 0",
              as.integer(zero_lines), n, m)
    }
    warning(structure(class = c("wlra_zero_weight_warning", "warning", "condition"),
                      list(message = text, call = call, result = result)))
  }
  # A product U V^T of rank below `rank` (WLRA_INFO_DEGENERATE, counted
  # by the library); not said again when every weight is 0.
  deficiency <- info[[12]]
  all_zero <- isTRUE(zero_lines == nrow(U) + nrow(V))
  if (length(deficiency) && !is.na(deficiency) && deficiency > 0 && !all_zero) {
    k <- ncol(U)
    text <- if (deficiency == k) {
      sprintf("wlra: the fit is degenerate: U V^T = 0 (all %d singular values are 0)", k)
    } else {
      sprintf("wlra: the fit is degenerate: U V^T has rank %d, below rank = %d (%d of its singular values are 0); a lower rank fits the same product",
              k - as.integer(deficiency), k, as.integer(deficiency))
    }
    warning(structure(class = c("wlra_degenerate_warning", "warning", "condition"),
                      list(message = text, call = call, result = result)))
  }
  result
}

# Weighted low rank approximation.
#
# Fits U (nrow(M) x rank) and V (ncol(M) x rank) minimizing
# sum(W * (M - U %*% t(V))^2) + ridge * (sum(U^2) + sum(V^2)); with
# offsets, M - a 1^T - 1 b^T - U V^T inside, a and b unpenalized.
# Double matrices are passed to libwlra without a copy; integer and logical
# matrices are converted to double first. For sparse matrices (package
# Matrix) see wlra_sparse().
#
# @param M numeric matrix.
# @param W NULL (all weights 1) or non-negative matrix of M's shape.
# @param rank number of columns of U and V (>= 1).
# @param ... options by name, the C ABI's defaults when left out:
#   max_iterations (100), tolerance (1e-8), seed (0),
#   solver ("auto", "exact", "sketch", "shared_pcg"), init ("svd", "random", "given"),
#   ridge (0), threads (0 = all cores), sketch_size_factor (4),
#   regression_tolerance (1e-10), clip (0 = off), adaptive_accuracy (1 = on),
#   overrelaxation (1 = off; in (0, 2)), mixed_precision (1 = on: loose inner solves of
#   sparse SHARED_PCG gather float32 rows; 0 = float64 throughout),
#   method ("auto", "alternating", "varpro", "accelerated": the outer method),
#   restarts (-1 = auto, the default: restarts around VarPro; 0 = off; r > 0: up to r further seeded random starts, until the
#   best objective has been reached twice).
#   ridge_scaling ("uniform", "weight_sums"), folds (0 = none, or >= 2) and
#   held_out_fold (1..folds: the fold held out, its RMSE in held_out_rmse).
# @param progress NULL or function(iteration, objective) called after every
#   iteration; returning TRUE cancels the fit, which signals a
#   wlra_error_cancelled condition whose $result holds the factors of the
#   completed iterations.
# @param offsets "none", "rows" (a), "columns" (b) or "both"
#   (WLRA_OPTION_OFFSETS), fitted jointly with U and V.
# @param start NULL or list(U = , V = ) of starting factors (init = "given"),
#   nrow(M) x rank and ncol(M) x rank.
# @param verbose TRUE: one line per iteration. Ctrl-C cancels the fit after
#   the iteration it interrupts and raises R's interrupt once libwlra has
#   returned.
# @return list of class "wlra": U, V, their canonical form u, d, v,
#   offsets (the value fitted), row_offsets and col_offsets (NULL for a side
#   not fitted; without a ridge in the gauge 1^T V = 0, 1^T U = 0, sum(b) =
#   0 of the sides fitted), objective, iterations, converged, elapsed_seconds, solver_used,
#   method_used, starts, starts_at_best, held_out_rmse, held_out_entries (NA
#   where the library does not report them), the options max_iterations,
#   tolerance, ridge, ridge_scaling as the fit had them, data (M) and call.
#   A fit that ends unconverged warns (wlra_convergence_warning), unless
#   tolerance or max_iterations is 0.
wlra <- function(M, W = NULL, rank, ..., offsets = c("none", "rows", "columns", "both"),
                 progress = NULL, start = NULL, verbose = FALSE) {
  call <- match.call()
  offsets <- offsets_choice(offsets, call)
  M <- as_double_matrix(M, "M")
  data <- M
  if (!is.null(W)) {
    W <- as_double_matrix(W, "W")
    if (!identical(dim(W), dim(M))) {
      stop(wlra_condition(2L, sprintf("W is %d x %d but M is %d x %d", nrow(W), ncol(W), nrow(M), ncol(M)), call))
    }
  }
  if (missing(rank)) stop("argument \"rank\" is missing, with no default")
  # NA (or NaN) in M means missing, weight 0 there (W = NULL: 1 elsewhere):
  # the library reads it so (WLRA_OPTION_MISSING_NAN); NA in W is an error.
  if (!is.null(W)) stop_if_na_weight(W, call)
  raised <- new.env()
  a <- fit_arguments(rank, with_offsets(list(...), offsets), start, progress, raised, call, dim(M))
  a$option_ids <- c(a$option_ids, .wlra_option_missing_nan)
  a$option_values <- c(a$option_values, 1)
  out <- .Call(C_wlra_r_fit, M, W, a$rank, a$option_ids, a$option_values, a$progress,
               isTRUE(verbose), a$start_u, a$start_v)
  fit_result(out, raised, call, data, list(rownames(data), colnames(data)),
             budget_given = "max_iterations" %in% names(list(...)))
}

# A sparseMatrix of package Matrix as a dgCMatrix: a dgCMatrix as it is,
# another class through Matrix's coercions (a triplet matrix sums its
# repeated entries there).
as_dgc_matrix <- function(x, what, call) {
  if (!is_sparse_matrix(x)) {
    stop(wlra_condition(2L, sprintf("%s must be a sparse matrix of package Matrix (a dgCMatrix, ...), got %s",
                                    what, class(x)[1]), call))
  }
  if (!methods::is(x, "dgCMatrix")) {
    x <- methods::as(methods::as(methods::as(x, "CsparseMatrix"), "generalMatrix"), "dMatrix")
  }
  x
}

# Signals a wlra_error_invalid_argument naming an entry (1-based) that one of
# M and W stores and the other does not. O(nnz).
check_same_pattern <- function(M, W, call) {
  if (!identical(dim(W), dim(M))) {
    stop(wlra_condition(2L, sprintf("W is %d x %d but M is %d x %d", nrow(W), ncol(W), nrow(M), ncol(M)), call))
  }
  if (identical(M@p, W@p) && identical(M@i, W@i)) return(invisible())
  counts_m <- diff(M@p)
  counts_w <- diff(W@p)
  # The first column whose entry count differs; before it both patterns line
  # up entry by entry, so the first differing row index (if any) lies in an
  # earlier column.
  col <- which(counts_m != counts_w)[1]
  end <- if (is.na(col)) length(M@i) else M@p[col]
  differ <- which(M@i[seq_len(end)] != W@i[seq_len(end)])[1]
  if (!is.na(differ)) col <- findInterval(differ - 1, M@p)
  rows_m <- M@i[seq.int(M@p[col] + 1L, length.out = counts_m[col])]
  rows_w <- W@i[seq.int(W@p[col] + 1L, length.out = counts_w[col])]
  only_m <- setdiff(rows_m, rows_w)
  only_w <- setdiff(rows_w, rows_m)
  entry <- if (length(only_m)) c("M", "W", only_m[1]) else c("W", "M", only_w[1])
  stop(wlra_condition(2L, sprintf(
    "W must store exactly the entries M stores: %s stores [%d, %d] but %s does not (M has %d stored entries, W %d)",
    entry[1], as.integer(entry[3]) + 1L, col, entry[2], length(M@i), length(W@i)), call))
}

# Weighted low rank approximation of a sparse problem.
#
# The entries the sparse matrix M stores are observed, with the weights W
# stores at the same places; every other entry has the value m_default and
# the weight w_default. Fits U and V as wlra() does for that problem,
# without ever forming an nrow(M) x ncol(M) matrix: a dgCMatrix is
# transposed to the C ABI's CSR in O(nnz) time and memory.
#
# @param M a sparse matrix of package Matrix: a dgCMatrix, or another
#   sparseMatrix (converted to one by Matrix: triplet matrices sum repeated
#   entries). Stored zeros are observed zeros (Matrix::drop0() drops them).
# @param W NULL (every stored entry weighs 1) or a sparse matrix storing
#   exactly the entries M stores, with their weights.
# @param rank,...,offsets,progress,start,verbose as for wlra().
# @param m_default,w_default M and W outside the pattern: w_default = 0 is
#   matrix completion, w_default > 0 implicit feedback.
# @return a "wlra" object, as wlra().
wlra_sparse <- function(M, W = NULL, rank, ..., offsets = c("none", "rows", "columns", "both"),
                        m_default = 0, w_default = 0, progress = NULL, start = NULL, verbose = FALSE) {
  call <- match.call()
  offsets <- offsets_choice(offsets, call)
  M <- as_dgc_matrix(M, "M", call)
  data <- M
  if (!is.null(W)) {
    W <- as_dgc_matrix(W, "W", call)
    check_same_pattern(M, W, call)
  }
  if (missing(rank)) stop("argument \"rank\" is missing, with no default")
  # NA stored in M means missing, as in wlra(): weight 0 at that entry.
  if (!is.null(W) && anyNA(W@x)) {
    at <- which(is.na(W@x))[1]
    stop(wlra_condition(3L, sprintf(
      "W[%d, %d] = %s is not finite (NA means missing in M only; give weight 0 instead)",
      W@i[at] + 1L, findInterval(at - 1, W@p, left.open = FALSE), format(W@x[at])), call))
  }
  # The library reads a stored NA in M so (WLRA_OPTION_MISSING_NAN): no copy.
  defaults <- list(m_default = m_default, w_default = w_default)
  for (name in names(defaults)) {
    if (!is.numeric(defaults[[name]]) || length(defaults[[name]]) != 1) {
      stop(wlra_condition(2L, sprintf("%s must be a single number", name), call))
    }
  }
  raised <- new.env()
  a <- fit_arguments(rank, with_offsets(list(...), offsets), start, progress, raised, call, dim(M))
  a$option_ids <- c(a$option_ids, .wlra_option_missing_nan)
  a$option_values <- c(a$option_values, 1)
  out <- .Call(C_wlra_r_fit_csc, M@Dim, M@p, M@i, M@x, if (is.null(W)) NULL else W@x,
               as.double(unlist(defaults)),
               a$rank, a$option_ids, a$option_values, a$progress, isTRUE(verbose), a$start_u, a$start_v)
  fit_result(out, raised, call, data, M@Dimnames, budget_given = "max_iterations" %in% names(list(...)))
}

# The version of the linked libwlra, e.g. "1.0.0".
wlra_library_version <- function() .Call(C_wlra_r_version)

# What the library says a WLRA_OPTION_* id accepts (wlra_option_info):
# list(name, min, max, default), NULL for an unknown id. Every value in
# [min, max] is accepted (a whole number for integer options).
.wlra_option_info <- function(option) .Call(C_wlra_r_option_info, as.integer(option))
