# wlra(): the R face of the C ABI's create / set_option / fit / get_factors
# sequence. Numerics all live in libwlra; this file checks R-level shapes,
# names options and turns statuses into conditions.

# Option names -> WLRA_OPTION_* values, and the named values of solver / init
# (C ABI version 1, stable; a test checks them against include/wlra.h).
.wlra_options <- c(
  max_iterations = 1, tolerance = 2, seed = 3, solver = 4, init = 5, ridge = 6,
  threads = 7, sketch_size_factor = 8, regression_tolerance = 9, clip = 10,
  adaptive_accuracy = 11
)
.wlra_choices <- list(
  solver = c(auto = 0, exact = 1, sketch = 2, shared_pcg = 3),
  init = c(svd = 0, random = 1, given = 2)
)
.wlra_status_names <- c(
  "null_pointer", "invalid_argument", "non_finite_input", "negative_weight",
  "not_fitted", "cancelled", "out_of_memory", "numerical", "internal"
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

as_double_matrix <- function(x, what) {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!is.matrix(x)) stop(wlra_condition(2L, sprintf("%s must be a matrix", what), NULL))
  # Only integer or logical matrices are converted; doubles pass as they are.
  if (!is.double(x)) storage.mode(x) <- "double"
  x
}

#' Weighted low rank approximation.
#'
#' Fits U (nrow(M) x rank) and V (ncol(M) x rank) minimizing
#' sum(W * (M - U %*% t(V))^2) + ridge * (sum(U^2) + sum(V^2)).
#' Double matrices are passed to libwlra without a copy; integer and logical
#' matrices are converted to double first.
#'
#' @param M numeric matrix.
#' @param W NULL (all weights 1) or non-negative matrix of M's shape.
#' @param rank number of columns of U and V (>= 1).
#' @param ... options by name, the C ABI's defaults when left out:
#'   max_iterations (100), tolerance (1e-8), seed (0),
#'   solver ("auto", "exact", "sketch", "shared_pcg"), init ("svd", "random", "given"),
#'   ridge (0), threads (0 = all cores), sketch_size_factor (4),
#'   regression_tolerance (1e-10), clip (0 = off), adaptive_accuracy (1 = on).
#' @param progress NULL or function(iteration, objective) called after every
#'   iteration; returning TRUE cancels the fit, which signals a
#'   wlra_error_cancelled condition whose $result holds the factors of the
#'   completed iterations.
#' @param start NULL or list(U = , V = ) of starting factors (init = "given").
#' @return list of class "wlra": U, V, objective, iterations, converged,
#'   elapsed_seconds, solver_used.
wlra <- function(M, W = NULL, rank, ..., progress = NULL, start = NULL) {
  call <- match.call()
  M <- as_double_matrix(M, "M")
  if (!is.null(W)) {
    W <- as_double_matrix(W, "W")
    if (!identical(dim(W), dim(M))) {
      stop(wlra_condition(2L, sprintf("W is %d x %d but M is %d x %d", nrow(W), ncol(W), nrow(M), ncol(M)), call))
    }
  }
  if (missing(rank)) stop("argument \"rank\" is missing, with no default")
  if (!is.numeric(rank) || length(rank) != 1 || is.na(rank) || rank < 0 || rank != floor(rank)) {
    stop(wlra_condition(2L, sprintf("rank = %s must be a whole number >= 1", format(rank)), call))
  }

  options <- list(...)
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

  start_u <- start_v <- NULL
  if (!is.null(start)) {
    start_u <- as_double_matrix(start$U, "start$U")
    start_v <- as_double_matrix(start$V, "start$V")
  }

  # The callback wrapper never signals: an error in `progress` cancels the
  # fit and is re-signalled here, after libwlra has returned.
  raised <- new.env()
  wrapper <- NULL
  if (!is.null(progress)) {
    progress <- match.fun(progress)
    wrapper <- function(iteration, objective) {
      tryCatch(isTRUE(as.logical(progress(iteration, objective))),
               error = function(e) { raised$error <- e; TRUE },
               interrupt = function(e) { raised$error <- e; TRUE })
    }
  }

  out <- .Call(C_wlra_r_fit, M, W, as.double(rank), unname(as.double(.wlra_options[names_])),
               unname(values), wrapper, start_u, start_v)
  status <- out[[1]]
  if (!is.null(raised$error)) stop(raised$error)
  if (status == -1L) stop(wlra_condition(6L, "the progress callback could not be run", call))
  if (status != 0L && status != 6L) stop(wlra_condition(status, out[[2]], call))
  info <- out[[5]]
  result <- structure(
    list(U = out[[3]], V = out[[4]], objective = info[[1]], iterations = as.integer(info[[2]]),
         converged = info[[3]] != 0, elapsed_seconds = info[[4]],
         solver_used = names(.wlra_choices$solver)[info[[5]] + 1], call = call),
    class = "wlra"
  )
  if (status == 6L) stop(wlra_condition(6L, out[[2]], call, result = result))
  result
}

#' The low rank approximation U %*% t(V).
fitted.wlra <- function(object, ...) tcrossprod(object$U, object$V)

#' Entries of U %*% t(V): the whole matrix when i and j are missing, else the
#' entries at rows i and columns j (vectors of one length, or a two-column
#' index matrix as i).
predict.wlra <- function(object, i, j, ...) {
  if (missing(i) && missing(j)) return(fitted(object))
  if (missing(j)) {
    stopifnot(is.matrix(i), ncol(i) == 2)
    j <- i[, 2]
    i <- i[, 1]
  }
  stopifnot(length(i) == length(j))
  rowSums(object$U[i, , drop = FALSE] * object$V[j, , drop = FALSE])
}

print.wlra <- function(x, ...) {
  cat(sprintf("wlra fit: %d x %d, rank %d; objective %.6g after %d iterations (%s), solver %s\n",
              nrow(x$U), nrow(x$V), ncol(x$U), x$objective, x$iterations,
              if (x$converged) "converged" else "not converged", x$solver_used))
  invisible(x)
}

#' The version of the linked libwlra, e.g. "1.0.0".
wlra_library_version <- function() .Call(C_wlra_r_version)
