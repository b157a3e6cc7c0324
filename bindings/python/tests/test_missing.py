"""NaN in M means missing (weight 0 there), in wlra.fit: the same fit as the
explicit W = 0, without touching the caller's arrays; NaN in W stays an
error; pandas' NA (object arrays) is missing too."""

import numpy as np
import pytest

import wlra
from conftest import REFERENCE_OPTIONS, reference_problem

# Entries of the 37 x 23 reference problem to leave out, 0-based.
MISSING = [(0, 0), (3, 2), (3, 5), (20, 11), (36, 22)]


def with_missing(M, W):
    """(M with NaN at MISSING, M with 0 there, W with 0 there)."""
    M_nan, M_zero, W_zero = M.copy(), M.copy(), W.copy()
    for i, j in MISSING:
        M_nan[i, j] = np.nan
        M_zero[i, j] = 0.0
        W_zero[i, j] = 0.0
    return M_nan, M_zero, W_zero


def assert_same_fit(a, b):
    assert np.max(np.abs(a.U - b.U)) <= 1e-12
    assert np.max(np.abs(a.V - b.V)) <= 1e-12
    assert abs(a.objective - b.objective) <= 1e-12 * max(1.0, b.objective)


@pytest.mark.parametrize("order", ["C", "F"])
def test_nan_in_m_equals_the_explicit_zero_weight_fit(order):
    M, W = reference_problem()
    M_nan, M_zero, W_zero = (np.asarray(a, order=order) for a in with_missing(M, W))
    W_given = np.asarray(W, order=order)
    before = (M_nan.copy(), W_given.copy())
    assert_same_fit(wlra.fit(M_nan, W_given, **REFERENCE_OPTIONS), wlra.fit(M_zero, W_zero, **REFERENCE_OPTIONS))
    # The caller's arrays are left as they were.
    np.testing.assert_array_equal(M_nan, before[0])
    np.testing.assert_array_equal(W_given, before[1])


def test_nan_in_m_without_w_weighs_observed_entries_one():
    M, W = reference_problem()
    M_nan, M_zero, _ = with_missing(M, W)
    ones = np.ones_like(M)
    for i, j in MISSING:
        ones[i, j] = 0.0
    assert_same_fit(wlra.fit(M_nan, **REFERENCE_OPTIONS), wlra.fit(M_zero, ones, **REFERENCE_OPTIONS))


def test_nan_in_a_converted_copy_is_handled_in_that_copy():
    M, W = reference_problem()
    M_nan, M_zero, W_zero = with_missing(M, W)
    fit32 = wlra.fit(M_nan.astype(np.float32), W.astype(np.float32), **REFERENCE_OPTIONS)
    ref32 = wlra.fit(M_zero.astype(np.float32).astype(np.float64),
                     W_zero.astype(np.float32).astype(np.float64), **REFERENCE_OPTIONS)
    assert_same_fit(fit32, ref32)


def test_nan_in_w_is_an_error_naming_the_entry():
    M, W = reference_problem()
    W = W.copy()
    W[4, 7] = np.nan
    with pytest.raises(wlra.NonFiniteInputError, match=r"W\[4, 7\] = NaN is not finite"):
        wlra.fit(M, W, rank=3)
    M = M.copy()
    M[1, 1] = np.nan  # missing in M does not hide a NaN weight
    with pytest.raises(wlra.NonFiniteInputError, match=r"W\[4, 7\] = NaN"):
        wlra.fit(M, W, rank=3)


def test_none_in_an_object_array_is_missing_and_text_is_an_error():
    M, W = reference_problem()
    M_nan, M_zero, W_zero = with_missing(M, W)
    objects = M_nan.astype(object)
    for i, j in MISSING:
        objects[i, j] = None
    assert_same_fit(wlra.fit(objects, W, **REFERENCE_OPTIONS), wlra.fit(M_zero, W_zero, **REFERENCE_OPTIONS))
    objects[2, 3] = "x"
    with pytest.raises(wlra.InvalidArgumentError, match=r"M\[2, 3\] = 'x' is not a number"):
        wlra.fit(objects, W, rank=3)


def test_pandas_na_is_missing():
    pd = pytest.importorskip("pandas")
    M, W = reference_problem()
    M_nan, M_zero, W_zero = with_missing(M, W)
    frame = pd.DataFrame(M_nan).astype("Float64")  # nullable floats: NaN becomes pd.NA
    assert frame.isna().sum().sum() == len(MISSING)
    assert_same_fit(wlra.fit(frame, W, **REFERENCE_OPTIONS), wlra.fit(M_zero, W_zero, **REFERENCE_OPTIONS))
    weights = pd.DataFrame(W).astype("Float64")
    weights.iloc[5, 6] = pd.NA
    with pytest.raises(wlra.NonFiniteInputError, match=r"W\[5, 6\] = NaN"):
        wlra.fit(M, weights, rank=3)


def test_a_stored_nan_in_a_sparse_m_is_missing():
    sp = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(5)
    dense = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20))
    mask = rng.uniform(size=dense.shape) < 0.6
    M = sp.csr_matrix(np.where(mask, dense, 0.0))
    M.eliminate_zeros()
    W = M.copy()
    W.data = rng.uniform(0.5, 2.0, size=W.nnz)
    M_nan, M_zero, W_zero = M.copy(), M.copy(), W.copy()
    M_nan.data[[0, 7, 19]] = np.nan
    M_zero.data[[0, 7, 19]] = 0.0
    W_zero.data[[0, 7, 19]] = 0.0
    options = dict(rank=3, max_iterations=20, tolerance=0.0, seed=3, init="random", solver="exact", w_default=0.1)
    assert_same_fit(wlra.fit_sparse(M_nan, W, **options), wlra.fit_sparse(M_zero, W_zero, **options))
    ones = M_zero.copy()
    ones.data[:] = 1.0
    ones.data[[0, 7, 19]] = 0.0
    assert_same_fit(wlra.fit_sparse(M_nan, **options), wlra.fit_sparse(M_zero, ones, **options))
    assert np.isnan(M_nan.data[7])  # the caller's matrix is left as it was


def test_rows_and_columns_without_weight_warn_with_the_librarys_count():
    import warnings

    M, W = reference_problem()
    M_nan = M.copy()
    M_nan[4, :] = np.nan  # one row, all missing
    W_zero = W.copy()
    W_zero[:, 2] = 0.0  # one column, all weight 0
    with pytest.warns(UserWarning, match=r"wlra: 2 of the 37 rows and 23 columns have no positive weight"):
        fit = wlra.fit(M_nan, W_zero, **REFERENCE_OPTIONS)
    assert not fit.library_factors[0][4].any() and not fit.library_factors[1][2].any()
    with pytest.warns(UserWarning, match=r"every weight is 0"):
        fit = wlra.fit(M, np.zeros_like(M), **REFERENCE_OPTIONS)
    assert not fit.s.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wlra.fit(M, W, **REFERENCE_OPTIONS)  # every row and column weighed: no warning
