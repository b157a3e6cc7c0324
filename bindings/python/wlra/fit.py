"""wlra.fit: one call of the C ABI's create / set_option / fit / get_factors
sequence, with numpy arrays passed in place (any leading dimension, either
layout) and statuses turned into exceptions. The sequence itself (_run) is
shared with wlra.fit_sparse (sparse.py)."""

import contextlib
import ctypes
import signal
import sys
import threading
import warnings

import numpy as np

from . import _library as C
from .errors import CancelledError, InvalidArgumentError, NonFiniteInputError, convergence_warning, error_for

_SOLVER_NAMES = {v: k for k, v in C.SOLVERS.items()}
_METHOD_NAMES = {**{v: k for k, v in C.METHODS.items()}, C.METHOD_SVD: "svd"}


def canonical_factors(U, V):
    """(U_c, s, V_c) with U_c diag(s) V_c^T = U V^T: U_c (n x k) and V_c
    (m x k) with orthonormal columns, s (k) descending and >= 0, and in each
    column of V_c its entry of largest magnitude positive (the first such
    entry on ties). Computed by the library (wlra_get_canonical, C ABI 1.4:
    a thin QR of each factor and the SVD of the k x k core, O((n + m) k^2)
    flops, nothing of size n x m); U and V are loaded into a model for it
    (wlra_set_fitted), so k <= min(n, m)."""
    lib = C.lib()
    if getattr(lib, "wlra_get_canonical", None) is None:
        raise C.LibraryNotFoundError(
            f"{C.library_path()} is wlra {lib.wlra_version().decode()}, without wlra_get_canonical: "
            "the canonical form of a fit needs the C ABI 1.4 or later")
    with _loaded((U, V)) as (lib, model):
        (n, k), m = np.shape(U), np.shape(V)[0]
        U_c, s, V_c = np.empty((n, k)), np.empty(k), np.empty((m, k))
        _check(lib, model, lib.wlra_get_canonical(model, U_c.ctypes.data, max(k, 1), s.ctypes.data,
                                                  V_c.ctypes.data, max(k, 1), C.ROW_MAJOR))
    return U_c, s, V_c


