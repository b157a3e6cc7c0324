"""What the defaults run on plain PCA (issue 25: unweighted PCA of
scikit-learn's digits took 42-107 s, VarPro with 16 random starts, where
the SVD is the answer). Not a timing test: it pins what AUTO chooses
(src/driver.rs, choose_method / start_is_the_answer, src/outer/eckart_young.rs:
dense input, rank-one positive weights (W = None included), no ridge, no
offsets: the truncated SVD in closed form, no iteration) and that the result
is Eckart-Young's. benches/digits/ times it."""

import numpy as np
import pytest

import wlra


def digits_like(n=500, m=64, seed=0):
    """Digits-shaped data: n images of 8 x 8 pixels with values 0..16, from
    a few smooth strokes (so its spectrum decays as the digits' does), and
    some columns constant (the digits' border pixels are all 0)."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1.0, 1.0, 8)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    strokes = np.stack([np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.3).ravel()
                        for cx, cy in rng.uniform(-0.7, 0.7, (12, 2))])
    X = rng.gamma(2.0, 1.0, (n, strokes.shape[0])) @ strokes
    X = np.clip(np.rint(16 * X / X.max() * 1.5), 0, 16)
    X[:, [0, 7, 56]] = 0.0
    assert X.shape == (n, m)
    return X


@pytest.mark.parametrize("centred", [True, False])
@pytest.mark.parametrize("k", [1, 5, 12])
def test_plain_pca_defaults_compute_the_truncated_svd_without_iterating(centred, k):
    X = digits_like()
    if centred:
        X = X - X.mean(axis=0)
    s = np.linalg.svd(X, compute_uv=False)
    optimum = float(np.sum(s[k:] ** 2))
    fit = wlra.fit(X, rank=k)
    assert fit.method_used == "svd" and fit.iterations == 0, fit
    assert fit.starts == 1 and fit.starts_at_best == 1, fit
    assert fit.converged, fit
    assert abs(fit.objective - optimum) <= 1e-8 * optimum, (fit.objective, optimum)
    # The objective the library reports is that of the factors it returns.
    assert abs(np.sum((X - fit.fitted()) ** 2) - optimum) <= 1e-8 * optimum
    np.testing.assert_allclose(fit.s, s[:k], rtol=1e-7)


def test_unit_weights_given_as_an_array_run_the_same_as_none():
    """W = np.ones(...) is PCA too: the defaults compute the truncated SVD,
    as with W = None."""
    X = digits_like(n=200)
    X = X - X.mean(axis=0)
    k = 5
    optimum = float(np.sum(np.linalg.svd(X, compute_uv=False)[k:] ** 2))
    fit = wlra.fit(X, np.ones_like(X), rank=k)
    assert fit.method_used == "svd" and fit.starts == 1 and fit.iterations == 0, fit
    assert abs(fit.objective - optimum) <= 1e-8 * optimum, (fit.objective, optimum)


def test_per_column_variances_are_solved_in_closed_form():
    """W = 1 / sd_j^2 per column (rank one: 1 b^T) is PCA of the columns
    scaled by 1 / sd_j: the defaults compute it without iterating, and the
    objective is that of the scaled matrix's truncated SVD. With one weight
    0 (an entry missing) it is not, and the defaults iterate."""
    X = digits_like(n=300)
    X = X - X.mean(axis=0)
    sd = np.random.default_rng(1).uniform(0.5, 4.0, X.shape[1])
    W = np.tile(1.0 / sd**2, (X.shape[0], 1))
    k = 6
    optimum = float(np.sum(np.linalg.svd(X / sd, compute_uv=False)[k:] ** 2))
    fit = wlra.fit(X, W, rank=k)
    assert fit.method_used == "svd" and fit.iterations == 0, fit
    assert abs(fit.objective - optimum) <= 1e-10 * optimum, (fit.objective, optimum)
    assert abs(np.sum(W * (X - fit.fitted()) ** 2) - optimum) <= 1e-10 * optimum
    W[3, 5] = 0.0
    missing = wlra.fit(X, W, rank=k)
    assert missing.method_used != "svd" and missing.iterations > 0, missing
