"""wlra.fit_sparse against the C ABI's wlra_fit_csr: every scipy.sparse
format gives the fit of the densified problem and the C program's factors,
completion recovers a planted matrix, errors carry the library's message, and
a 20000 x 20000 input is never densified."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import wlra
from conftest import REFERENCE_OPTIONS, reference_csr_problem, sparse_planted

FORMATS = {
    "csr_matrix": sp.csr_matrix,
    "csr_array": sp.csr_array,
    "csc_matrix": sp.csc_matrix,
    "csc_array": sp.csc_array,
    "coo_matrix": sp.coo_matrix,
    "coo_array": sp.coo_array,
}


def sparse(fmt, values, rows, cols, shape):
    """A matrix of format `fmt` storing values at (rows, cols), stored zeros
    included (built through coo, which keeps them)."""
    return FORMATS[fmt](sp.coo_matrix((values, (rows, cols)), shape=shape))


def densified(values, rows, cols, shape, default):
    out = np.full(shape, default)
    out[rows, cols] = values
    return out


def relative_difference(a, b):
    return np.linalg.norm(a.fitted() - b.fitted()) / np.linalg.norm(a.fitted())


@pytest.mark.parametrize("defaults", [(0.0, 0.0), (0.25, 1.0)], ids=["completion", "implicit"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_gives_the_fit_of_the_densified_problem(fmt, defaults):
    m_default, w_default = defaults
    _, noisy, rows, cols, weights = sparse_planted(70, 50, 3, 0.4, seed=90)
    values = noisy[rows, cols]
    values[:25] = 0.0  # observed zeros: stored, so they stay in the pattern
    M = sparse(fmt, values, rows, cols, noisy.shape)
    W = sparse(fmt, weights, rows, cols, noisy.shape)
    assert M.nnz == rows.size
    options = dict(rank=3, tolerance=0.0, max_iterations=15)
    got = wlra.fit_sparse(M, W, m_default=m_default, w_default=w_default, **options)
    dense = wlra.fit(densified(values, rows, cols, noisy.shape, m_default),
                     densified(weights, rows, cols, noisy.shape, w_default), **options)
    diff = relative_difference(dense, got)
    print(f"\n{fmt}, m_default {m_default}, w_default {w_default}: U V^T differs from the dense fit "
          f"by {diff:.2e}; objectives {dense.objective:.12e} vs {got.objective:.12e}")
    assert got.iterations == dense.iterations == 15
    assert diff <= 1e-10
    assert abs(got.objective - dense.objective) <= 1e-10 * dense.objective
    assert got.U.shape == (70, 3) and got.V.shape == (50, 3)


def test_weights_default_to_one_on_the_pattern():
    _, noisy, rows, cols, _ = sparse_planted(40, 30, 2, 0.5, seed=94)
    M = sparse("csr_matrix", noisy[rows, cols], rows, cols, noisy.shape)
    got = wlra.fit_sparse(M, rank=2, tolerance=0.0, max_iterations=10)
    dense = wlra.fit(densified(noisy[rows, cols], rows, cols, noisy.shape, 0.0),
                     densified(np.ones(rows.size), rows, cols, noisy.shape, 0.0),
                     rank=2, tolerance=0.0, max_iterations=10)
    assert relative_difference(dense, got) <= 1e-10


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_array", "coo_matrix"])
def test_factors_equal_the_c_abi_sparse_reference(reference_csr_factors, fmt):
    rows, cols, mv, wv, shape, m_default, w_default = reference_csr_problem()
    order = np.random.default_rng(5).permutation(rows.size)  # coo in no particular order
    M = sparse(fmt, mv[order], rows[order], cols[order], shape)
    W = sparse(fmt, wv[order], rows[order], cols[order], shape)
    fit = wlra.fit_sparse(M, W, m_default=m_default, w_default=w_default, **REFERENCE_OPTIONS)
    U_ref, V_ref = reference_csr_factors
    U_lib, V_lib = fit.library_factors
    print(f"\n{fmt}: factors differ from reference_csr.c by "
          f"{max(np.max(np.abs(U_lib - U_ref)), np.max(np.abs(V_lib - V_ref))):.1e}")
    assert np.max(np.abs(U_lib - U_ref)) <= 1e-12
    assert np.max(np.abs(V_lib - V_ref)) <= 1e-12
    product = U_ref @ V_ref.T
    assert np.linalg.norm(fit.fitted() - product) <= 1e-12 * np.linalg.norm(product)
    assert fit.iterations == 25 and not fit.converged and fit.solver_used == "exact"


def test_stored_zeros_are_observed_entries():
    _, noisy, rows, cols, weights = sparse_planted(50, 40, 3, 0.4, seed=95)
    values = noisy[rows, cols]
    values[::4] = 0.0
    M = sparse("csr_matrix", values, rows, cols, noisy.shape)
    W = sparse("csr_matrix", weights, rows, cols, noisy.shape)
    options = dict(rank=3, tolerance=0.0, max_iterations=15)
    kept = wlra.fit_sparse(M, W, **options)
    dense = wlra.fit(densified(values, rows, cols, noisy.shape, 0.0),
                     densified(weights, rows, cols, noisy.shape, 0.0), **options)
    assert relative_difference(dense, kept) <= 1e-10
    # Dropping them (and their weights) is another problem, with another fit.
    M_dropped, W_dropped = M.copy(), W.multiply(M != 0).tocsr()
    M_dropped.eliminate_zeros()
    W_dropped.eliminate_zeros()
    assert M_dropped.nnz < M.nnz
    dropped = wlra.fit_sparse(M_dropped, W_dropped, **options)
    assert relative_difference(kept, dropped) > 1e-3


def test_coo_duplicates_are_summed_like_scipy_does():
    _, noisy, rows, cols, weights = sparse_planted(40, 30, 2, 0.5, seed=96)
    values = noisy[rows, cols]
    # Every entry twice, its value and weight split in two parts.
    M = sp.coo_matrix((np.concatenate([0.3 * values, 0.7 * values]), (np.tile(rows, 2), np.tile(cols, 2))),
                      shape=noisy.shape)
    W = sp.coo_matrix((np.concatenate([0.5 * weights, 0.5 * weights]), (np.tile(rows, 2), np.tile(cols, 2))),
                      shape=noisy.shape)
    options = dict(rank=2, tolerance=0.0, max_iterations=10)
    got = wlra.fit_sparse(M, W, **options)
    dense = wlra.fit(M.toarray(), W.toarray(), **options)  # toarray sums repeats too
    assert relative_difference(dense, got) <= 1e-10
    assert M.nnz == 2 * rows.size  # the caller's matrix is left as it was


def test_a_non_canonical_csr_is_not_modified():
    M = sp.csr_matrix((np.array([2.0, 1.0, 3.0]), np.array([2, 0, 0]), np.array([0, 2, 3])), shape=(2, 3))
    assert not M.has_canonical_format
    before = (M.indices.copy(), M.data.copy())
    fit = wlra.fit_sparse(M, rank=1, max_iterations=2)
    assert fit.U.shape == (2, 1)
    assert np.array_equal(M.indices, before[0]) and np.array_equal(M.data, before[1])


def test_completion_recovers_unobserved_entries_to_1e_6():
    truth, _, rows, cols, _ = sparse_planted(60, 50, 3, 0.4, seed=97)
    M = sparse("csr_matrix", truth[rows, cols], rows, cols, truth.shape)
    fit = wlra.fit_sparse(M, rank=3, w_default=0.0, tolerance=1e-16, max_iterations=3000)
    unobserved = np.ones(truth.shape, dtype=bool)
    unobserved[rows, cols] = False
    err = np.linalg.norm((fit.fitted() - truth)[unobserved]) / np.linalg.norm(truth[unobserved])
    print(f"\ncompletion: relative error {err:.2e} on the {unobserved.sum()} unobserved entries "
          f"after {fit.iterations} iterations")
    assert err <= 1e-6


def test_w_with_another_pattern_raises_invalid_argument_naming_the_entry():
    _, noisy, rows, cols, weights = sparse_planted(30, 20, 2, 0.4, seed=98)
    M = sparse("csr_matrix", noisy[rows, cols], rows, cols, noisy.shape)
    # One entry fewer: the one M stores and W does not is named.
    i, j = rows[-1], cols[-1]
    W = sparse("csr_matrix", weights[:-1], rows[:-1], cols[:-1], noisy.shape)
    with pytest.raises(wlra.InvalidArgumentError, match=rf"M stores \({i}, {j}\) but W does not") as info:
        wlra.fit_sparse(M, W, rank=2)
    assert info.value.status == 2 and isinstance(info.value, ValueError)
    # Same count, one entry moved to an unobserved place.
    free = np.argwhere(sparse("csr_matrix", np.ones(rows.size), rows, cols, noisy.shape).toarray() == 0)[0]
    moved_rows, moved_cols = rows.copy(), cols.copy()
    moved_rows[-1], moved_cols[-1] = free
    W = sparse("coo_matrix", weights, moved_rows, moved_cols, noisy.shape)
    with pytest.raises(wlra.InvalidArgumentError, match="W must store exactly the entries M stores"):
        wlra.fit_sparse(M, W, rank=2)
    with pytest.raises(wlra.InvalidArgumentError, match=r"W has shape \(30, 21\)"):
        wlra.fit_sparse(M, sp.csr_matrix((30, 21)), rank=2)
    with pytest.raises(wlra.InvalidArgumentError, match="W must be a scipy.sparse matrix"):
        wlra.fit_sparse(M, np.ones(noisy.shape), rank=2)


def test_bad_values_raise_their_error_classes_with_the_library_message():
    _, noisy, rows, cols, weights = sparse_planted(30, 20, 2, 0.4, seed=99)
    M = sparse("csr_matrix", noisy[rows, cols], rows, cols, noisy.shape)
    W = sparse("csr_matrix", weights, rows, cols, noisy.shape)
    W.data[3] = -0.5
    with pytest.raises(wlra.NegativeWeightError, match=r"row \d+: w_values\[3\] = -0.5 is negative") as info:
        wlra.fit_sparse(M, W, rank=2)
    assert info.value.status == 4 and isinstance(info.value, ValueError)
    with pytest.raises(wlra.NegativeWeightError, match="w_default = -1 is negative"):
        wlra.fit_sparse(M, rank=2, w_default=-1.0)
    bad = M.copy()
    bad.data[0] = np.inf  # (a NaN is missing: test_missing.py)
    with pytest.raises(wlra.NonFiniteInputError, match=r"m_values\[0\] = inf is not finite"):
        wlra.fit_sparse(bad, rank=2)
    # A column index past n_cols: scipy's constructor does not look, the library does.
    out_of_range = sp.csr_matrix((np.ones(2), np.array([0, 7]), np.array([0, 1, 2])), shape=(2, 5))
    with pytest.raises(wlra.InvalidArgumentError, match=r"row 1: col_idx\[1\] = 7 is out of range \(n_cols = 5\)"):
        wlra.fit_sparse(out_of_range, rank=1)
    with pytest.raises(TypeError, match="fit_sparse\\(\\) got an unexpected keyword argument 'max_iteration'"):
        wlra.fit_sparse(M, rank=2, max_iteration=5)


def test_dense_and_sparse_inputs_point_to_the_right_function():
    M = sp.random(10, 8, density=0.5, format="csr", random_state=1)
    with pytest.raises(wlra.InvalidArgumentError, match="use wlra.fit_sparse"):
        wlra.fit(M, rank=1)
    with pytest.raises(wlra.InvalidArgumentError, match="M must be a scipy.sparse matrix"):
        wlra.fit_sparse(M.toarray(), rank=1)


def test_progress_cancel_after_two_iterations_keeps_their_factors():
    _, noisy, rows, cols, weights = sparse_planted(40, 30, 2, 0.5, seed=100)
    M = sparse("csr_matrix", noisy[rows, cols], rows, cols, noisy.shape)
    with pytest.raises(wlra.CancelledError) as info:
        wlra.fit_sparse(M, rank=2, tolerance=0.0, progress=lambda i, f: i >= 2)
    two = wlra.fit_sparse(M, rank=2, tolerance=0.0, max_iterations=2)
    assert info.value.result.iterations == 2
    assert np.max(np.abs(info.value.result.U - two.U)) <= 1e-12


def test_20000_by_20000_sparse_input_is_not_densified():
    n = m = 20000
    rng = np.random.default_rng(101)
    rows, cols = rng.integers(0, n, 200_000), rng.integers(0, m, 200_000)
    M = sp.coo_matrix((rng.standard_normal(rows.size), (rows, cols)), shape=(n, m))
    W = sp.coo_matrix((rng.uniform(0.5, 3.0, rows.size), (rows, cols)), shape=(n, m))
    dense_bytes = n * m * 8
    tracemalloc.start()
    try:
        fit = wlra.fit_sparse(M, W, rank=2, w_default=1.0, max_iterations=2, tolerance=0.0, init="random")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"\nno-densify: peak traced allocation {peak} bytes during the fit of a {n} x {m} coo matrix "
          f"with {M.nnz} stored entries (coo repeats included), {100 * peak / dense_bytes:.3f}% of its "
          f"{dense_bytes} dense bytes")
    assert fit.U.shape == (n, 2) and fit.V.shape == (m, 2) and fit.iterations == 2
    assert peak < 0.01 * dense_bytes
