"""wlra.WLRA, the scikit-learn transformer: scikit-learn's own estimator
checks, agreement with wlra.fit and with the fold-in's normal equations,
transform of the training rows against the fit's factors, Pipelines, and
its errors."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

sklearn = pytest.importorskip("sklearn")  # the test command's venv installs it
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import wlra  # noqa: E402

# Checks that do not run in this process, each with the reason.
SKIPPED_CHECKS = {
    # sklearn runs it only with SCIPY_ARRAY_API=1 set before scipy is
    # imported (a SkipTest otherwise); test_every_check_passes_with_array_api_dispatch
    # runs every check, this one included, in a process that sets it.
    "check_array_api_input": "needs SCIPY_ARRAY_API=1 before scipy is imported: run in a subprocess",
}


@parametrize_with_checks([wlra.WLRA()])
def test_sklearn_estimator_check(estimator, check):
    name = getattr(check, "func", check).__name__
    if name in SKIPPED_CHECKS:
        pytest.skip(SKIPPED_CHECKS[name])
    check(estimator)


def test_every_check_passes_with_array_api_dispatch():
    code = (
        "from sklearn.utils.estimator_checks import check_estimator\nimport wlra\n"
        "results = check_estimator(wlra.WLRA(), on_fail=None, on_skip=None)\n"
        "bad = [(r['check_name'], r['status'], repr(r['exception'])) for r in results if r['status'] != 'passed']\n"
        "print(len(results), bad)\n"
    )
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    count, bad = out.stdout.strip().split(" ", 1)
    print(f"\ncheck_estimator with SCIPY_ARRAY_API=1: {count} checks, not passed: {bad}")
    assert bad == "[]" and int(count) >= 40


def weighted_problem(n=120, m=50, k=4, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, k)) @ rng.standard_normal((k, m)) + 0.3 * rng.standard_normal((n, m))
    return X, rng.uniform(0.1, 1.0, X.shape)


OPTIONS = dict(tolerance=1e-10, max_iterations=5000, ridge=0.3)


def test_attributes_are_the_functional_fits_canonical_factors():
    X, W = weighted_problem()
    model = wlra.WLRA(4, **OPTIONS).fit(X, W=W)
    fit = wlra.fit(X, W, rank=4, **OPTIONS)
    np.testing.assert_array_equal(model.components_, fit.V.T)
    np.testing.assert_array_equal(model.singular_values_, fit.s)
    assert (model.n_iter_, model.objective_, model.converged_) == (fit.iterations, fit.objective, True)
    assert model.n_features_in_ == 50
    assert np.max(np.abs(model.components_ @ model.components_.T - np.eye(4))) <= 1e-12
    # fit_transform is the fit's U diag(s); inverse_transform maps it back to
    # the library's product.
    Z = clone(model).fit_transform(X, W=W)
    np.testing.assert_array_equal(Z, fit.U * fit.s)
    U_lib, V_lib = fit.library_factors
    product = U_lib @ V_lib.T
    assert np.linalg.norm(model.inverse_transform(Z) - product) <= 1e-12 * np.linalg.norm(product)


@pytest.mark.parametrize("method", ["alternating", "accelerated", "varpro"])
@pytest.mark.parametrize("ridge", [0.0, 0.5])
@pytest.mark.parametrize("tolerance", [1e-4, 1e-8])
def test_transform_of_the_training_rows_is_the_fit_to_within_its_tolerance(method, ridge, tolerance):
    # transform(X) is one more U half-step against the fitted V; fit_transform
    # the fit's own U. The half-step lowers f by at least the weighted
    # squared change of the product it makes, and by at most the last
    # iteration's decrease, at most tolerance * f once the fit stops: so
    # sum W ((Z_t - Z_f) components_)^2 <= tolerance * objective.
    X, W = weighted_problem()
    model = wlra.WLRA(4, method=method, ridge=ridge, tolerance=tolerance, max_iterations=100000)
    Z_fit = model.fit_transform(X, W=W)
    Z_new = model.transform(X, W=W)
    assert model.converged_
    change = np.sum(W * ((Z_new - Z_fit) @ model.components_) ** 2)
    print(f"\n{method}, ridge {ridge}, tolerance {tolerance:g}: {model.n_iter_} iterations, "
          f"change {change:.3e} = {change / (tolerance * model.objective_):.2e} tolerance * objective")
    assert change <= tolerance * model.objective_


def test_transform_solves_each_new_rows_weighted_ridge_regression():
    X, W = weighted_problem()
    ridge = 0.8
    model = wlra.WLRA(4, ridge=ridge, tolerance=1e-6, max_iterations=5000).fit(X[:100], W=W[:100])
    fit = wlra.fit(X[:100], W[:100], rank=4, ridge=ridge, tolerance=1e-6, max_iterations=5000)
    _, V_lib = fit.library_factors
    new, weights = X[100:].copy(), W[100:].copy()
    weights[3] = 0.0  # a row with no positive weight gets 0
    Z = model.transform(new, W=weights)
    for r in range(new.shape[0]):
        G = V_lib.T @ (weights[r][:, None] * V_lib) + ridge * np.eye(4)
        u = np.linalg.solve(G, V_lib.T @ (weights[r] * new[r]))
        # In the canonical basis: z components_ = u V_lib^T.
        expected = np.linalg.lstsq(model.components_.T, V_lib @ u, rcond=None)[0]
        np.testing.assert_allclose(Z[r], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(Z[3], np.zeros(4))
    # NaN is missing: the same rows as weight 0 there.
    holes = new.copy()
    holes[0, [2, 7]] = np.nan
    zeroed = weights.copy()
    zeroed[0, [2, 7]] = 0.0
    np.testing.assert_allclose(model.transform(holes, W=weights), model.transform(new, W=zeroed),
                               rtol=1e-12, atol=1e-14)


def test_nan_in_x_fits_as_the_explicit_zero_weight():
    X, W = weighted_problem(seed=2)
    holes = X.copy()
    holes[[0, 5, 9], [3, 3, 40]] = np.nan
    zeroed = W.copy()
    zeroed[[0, 5, 9], [3, 3, 40]] = 0.0
    a = wlra.WLRA(4, **OPTIONS).fit(holes, W=W)
    b = wlra.WLRA(4, **OPTIONS).fit(np.nan_to_num(holes), W=zeroed)
    np.testing.assert_allclose(a.components_, b.components_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.singular_values_, b.singular_values_, rtol=1e-12)


def test_works_inside_a_pipeline_with_the_weights_as_a_fit_parameter():
    X, W = weighted_problem(seed=3)
    y = X[:, :5].sum(axis=1)
    pipe = Pipeline([("scale", StandardScaler()), ("wlra", wlra.WLRA(4, **OPTIONS)),
                     ("regress", LinearRegression())])
    pipe.fit(X, y, wlra__W=W)
    scaled = StandardScaler().fit_transform(X)
    alone = wlra.WLRA(4, **OPTIONS)
    Z = alone.fit_transform(scaled, W=W)
    np.testing.assert_array_equal(pipe.named_steps["wlra"].components_, alone.components_)
    regression = LinearRegression().fit(Z, y)
    # Pipeline.fit ran fit_transform (with W); predict runs transform, with unit weights.
    np.testing.assert_allclose(pipe.predict(X), regression.predict(alone.transform(scaled)),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pipe[:-1].fit_transform(X, wlra__W=W), Z, rtol=0, atol=1e-12)
    assert list(pipe[:-1].get_feature_names_out()) == ["wlra0", "wlra1", "wlra2", "wlra3"]


def test_get_params_set_params_clone_and_pickle():
    model = wlra.WLRA(3, ridge=0.5, solver="exact", seed=4)
    params = model.get_params()
    assert params["n_components"] == 3 and params["ridge"] == 0.5 and params["solver"] == "exact"
    assert params["max_iterations"] is None and params["verbose"] is False
    model.set_params(n_components=2, tolerance=1e-6, max_iterations=5000)
    assert model.n_components == 2 and clone(model).get_params() == model.get_params()
    X, W = weighted_problem(seed=4)
    model.fit(X, W=W)
    assert model.components_.shape == (2, 50)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.transform(X[:7], W=W[:7]), model.transform(X[:7], W=W[:7]))


def test_errors_are_sklearns_and_wlras():
    X, W = weighted_problem(n=10, m=6)
    with pytest.raises(NotFittedError):
        wlra.WLRA().transform(X)
    with pytest.raises(ValueError, match=r"n_components = 7 must be at most min\(n_samples, n_features\): "
                                         r"n_samples = 10, n_features = 6"):
        wlra.WLRA(7).fit(X)
    with pytest.raises(ValueError, match="n_components = 0"):
        wlra.WLRA(0).fit(X)
    with pytest.raises(TypeError, match="wlra.fit_sparse"):
        wlra.WLRA().fit(sp.csr_matrix(X))
    with pytest.raises(ValueError, match=r"W has shape \(10, 5\) but X has shape \(10, 6\)"):
        wlra.WLRA().fit(X, W=W[:, :5])
    negative = W.copy()
    negative[2, 3] = -1.0
    with pytest.raises(wlra.NegativeWeightError):
        wlra.WLRA().fit(X, W=negative)
    model = wlra.WLRA(2).fit(X)
    with pytest.raises(ValueError, match="X has 5 features, but WLRA is expecting 6 features"):
        model.transform(X[:, :5])
    with pytest.raises(wlra.NegativeWeightError):
        model.transform(X, W=negative)
    with pytest.raises(ValueError, match="Z has 3 columns, the fit has n_components = 2"):
        model.inverse_transform(np.ones((4, 3)))


def test_an_unconverged_fit_warns_and_says_so():
    rng = np.random.default_rng(13)
    X = rng.standard_normal((60, 40))
    W = (rng.random(X.shape) < 0.4) * 1.0
    with pytest.warns(wlra.ConvergenceWarning, match=r"stopped after 3 iterations \(max_iterations = 3\)"):
        model = wlra.WLRA(5, max_iterations=3, method="alternating").fit(X, W=W)
    assert not model.converged_ and model.n_iter_ == 3


def test_verbose_prints_one_line_per_iteration(capsys):
    X, W = weighted_problem(seed=5)
    model = wlra.WLRA(4, verbose=True, max_iterations=4, tolerance=0.0, method="alternating").fit(X, W=W)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == model.n_iter_ == 4
    assert all(line.startswith(f"wlra: iteration {i + 1}: objective ") for i, line in enumerate(lines))


def test_dataframes_with_pandas_na_and_pandas_output():
    pd = pytest.importorskip("pandas")
    X, W = weighted_problem(n=30, m=8, k=2, seed=6)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(8)]).astype("Float64")
    frame.iloc[4, 6] = pd.NA
    zeroed = np.ones_like(X)
    zeroed[4, 6] = 0.0
    model = wlra.WLRA(2, tolerance=1e-10, max_iterations=5000).set_output(transform="pandas")
    Z = model.fit_transform(frame)
    explicit = wlra.WLRA(2, tolerance=1e-10, max_iterations=5000).fit(np.nan_to_num(frame.to_numpy(float)), W=zeroed)
    np.testing.assert_allclose(model.components_, explicit.components_, rtol=0, atol=1e-12)
    assert list(Z.columns) == ["wlra0", "wlra1"] and list(model.feature_names_in_) == list(frame.columns)
    # The same entry as an object array holding pd.NA.
    as_object = wlra.WLRA(2, tolerance=1e-10, max_iterations=5000).fit(frame.to_numpy(dtype=object))
    np.testing.assert_allclose(as_object.components_, explicit.components_, rtol=0, atol=1e-12)


def test_offsets_columns_centres_as_pca_and_mean_is_the_column_offsets():
    from sklearn.decomposition import PCA
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3)) @ rng.standard_normal((3, 12)) + 0.01 * rng.standard_normal((40, 12)) \
        + rng.uniform(-5, 5, 12)
    model = wlra.WLRA(3, offsets="columns", tolerance=1e-14, max_iterations=2000).fit(X)
    pca = PCA(3).fit(X)
    # Unit weights, nothing missing: the column offsets are the column means
    # at the optimum, and the components PCA's up to sign.
    np.testing.assert_allclose(model.mean_, X.mean(axis=0), rtol=0, atol=1e-8)
    np.testing.assert_allclose(model.singular_values_, pca.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(np.abs(model.components_ @ pca.components_.T), np.eye(3), rtol=0, atol=1e-6)
    # transform takes mean_ off; inverse_transform puts it back.
    X_new = X[:5] + 0.1
    Z = model.transform(X_new)
    np.testing.assert_allclose(np.abs(Z), np.abs(pca.transform(X_new)), rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.inverse_transform(Z), pca.inverse_transform(pca.transform(X_new)),
                               rtol=0, atol=1e-6)
    # Without offsets nothing is centred: mean_ is 0 and the fit is the uncentred one.
    plain = wlra.WLRA(3).fit(X)
    np.testing.assert_array_equal(plain.mean_, np.zeros(12))
    np.testing.assert_allclose(plain.inverse_transform(plain.transform(X[:2])),
                               plain.transform(X[:2]) @ plain.components_, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"offsets = 'rows' must be \"none\" or \"columns\" \(centring\)"):
        wlra.WLRA(3, offsets="rows").fit(X)
