"""wlra.fit_sparse: scipy.sparse input for the C ABI's wlra_fit_csr. Each
matrix is brought to canonical CSR (sorted column indices, duplicates summed,
stored zeros kept) with int64 indices and float64 values: O(nnz) memory,
never anything of size n_rows x n_cols."""

import numpy as np

from . import _library as C
from .errors import InvalidArgumentError
from .fit import _is_sparse, _nan_is_missing, _option_values, _refuse_complex, _run


class _Csr:
    """The CSR arrays of one matrix as wlra_fit_csr reads them."""

    __slots__ = ("shape", "row_ptr", "col_idx", "values")

    def __init__(self, a, name):
        if not _is_sparse(a):
            raise InvalidArgumentError(
                f"{name} must be a scipy.sparse matrix or array (csr, csc, coo, ...), got {type(a).__name__}", 2)
        if len(a.shape) != 2:
            raise InvalidArgumentError(f"{name} must be 2-d, got shape {a.shape}", 2)
        # csr: the caller's object itself; csc and coo: a new one (coo sums
        # its duplicates here). Neither drops stored zeros.
        _refuse_complex(a, name)
        csr = a.tocsr()
        if not csr.has_canonical_format:
            if csr is a:
                csr = csr.copy()  # sum_duplicates works in place: the caller's matrix stays as it was
            csr.sum_duplicates()  # sorts each row's columns, sums repeated ones
        self.shape = csr.shape
        # Deliberate copies where the dtypes differ (scipy's indices are
        # usually int32): O(nnz), what the C ABI reads.
        self.row_ptr = np.ascontiguousarray(csr.indptr, dtype=np.int64)
        self.col_idx = np.ascontiguousarray(csr.indices, dtype=np.int64)
        self.values = np.ascontiguousarray(csr.data, dtype=np.float64)


def _check_same_pattern(m, w):
    """Raises InvalidArgumentError naming an entry stored in one of M and W
    but not in the other (0-based row and column)."""
    if w.shape != m.shape:
        raise InvalidArgumentError(f"W has shape {w.shape} but M has shape {m.shape}", 2)
    if np.array_equal(m.row_ptr, w.row_ptr) and np.array_equal(m.col_idx, w.col_idx):
        return
    n_rows = m.shape[0]
    # The first row whose entry count differs; before it, both patterns line
    # up entry by entry, so the first differing column index (if any) lies
    # in an earlier row.
    counts_differ = np.flatnonzero(np.diff(m.row_ptr) != np.diff(w.row_ptr))
    row = int(counts_differ[0]) if counts_differ.size else n_rows
    end = int(m.row_ptr[row]) if row < n_rows else m.col_idx.size
    differ = np.flatnonzero(m.col_idx[:end] != w.col_idx[:end])
    if differ.size:
        row = int(np.searchsorted(m.row_ptr, differ[0], side="right")) - 1
    in_m = m.col_idx[m.row_ptr[row] : m.row_ptr[row + 1]]
    in_w = w.col_idx[w.row_ptr[row] : w.row_ptr[row + 1]]
    only_m, only_w = np.setdiff1d(in_m, in_w), np.setdiff1d(in_w, in_m)
    if only_m.size:
        entry, has, lacks = int(only_m[0]), "M", "W"
    else:
        entry, has, lacks = int(only_w[0]), "W", "M"
    raise InvalidArgumentError(
        f"W must store exactly the entries M stores: {has} stores ({row}, {entry}) but {lacks} does not "
        f"(0-based row, column; M has {m.col_idx.size} stored entries, W {w.col_idx.size})", 2)


def fit_sparse(M, W=None, *, rank, m_default=0.0, w_default=0.0, progress=None, start=None, verbose=False,
               **options):
    """Weighted low rank approximation of a sparse problem: the entries M
    stores are observed, with their own weights; every other entry has the
    value m_default and the weight w_default. Minimizes
    sum_ij W_ij (M_ij - (U V^T)_ij)^2 + ridge (||U||^2 + ||V||^2) with

        M_ij = M[i, j], W_ij = W[i, j]          where M stores (i, j)
        M_ij = m_default, W_ij = w_default      elsewhere.

    w_default = 0 (the default) is matrix completion: only the stored
    entries count. w_default > 0 is implicit feedback: every entry counts,
    the stored ones with their own weights.

    M: a scipy.sparse matrix or array (csr, csc, coo, or any format with
    tocsr()). Stored zeros are observed zeros: they stay in the pattern
    (eliminate_zeros() first to drop them). Repeated (i, j) entries of a coo
    matrix are summed, as scipy does. A canonical csr with int64 indices and
    float64 values is passed as it is; anything else is converted, in
    O(nnz) memory: nothing of size n_rows x n_cols is ever formed.

    A stored NaN in M is missing: weight 0 at that entry (a NaN in W is an
    error).

    W: None (every stored entry weighs 1), or a scipy.sparse matrix storing
    exactly the entries M stores (after summing repeats) with their weights;
    any other pattern raises InvalidArgumentError.

    rank, options, progress, start, verbose: as for wlra.fit (Ctrl-C too).
    Returns a FitResult.
    """
    lib = C.lib()
    values = _option_values("fit_sparse", rank, options, start)
    rank = int(rank)
    fit_csr = getattr(lib, "wlra_fit_csr", None)
    if fit_csr is None:
        raise C.LibraryNotFoundError(
            f"{C.library_path()} is wlra {lib.wlra_version().decode()}, without wlra_fit_csr: "
            "sparse input needs the C ABI 1.1 or later")

    m = _Csr(M, "M")
    w = None
    if W is not None:
        w = _Csr(W, "W")
        _check_same_pattern(m, w)
    n_rows, n_cols = m.shape
    m_values = m.values
    w_values = None if w is None else w.values
    # A stored NaN in M is missing, as in wlra.fit: the library gives it
    # weight 0 (WLRA_OPTION_MISSING_NAN); the caller's matrices stay as they were.
    values = _nan_is_missing(lib, values)
    w_ptr = w_values.ctypes.data if w_values is not None else None

    def fit_call(model):
        return fit_csr(model, n_rows, n_cols, m.row_ptr.ctypes.data, m.col_idx.ctypes.data,
                       m_values.ctypes.data, w_ptr, float(m_default), float(w_default))

    return _run(lib, rank, values, start, progress, verbose, n_rows, n_cols, fit_call)