class FitResult:
    """Factors and information of one fit, in canonical form:
    ``U diag(s) V^T`` is the fitted matrix, with

    - ``U`` (n_rows x rank) and ``V`` (n_cols x rank) with orthonormal
      columns (U^T U = V^T V = I),
    - ``s`` (rank) the singular values of the fitted matrix, descending, >= 0,
    - in each column of ``V`` the entry of largest magnitude positive (the
      first such entry on ties), which fixes each column's sign.

    ``fitted()`` is U diag(s) V^T, ``predict(i, j)`` its entries (the
    library's wlra_predict).
    ``library_factors`` is (U, V) as the library returned them (U V^T the
    same matrix, in the library's gauge): what ``start=`` takes for a warm
    start, and what the C API's programs see.

    Information: ``objective``, ``iterations``, ``converged``,
    ``elapsed_seconds``, ``solver_used`` ("exact", "sketch" or "shared_pcg"),
    ``method_used`` ("alternating", "varpro", "accelerated", or "svd": the
    truncated SVD in closed form, where it is the optimum), ``starts`` (starts run, 1
    without restarts) and ``starts_at_best`` (starts that reached the best
    objective); the last three are None with a library that does not report
    them. With ``folds`` and ``held_out_fold`` set, ``held_out_rmse`` and
    ``held_out_entries`` are the held-out fold's weighted RMSE and entry
    count (None otherwise)."""

    __slots__ = ("_canonical", "library_factors", "objective", "iterations", "converged",
                 "elapsed_seconds", "solver_used", "method_used", "starts", "starts_at_best",
                 "held_out_rmse", "held_out_entries", "row_offsets", "col_offsets")

    def __init__(self, library_U, library_V, objective, iterations, converged, elapsed_seconds,
                 solver_used, method_used=None, starts=None, starts_at_best=None, held_out_rmse=None,
                 held_out_entries=None, row_offsets=None, col_offsets=None):
        self.library_factors = (library_U, library_V)
        self.row_offsets = row_offsets
        self.col_offsets = col_offsets
        # The canonical form is computed on first use of U, s or V: a
        # caller that reads only the information (cross_validate reads
        # held_out_rmse) never pays for its two QRs, which cost
        # milliseconds each where numpy's BLAS threads compete for the
        # cores (issue 25: 1797 x 10 took 17 to 50 ms on a loaded 2-core
        # machine, 0.26 ms on one thread).
        self._canonical = None
        self.objective = objective
        self.iterations = iterations
        self.converged = converged
        self.elapsed_seconds = elapsed_seconds
        self.solver_used = solver_used
        self.method_used = method_used
        self.starts = starts
        self.starts_at_best = starts_at_best
        self.held_out_rmse = held_out_rmse
        self.held_out_entries = held_out_entries

    def _canonical_form(self):
        if self._canonical is None:
            self._canonical = canonical_factors(*self.library_factors)
        return self._canonical

    @property
    def U(self):
        """n_rows x rank, orthonormal columns."""
        return self._canonical_form()[0]

    @property
    def s(self):
        """The rank singular values of the fit, descending, >= 0."""
        return self._canonical_form()[1]

    @property
    def V(self):
        """n_cols x rank, orthonormal columns, each column's entry of
        largest magnitude positive."""
        return self._canonical_form()[2]

    @property
    def rank(self):
        return self.library_factors[0].shape[1]

    def fitted(self):
        """The model a 1^T + 1 b^T + U diag(s) V^T (n_rows x n_cols), with
        the offsets the fit had (``offsets=``; none by default)."""
        out = (self.U * self.s) @ self.V.T
        if self.row_offsets is not None:
            out += self.row_offsets[:, None]
        if self.col_offsets is not None:
            out += self.col_offsets[None, :]
        return out

    def predict(self, i, j):
        """Entries of the model (offsets included) at rows i and columns j
        (integer index arrays of one shape, or broadcastable; negative ones
        count from the end): the C API's wlra_predict on this fit, loaded
        with wlra_set_fitted (so a pickled and reloaded FitResult predicts
        as the fit did). O(len(i) k + (n_rows + n_cols) k), never the full
        product."""
        i, j = np.broadcast_arrays(np.asarray(i), np.asarray(j))
        (n, _), m = self.library_factors[0].shape, self.library_factors[1].shape[0]
        rows, cols = _indices(i, n, "i"), _indices(j, m, "j")
        out = np.empty(rows.shape)
        if out.size == 0:
            return out.reshape(i.shape)
        with _loaded(self.library_factors, self.row_offsets, self.col_offsets) as (lib, model):
            _check(lib, model, lib.wlra_predict(model, out.size, rows.ctypes.data, cols.ctypes.data,
                                                out.ctypes.data))
        return out.reshape(i.shape)

    def __repr__(self):
        (n, k), m = self.library_factors[0].shape, self.library_factors[1].shape[0]
        return (
            f"<wlra.FitResult {n}x{m} rank {k}: objective {self.objective:.6g}, "
            f"{self.iterations} iterations, converged={self.converged}, solver {self.solver_used!r}>"
        )


def _indices(index, length, name):
    """Integer indices as the contiguous int64 array wlra_predict reads,
    negative ones counted from the end as numpy does; the library refuses
    any still out of range, naming it."""
    if index.size and not np.issubdtype(index.dtype, np.integer):
        raise IndexError(f"{name} must hold integer indices, got dtype {index.dtype}")
    index = index.astype(np.int64).ravel()
    return np.ascontiguousarray(np.where(index < 0, index + length, index))


