"""Offsets (issue 17): offsets="rows" / "columns" / "both" fits
M ~ a 1^T + 1 b^T + U V^T jointly; the results carry row_offsets and
col_offsets, and fitted() / predict() include them."""

import numpy as np
import pytest
import scipy.sparse as sp

import wlra
from wlra import InvalidArgumentError


def planted(n=40, m=30, k=3, seed=0):
    rng = np.random.default_rng(seed)
    U, V = rng.standard_normal((n, k)), rng.standard_normal((m, k))
    a, b = 2 + 3 * rng.standard_normal(n), -1 + 3 * rng.standard_normal(m)
    return U @ V.T + a[:, None] + b[None, :], rng.uniform(0.1, 1.0, (n, m))


TIGHT = dict(tolerance=1e-15, regression_tolerance=1e-14, max_iterations=3000)


def test_planted_offsets_are_recovered_in_the_documented_gauge():
    M, W = planted()
    result = wlra.fit(M, W, rank=3, offsets="both", **TIGHT)
    assert np.abs(result.fitted() - M).max() <= 1e-8 * np.abs(M).max()
    # The gauge: 1^T U = 1^T V = 0 and sum(b) = 0, so a = M's row means
    # and b = its column means minus the grand mean.
    assert np.abs(result.row_offsets - M.mean(axis=1)).max() <= 1e-8 * np.abs(M).max()
    assert np.abs(result.col_offsets - (M.mean(axis=0) - M.mean())).max() <= 1e-8 * np.abs(M).max()
    i, j = np.array([0, 5, 39]), np.array([1, 29, 7])
    assert np.allclose(result.predict(i, j), result.fitted()[i, j], rtol=0, atol=1e-12 * np.abs(M).max())


def test_sparse_offsets_equal_dense_offsets():
    M, W = planted(seed=1)
    mask = np.random.default_rng(2).uniform(size=M.shape) < 0.7
    dense = wlra.fit(np.where(mask, M, np.nan), W, rank=3, offsets="both", **TIGHT)
    sparse = wlra.fit_sparse(sp.csr_matrix(np.where(mask, M, 0.0)), sp.csr_matrix(np.where(mask, W, 0.0)),
                             rank=3, offsets="both", w_default=0.0, **TIGHT)
    assert np.abs(dense.fitted() - sparse.fitted()).max() <= 1e-10 * np.abs(M).max()
    assert np.abs(dense.row_offsets - sparse.row_offsets).max() <= 1e-10 * np.abs(M).max()


def test_one_side_and_none():
    M, W = planted(seed=3)
    rows = wlra.fit(M, W, rank=3, offsets="rows", **TIGHT)
    assert rows.col_offsets is None and rows.row_offsets.shape == (40,)
    plain = wlra.fit(M, W, rank=3)
    assert plain.row_offsets is None and plain.col_offsets is None
    # Rank 3 alone cannot hold the planted offsets; rank 3 with both can.
    assert np.abs(plain.fitted() - M).max() > 1e-3 * np.abs(M).max()


def test_bad_offsets_value_is_an_invalid_argument():
    M, W = planted(seed=4)
    with pytest.raises(InvalidArgumentError, match="offsets"):
        wlra.fit(M, W, rank=2, offsets="diagonal")
    with pytest.raises(InvalidArgumentError, match="WLRA_OPTION_OFFSETS"):
        wlra.fit(M, W, rank=2, offsets=4)
