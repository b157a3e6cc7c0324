"""A pickled fit, reloaded, folds in and predicts through the C API's
wlra_set_fitted as the fit's own model does (issue 28): WLRA.transform and
FitResult.predict against wlra_transform / wlra_predict called on the model
that ran the fit, to 1e-12."""

import ctypes
import pickle

import numpy as np
import pytest

import wlra
from wlra import _library as C
from wlra.fit import _fold_in, _loaded, _option_value


def _problem(n=40, m=25, k=3, seed=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k)) @ rng.standard_normal((k, m)) + 0.01 * rng.standard_normal((n, m))
    W = rng.uniform(0.2, 1.0, (n, m))
    return X + 2.0, W


class _OwnModel:
    """The model that ran the fit, kept alive (what a binding cannot pickle)."""

    def __init__(self, X, W, rank, **options):
        self.lib = C.lib()
        self.model = ctypes.c_void_p()
        assert self.lib.wlra_create(rank, ctypes.byref(self.model)) == C.OK
        for name, value in options.items():
            assert self.lib.wlra_set_option(self.model, C.OPTIONS[name], _option_value(name, value)) == C.OK
        X, W = np.ascontiguousarray(X), np.ascontiguousarray(W)
        n, m = X.shape
        assert self.lib.wlra_fit(self.model, n, m, X.ctypes.data, m, W.ctypes.data, m, C.ROW_MAJOR) == C.OK
        self.rank = rank

    def transform(self, rows, weights):
        rows, weights = np.ascontiguousarray(rows), np.ascontiguousarray(weights)
        n_new, m = rows.shape
        u, a = np.empty((n_new, self.rank)), np.empty(n_new)
        status = self.lib.wlra_transform_with_offsets(self.model, n_new, rows.ctypes.data, m, weights.ctypes.data, m,
                                                     u.ctypes.data, self.rank, a.ctypes.data, C.ROW_MAJOR)
        assert status == C.OK
        return u, a

    def predict(self, i, j):
        i, j = np.ascontiguousarray(i, dtype=np.int64), np.ascontiguousarray(j, dtype=np.int64)
        out = np.empty(i.size)
        assert self.lib.wlra_predict(self.model, i.size, i.ctypes.data, j.ctypes.data, out.ctypes.data) == C.OK
        return out

    def close(self):
        self.lib.wlra_destroy(self.model)


def _relative(x, y):
    return np.abs(x - y).max() / np.abs(y).max()


@pytest.mark.parametrize("ridge", [0.0, 0.05])
def test_pickled_estimator_transforms_as_the_fits_own_model(ridge):
    X, W = _problem()
    options = dict(tolerance=1e-10, max_iterations=500, ridge=ridge)
    model = wlra.WLRA(3, **options).fit(X, W=W)
    again = pickle.loads(pickle.dumps(model))
    new, weights = _problem(n=7, seed=9)
    weights[0] = 0.0  # a row with no weight folds in to 0
    own = _OwnModel(X, W, 3, **options)
    try:
        u_own, _ = own.transform(new, weights)
    finally:
        own.close()
    Z = again.transform(new, W=weights)
    assert _relative(Z, u_own @ again._to_canonical) <= 1e-12
    np.testing.assert_array_equal(Z, model.transform(new, W=weights))
    assert not Z[0].any()


@pytest.mark.parametrize("offsets", ["none", "rows", "columns", "both"])
def test_pickled_fit_predicts_as_the_fits_own_model(offsets):
    X, W = _problem()
    options = dict(tolerance=1e-10, max_iterations=500, offsets=offsets)
    result = pickle.loads(pickle.dumps(wlra.fit(X, W, rank=3, **options)))
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, 40, 200), rng.integers(0, 25, 200)
    own = _OwnModel(X, W, 3, **options)
    try:
        expected = own.predict(i, j)
    finally:
        own.close()
    assert _relative(result.predict(i, j), expected) <= 1e-12
    assert _relative(result.predict(i, j), result.fitted()[i, j]) <= 1e-12
    # numpy's index conventions: broadcasting, negative indices from the end.
    assert result.predict(-1, np.arange(25)).shape == (25,)
    assert _relative(result.predict(-1, np.arange(25)), result.fitted()[-1]) <= 1e-12


def test_fold_in_with_offsets_goes_through_the_library():
    X, W = _problem()
    result = wlra.fit(X, W, rank=3, tolerance=1e-10, max_iterations=500, offsets="both")
    again = pickle.loads(pickle.dumps(result))
    own = _OwnModel(X, W, 3, tolerance=1e-10, max_iterations=500, offsets="both")
    try:
        u_own, a_own = own.transform(X[:5], W[:5])
    finally:
        own.close()
    u, a = _fold_in(again.library_factors, X[:5], W[:5], {}, again.row_offsets, again.col_offsets)
    assert _relative(u, u_own) <= 1e-12 and _relative(a, a_own) <= 1e-12


def test_bad_predictions_and_loads_are_the_librarys_errors():
    X, W = _problem()
    result = wlra.fit(X, W, rank=2, tolerance=1e-10, max_iterations=500)
    with pytest.raises(wlra.InvalidArgumentError, match="rows"):
        result.predict([40], [0])
    with pytest.raises(IndexError, match="integer"):
        result.predict([0.5], [0])
    U, V = result.library_factors
    bad = U.copy()
    bad[3, 1] = np.nan
    with pytest.raises(wlra.NonFiniteInputError, match=r"U\[3, 1\] = NaN"):
        with _loaded((bad, V)):
            pass