def _layouts(a):
    """{layout: leading dimension} for each layout the array's memory already
    has (a 1-row or 1-column array has both)."""
    n, m = a.shape
    s0, s1 = a.strides
    item = a.itemsize
    found = {}
    if (m <= 1 or s1 == item) and (n <= 1 or (s0 % item == 0 and s0 >= item * m)):
        found[C.ROW_MAJOR] = s0 // item if n > 1 else max(m, 1)
    if (n <= 1 or s0 == item) and (m <= 1 or (s1 % item == 0 and s1 >= item * n)):
        found[C.COL_MAJOR] = s1 // item if m > 1 else max(n, 1)
    return found


def _as_float64(a, name):
    """(array, owned): `a` as a 2-d float64 array, and whether that array is
    a copy made here (which may then be changed in place)."""
    if _is_sparse(a):
        raise InvalidArgumentError(
            f"{name} is a scipy.sparse matrix: use wlra.fit_sparse, which keeps it sparse "
            "(and says what M and W are outside its pattern)", 2)
    arr = np.asarray(a)
    if arr.ndim != 2:
        raise InvalidArgumentError(f"{name} must be a 2-d array, got {arr.ndim} dimension(s)", 2)
    _refuse_complex(arr, name)
    if arr.dtype == object:
        return _object_as_float64(arr, name), True
    if arr.dtype != np.float64 or not arr.flags.aligned:
        # Deliberate copy: the C ABI reads native, aligned float64 only.
        try:
            return arr.astype(np.float64, order="K"), True
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"{name} has dtype {arr.dtype}, which is not numeric: {e}", 2) from None
    return arr, False


def _refuse_complex(arr, name):
    """A complex array is an error: numpy's conversion to float64 would drop
    the imaginary parts with only a warning."""
    if np.iscomplexobj(arr):
        raise InvalidArgumentError(
            f"{name} has complex dtype {arr.dtype}: wlra fits real matrices "
            f"(pass its real part or its modulus if that is what you mean)", 2)


def _start_factors(start, n_rows, n_cols, rank):
    """(U0, V0) of `start` as float64 arrays of shapes (n_rows, rank) and
    (n_cols, rank); any other shape is an error in the caller's terms (rows
    and columns of M, rank), never truncated or read past."""
    if isinstance(start, FitResult):
        start = start.library_factors
    try:
        U0, V0 = start
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"start must be a pair (U0, V0) or a FitResult, got {type(start).__name__}", 2) from None
    U0, V0 = _as_float64(U0, "start U0")[0], _as_float64(V0, "start V0")[0]
    for name, factor, rows, of in (("U0", U0, n_rows, "row of M"), ("V0", V0, n_cols, "column of M")):
        if factor.shape != (rows, rank):
            raise InvalidArgumentError(
                f"start {name} has shape {factor.shape} but must be ({rows}, {rank}): "
                f"one row per {of} ({rows}) and one column per component (rank = {rank})", 2)
    return U0, V0


def _is_na(x):
    """None, pandas.NA or pandas.NaT (without importing pandas)."""
    return x is None or type(x).__name__ in ("NAType", "NaTType")


def _object_as_float64(arr, name):
    """An object array (pandas' nullable columns give one) as float64, with
    None / pd.NA as NaN; anything else that is not a number is an error that
    names the entry."""
    try:
        return arr.astype(np.float64, order="K")
    except (TypeError, ValueError):
        pass
    out = np.empty(arr.shape, order="F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C")
    for (i, j), x in np.ndenumerate(arr):
        if _is_na(x):
            out[i, j] = np.nan
            continue
        try:
            out[i, j] = float(x)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"{name}[{i}, {j}] = {x!r} is not a number", 2) from None
    return out


def _nan_is_missing(lib, values):
    """values with WLRA_OPTION_MISSING_NAN set: the library reads NaN in M
    as a missing entry (weight 0, W = None included) in place, so nothing
    here copies or scans M. A library before 1.4 lacks it."""
    if getattr(lib, "wlra_get_canonical", None) is None:
        raise C.LibraryNotFoundError(
            f"{C.library_path()} is wlra {lib.wlra_version().decode()}, without WLRA_OPTION_MISSING_NAN: "
            "this binding needs the C ABI 1.4 or later")
    return {**values, C.OPTION_MISSING_NAN: 1.0}


def _is_sparse(a):
    """A scipy.sparse matrix or array (without importing scipy: only a program
    that has imported it can hold one)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(a)


def _common_layout(arrays):
    """One layout for all arrays, with each one's leading dimension. Arrays
    whose memory already has it pass as they are; only the others are copied."""
    found = [_layouts(a) for a in arrays]
    first = found[0]
    order = [C.COL_MAJOR, C.ROW_MAJOR] if C.COL_MAJOR in first and C.ROW_MAJOR not in first else [C.ROW_MAJOR, C.COL_MAJOR]
    for layout in order:
        if all(layout in f for f in found):
            return layout, arrays, [f[layout] for f in found]
    layout = next((lay for lay in order if lay in first), C.ROW_MAJOR)
    out, lds = [], []
    for a, f in zip(arrays, found):
        if layout not in f:
            # Deliberate copy: a non-unit inner stride, or a layout the others lack.
            a = np.ascontiguousarray(a) if layout == C.ROW_MAJOR else np.asfortranarray(a)
            f = _layouts(a)
        out.append(a)
        lds.append(f[layout])
    return layout, out, lds


def _option_value(name, value):
    choices = {"solver": C.SOLVERS, "init": C.INITS, "method": C.METHODS,
               "ridge_scaling": C.RIDGE_SCALINGS, "offsets": C.OFFSETS}.get(name)
    if choices is not None and isinstance(value, str):
        try:
            return float(choices[value.lower()])
        except KeyError:
            raise InvalidArgumentError(f"{name} = {value!r} is not one of {sorted(choices)}", 2) from None
    return float(value)


def _check(lib, model, status):
    if status != C.OK:
        message = lib.wlra_last_error(model).decode("utf-8", "replace")
        raise error_for(status, message)


def _info(lib, model, item):
    value = ctypes.c_double()
    _check(lib, model, lib.wlra_get_info(model, item, ctypes.byref(value)))
    return value.value


def _optional_info(lib, model, item):
    """An info item a library before issue 14 does not have: None there
    (it answers invalid_argument), the value otherwise."""
    value = ctypes.c_double()
    status = lib.wlra_get_info(model, item, ctypes.byref(value))
    if status == C.ERROR_INVALID_ARGUMENT:
        return None
    _check(lib, model, status)
    return value.value


def _result(lib, model, n_rows, n_cols, rank):
    U = np.empty((n_rows, rank))
    V = np.empty((n_cols, rank))
    _check(lib, model, lib.wlra_get_factors(model, U.ctypes.data, rank, V.ctypes.data, rank, C.ROW_MAJOR))
    return FitResult(
        U,
        V,
        **_offsets(lib, model, n_rows, n_cols),
        objective=_info(lib, model, C.INFO_OBJECTIVE),
        iterations=int(_info(lib, model, C.INFO_ITERATIONS)),
        converged=_info(lib, model, C.INFO_CONVERGED) != 0,
        elapsed_seconds=_info(lib, model, C.INFO_ELAPSED_SECONDS),
        solver_used=_SOLVER_NAMES.get(int(_info(lib, model, C.INFO_SOLVER_USED)), "unknown"),
        **_restart_info(lib, model),
    )


def _offsets(lib, model, n_rows, n_cols):
    """The fit's row and column offsets (WLRA_OPTION_OFFSETS), None for a
    side it did not fit."""
    kind = ctypes.c_double()
    status = lib.wlra_get_option(model, C.OPTIONS["offsets"], ctypes.byref(kind))
    if status != C.OK or kind.value == 0:
        return dict(row_offsets=None, col_offsets=None)
    a, b = np.empty(n_rows), np.empty(n_cols)
    _check(lib, model, lib.wlra_get_offsets(model, a.ctypes.data, b.ctypes.data))
    kind = int(kind.value)
    return dict(row_offsets=a if kind in (1, 3) else None, col_offsets=b if kind in (2, 3) else None)


def _restart_info(lib, model):
    method = _optional_info(lib, model, C.INFO_METHOD_USED)
    starts = _optional_info(lib, model, C.INFO_STARTS)
    at_best = _optional_info(lib, model, C.INFO_STARTS_AT_BEST)
    held_out_rmse = _optional_info(lib, model, C.INFO_HELD_OUT_RMSE)
    held_out_entries = _optional_info(lib, model, C.INFO_HELD_OUT_ENTRIES)
    return dict(
        held_out_rmse=held_out_rmse,
        held_out_entries=None if held_out_entries is None else int(held_out_entries),
        method_used=None if method is None else _METHOD_NAMES.get(int(method), "unknown"),
        starts=None if starts is None else int(starts),
        starts_at_best=None if at_best is None else int(at_best),
    )


def _option_values(function, rank, options, start):
    """Checks rank and the option names; returns {WLRA_OPTION_*: value}."""
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
        raise InvalidArgumentError(f"rank = {rank!r} must be a whole number >= 1", 2)
    for name in options:
        if name not in C.OPTIONS:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}; options are {', '.join(C.OPTIONS)}")
    values = {C.OPTIONS[name]: _option_value(name, value) for name, value in options.items()}
    if start is not None and "init" not in options:
        values[C.OPTIONS["init"]] = float(C.INITS["given"])
    return values


class _Interrupt:
    """Ctrl-C during a fit: while the fit runs on the main thread with
    Python's default SIGINT handler, a handler that only notes the signal
    takes its place; the progress trampoline, which runs Python code after
    every outer iteration, sees the note and cancels the fit, and _run
    raises KeyboardInterrupt once the library has returned (never from
    inside the C call stack). Elsewhere (other threads, a handler of the
    program's own) nothing changes."""

    def __init__(self):
        self.caught = False
        self._previous = None

    def __enter__(self):
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, _signum, _frame):
        self.caught = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _run(lib, rank, values, start, progress, verbose, n_rows, n_cols, fit_call):
    """One model's create / set_option / set_factors / set_progress, then
    ``fit_call(model)`` (the C fit function, returning its status), then the
    result or the exception; the model is destroyed in every case."""
    if start is not None:
        start = _start_factors(start, n_rows, n_cols, rank)
    model = ctypes.c_void_p()
    _check(lib, None, lib.wlra_create(rank, ctypes.byref(model)))
    try:
        for option, value in values.items():
            _check(lib, model, lib.wlra_set_option(model, option, value))
        if start is not None:
            start_layout, (U0, V0), (ld_u, ld_v) = _common_layout(list(start))
            _check(lib, model, lib.wlra_set_factors(model, U0.shape[0], V0.shape[0], U0.ctypes.data, ld_u, V0.ctypes.data, ld_v, start_layout))

        raised = []
        with _Interrupt() as interrupt:

            # Always installed: it prints (verbose), calls `progress`, and
            # is where Ctrl-C is noticed, after every outer iteration.
            def trampoline(_user_data, iteration, objective):
                try:
                    if verbose:
                        print(f"wlra: iteration {int(iteration)}: objective {float(objective):.10g}", flush=True)
                    if interrupt.caught:
                        return 1
                    if progress is not None and progress(int(iteration), float(objective)):
                        return 1
                    return 0
                except BaseException as e:  # noqa: BLE001 - re-raised after the fit
                    raised.append(e)
                    return 1

            callback = C.PROGRESS_FN(trampoline)
            _check(lib, model, lib.wlra_set_progress(model, callback, None))
            status = fit_call(model)
        if interrupt.caught:
            raise KeyboardInterrupt
        if status == C.ERROR_CANCELLED:
            if raised:
                raise raised[0]
            message = lib.wlra_last_error(model).decode("utf-8", "replace")
            raise CancelledError(message, C.ERROR_CANCELLED, result=_result(lib, model, n_rows, n_cols, rank))
        _check(lib, model, status)
        result = _result(lib, model, n_rows, n_cols, rank)
        zero_lines = _optional_info(lib, model, C.INFO_ZERO_WEIGHT_LINES)
        deficiency = _optional_info(lib, model, C.INFO_DEGENERATE)
    finally:
        lib.wlra_destroy(model)
    _warn_unless_converged(result, values)
    _warn_about_zero_weights(zero_lines, n_rows, n_cols)
    if zero_lines != n_rows + n_cols:  # all weights 0: said above
        _warn_if_degenerate(deficiency, rank)
    return result


def _warn_if_degenerate(deficiency, rank):
    """A UserWarning when the fitted product U V^T has rank below `rank`
    (the library's WLRA_INFO_DEGENERATE)."""
    if not deficiency:
        return
    if deficiency == rank:
        text = f"the fit is degenerate: U V^T = 0 (all {rank} singular values are 0)"
    else:
        text = (f"the fit is degenerate: U V^T has rank {rank - int(deficiency)}, below rank = {rank} "
                f"({int(deficiency)} of its singular values are 0); a lower rank fits the same product")
    warnings.warn(f"wlra: {text}", UserWarning, stacklevel=_stacklevel_outside_wlra())


def _warn_about_zero_weights(lines, n_rows, n_cols):
    """A UserWarning when rows or columns have no positive weight (the
    library's WLRA_INFO_ZERO_WEIGHT_LINES): their factor rows are 0."""
    if not lines:
        return
    if lines == n_rows + n_cols:
        text = "every weight is 0 (or every entry of M missing): the fit is U = V = 0, s = 0"
    else:
        text = (f"{int(lines)} of the {n_rows} rows and {n_cols} columns have no positive weight "
                "(all weights 0, or M missing there): their factor rows are 0")
    warnings.warn(f"wlra: {text}", UserWarning, stacklevel=_stacklevel_outside_wlra())


def _warn_unless_converged(result, values):
    """wlra.ConvergenceWarning for a fit that ran out of iterations before
    meeting its tolerance. Not for tolerance = 0 or max_iterations = 0,
    which ask for a fixed number of iterations (the C API's "run all
    iterations" and "return the start"), not for convergence."""
    max_iterations = values.get(C.OPTIONS["max_iterations"])
    tolerance = values.get(C.OPTIONS["tolerance"], 1e-8)
    if result.converged or tolerance == 0 or max_iterations == 0:
        return
    if max_iterations is None:
        # The library's default: each start its method's own budget.
        bound, limit = ("max_iterations not set: each start runs up to its method's default, "
                        "100 for alternation, 500 for VarPro"), 100
    else:
        bound, limit = f"max_iterations = {int(max_iterations)}", int(max_iterations)
    warnings.warn(
        f"wlra: the fit stopped after {result.iterations} iterations ({bound}) without meeting "
        f"tolerance = {tolerance:g} (objective {result.objective:.6g}); raise max_iterations (for example "
        f"max_iterations={2 * limit}), loosen the tolerance, or continue from this result (wlra.fit's start=)",
        convergence_warning(), stacklevel=_stacklevel_outside_wlra())


def _stacklevel_outside_wlra():
    """The warnings stacklevel, seen from the caller of this function, of
    the first frame outside the wlra package: a warning points at the
    user's call, through wlra.fit, wlra.fit_sparse or wlra.WLRA.fit alike."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "wlra":
        frame, level = frame.f_back, level + 1
    return level


def fit(M, W=None, *, rank, progress=None, start=None, verbose=False, **options):
    """Weighted low rank approximation: U (n x rank), V (m x rank) minimizing
    sum_ij W_ij (M_ij - (U V^T)_ij)^2 + ridge (||U||^2 + ||V||^2).

    M, W: 2-d arrays of the same shape; W=None means all weights 1.
    NaN in M means missing: the entry gets weight 0 (and W=None becomes 1
    where M is observed, 0 where it is NaN); None and pandas.NA in an object
    array (as pandas' nullable columns give) are NaN. A NaN in W is an error
    (NonFiniteInputError naming the entry): give weight 0 instead. The
    library reads NaN in M as missing in place (WLRA_OPTION_MISSING_NAN),
    so NaN costs no copy of M or W.
    float64 arrays in C or Fortran order, and strided views whose inner
    stride is 1, are passed to the library as they are (no copy). Other
    dtypes (integers, float32, ...) are converted to float64 first, and an
    array with a non-unit inner stride is copied once; if M and W differ in
    layout, W is copied to M's layout.

    rank: the number of columns of U and V (>= 1).

    options (lower-case names of the WLRA_OPTION_* of the C ABI, defaults as
    there): max_iterations (100), tolerance (1e-8), seed (0),
    solver ("auto" | "exact" | "sketch" | "shared_pcg"), init ("svd" | "random" | "given"),
    ridge (0), threads (0 = all cores), sketch_size_factor (4),
    regression_tolerance (1e-10), clip (0 = off), adaptive_accuracy (1 = on),
    overrelaxation (1 = off; in (0, 2)), mixed_precision (1 = on: loose inner solves of
    sparse SHARED_PCG gather float32 rows; 0 = float64 throughout),
    method ("auto" | "alternating" | "varpro" | "accelerated": the outer method),
    restarts (-1 = auto, the default: restarts around VarPro; 0 = off; r > 0: up to r further seeded random starts, stopping
    once the best objective has been reached twice).

    progress: called as progress(iteration, objective) after every completed
    outer iteration; returning True (or 1) cancels the fit, which raises
    CancelledError with the factors of the completed iterations in
    ``err.result``. An exception raised by progress cancels the fit and is
    re-raised.

    start: (U0, V0), starting factors, or a FitResult (its library_factors):
    sets init="given" unless init is given. (U0, V0) are read as the
    library's factors, U0 V0^T the start: from a FitResult's canonical
    factors give (U * s, V).

    verbose: True prints one line per outer iteration ("wlra: iteration 3:
    objective 12.5").

    Ctrl-C (SIGINT, with Python's default handler, on the main thread)
    cancels the fit at the end of the outer iteration it is in and raises
    KeyboardInterrupt.

    A fit that reaches max_iterations without meeting the tolerance warns
    (wlra.ConvergenceWarning, a subclass of sklearn's ConvergenceWarning
    when scikit-learn is installed), except with tolerance = 0 or
    max_iterations = 0, which ask for a fixed number of iterations.

    Returns a FitResult, in canonical form: U diag(s) V^T with U, V
    orthonormal, s descending (see FitResult; method_used, starts and
    starts_at_best say what the method and restarts did); raises a WlraError subclass named after the status
    (NegativeWeightError, InvalidArgumentError, ...) with the library's message.
    """
    lib = C.lib()
    values = _option_values("fit", rank, options, start)
    rank = int(rank)

    M, _ = _as_float64(M, "M")
    if W is not None:
        W, _ = _as_float64(W, "W")
        if W.shape != M.shape:
            raise InvalidArgumentError(f"W has shape {W.shape} but M has shape {M.shape}", 2)
    values = _nan_is_missing(lib, values)  # NaN in M: weight 0, read by the library
    arrays = [M] if W is None else [M, W]
    layout, arrays, lds = _common_layout(arrays)
    n_rows, n_cols = arrays[0].shape
    w_ptr, ld_w = (arrays[1].ctypes.data, lds[1]) if W is not None else (None, max(lds[0], 1))

    def fit_call(model):
        return lib.wlra_fit(model, n_rows, n_cols, arrays[0].ctypes.data, lds[0], w_ptr, ld_w, layout)

    return _run(lib, rank, values, start, progress, verbose, n_rows, n_cols, fit_call)


@contextlib.contextmanager
def _loaded(library_factors, row_offsets=None, col_offsets=None, options=None):
    """A model holding a saved fit, loaded with the C API's wlra_set_fitted:
    the library's (U, V) and the offsets (None: the fit had none on that
    side) as wlra_get_factors and wlra_get_offsets gave them, and the fit's
    ridge options (``options``: ridge, ridge_scaling, threads) for the
    fold-in. Yields (lib, model) and destroys the model on exit: a FitResult
    or WLRA holds no handle (it could not be pickled), so each fold-in or
    prediction loads one, O((n_rows + n_cols) k) besides its own work."""
    lib = C.lib()
    if getattr(lib, "wlra_set_fitted", None) is None:
        raise C.LibraryNotFoundError(
            f"{C.library_path()} is wlra {lib.wlra_version().decode()}, without wlra_set_fitted: "
            "fold-in and predictions of a fit need the C ABI 1.3 or later")
    U, V = (np.ascontiguousarray(x, dtype=np.float64) for x in library_factors)
    (n_rows, k), n_cols = U.shape, V.shape[0]
    pointers = []
    for name, x, length in (("row_offsets", row_offsets, n_rows), ("col_offsets", col_offsets, n_cols)):
        if x is not None:
            x = np.ascontiguousarray(x, dtype=np.float64)
            if x.shape != (length,):
                raise InvalidArgumentError(f"{name} has shape {x.shape}, the fit has {length}", 2)
        pointers.append(x)
    a, b = (None if x is None else x.ctypes.data for x in pointers)
    values = {C.OPTIONS[name]: _option_value(name, value) for name, value in (options or {}).items()
              if value is not None}
    model = ctypes.c_void_p()
    _check(lib, None, lib.wlra_create(k, ctypes.byref(model)))
    try:
        # NaN in fold-in rows is missing, as in the fit (WLRA_OPTION_MISSING_NAN).
        for option, value in _nan_is_missing(lib, values).items():
            _check(lib, model, lib.wlra_set_option(model, option, value))
        _check(lib, model, lib.wlra_set_fitted(model, n_rows, n_cols, U.ctypes.data, max(k, 1), V.ctypes.data,
                                               max(k, 1), a, b, C.ROW_MAJOR))
        yield lib, model
    finally:
        lib.wlra_destroy(model)


def _fold_in(library_factors, M_rows, W_rows, options, row_offsets=None, col_offsets=None):
    """wlra_transform_with_offsets on the saved fit (_loaded): the
    library-gauge factor rows (n_new x k) of new rows M_rows (NaN missing,
    W_rows None: weight 1), solved against the fit's V with its ridge
    options, and the rows' own offsets (n_new; zeros without row offsets).
    Returns (u, a)."""
    n_cols, k = library_factors[1].shape
    M, _ = _as_float64(M_rows, "X")
    if M.shape[1] != n_cols:
        raise InvalidArgumentError(f"X has {M.shape[1]} columns, the fit had {n_cols}", 2)
    if W_rows is not None:
        W, _ = _as_float64(W_rows, "W")
        if W.shape != M.shape:
            raise InvalidArgumentError(f"W has shape {W.shape} but X has shape {M.shape}", 2)
    else:
        W = None
    layout, arrays, lds = _common_layout([M] if W is None else [M, W])
    n_new = M.shape[0]
    w_ptr, ld_w = (arrays[1].ctypes.data, lds[1]) if W is not None else (None, max(lds[0], 1))
    # u_out in the call's layout, as the C API reads every matrix of a call.
    u = np.empty((n_new, k), order="C" if layout == C.ROW_MAJOR else "F")
    ld_u = k if layout == C.ROW_MAJOR else max(n_new, 1)
    a = np.zeros(n_new)
    if n_new == 0:
        return u, a
    with _loaded(library_factors, row_offsets, col_offsets, options) as (lib, model):
        _check(lib, model, lib.wlra_transform_with_offsets(model, n_new, arrays[0].ctypes.data, lds[0], w_ptr,
                                                           ld_w, u.ctypes.data, ld_u, a.ctypes.data, layout))
    return u, a
