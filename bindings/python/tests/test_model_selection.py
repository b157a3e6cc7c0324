"""wlra.cross_validate and wlra.fit_path (issue 17): the held-out RMSE picks
the planted rank, dense and sparse input give the same table, each fold's
RMSE is the library's for that fold, a path fit equals an independent fit,
and bad settings are refused."""

import numpy as np
import pytest
import scipy.sparse as sp

import wlra


def completion(seed=0, n=60, m=50, k=4, observed=0.5, noise=0.05):
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal((n, k)) @ rng.standard_normal((k, m))
    M = truth + noise * rng.standard_normal((n, m))
    M[rng.random((n, m)) >= observed] = np.nan
    return M


OPTIONS = dict(tolerance=1e-10, max_iterations=500)


def test_cross_validation_picks_the_planted_rank():
    M = completion()
    cv = wlra.cross_validate(M, ranks=[2, 4, 6], ridges=[0.1, 1.0], folds=4, seed=3, **OPTIONS)
    print(cv, cv.table())
    assert cv.rmse.shape == (3, 2) and cv.fold_rmse.shape == (3, 2, 4)
    assert np.all(np.isfinite(cv.fold_rmse))
    assert cv.best_rank == 4
    # Rank 2 underfits: its held-out error is far above the noise (0.05).
    assert cv.rmse[0].min() > 3 * cv.best_rmse
    assert cv.best_rmse < 0.2
    # Each fold's RMSE is the library's report for that held-out fold.
    one = wlra.fit(M, rank=4, ridge=1.0, folds=4, held_out_fold=2, seed=3, **OPTIONS)
    assert one.held_out_rmse == cv.fold_rmse[1, 1, 2]
    assert one.held_out_entries > 0


def test_sparse_and_dense_cross_validation_agree():
    M = completion(seed=1)
    observed = ~np.isnan(M)
    rows, cols = np.nonzero(observed)
    S = sp.csr_matrix((M[rows, cols], (rows, cols)), shape=M.shape)
    settings = dict(ranks=[3, 4], ridges=[0.5, 0.1], folds=3, seed=9, **OPTIONS)
    dense = wlra.cross_validate(M, **settings)
    sparse = wlra.cross_validate(S, w_default=0.0, **settings)
    np.testing.assert_allclose(sparse.fold_rmse[:, 0], dense.fold_rmse[:, 0], rtol=1e-9)
    # Ridge 0.1 starts from each input's own ridge-0.5 fit along the path.
    np.testing.assert_allclose(sparse.fold_rmse[:, 1], dense.fold_rmse[:, 1], rtol=1e-6)


def test_a_path_fit_equals_an_independent_fit():
    M = completion(seed=2, observed=0.8)
    ridges = [10.0, 4.0, 1.6, 0.64]
    path = wlra.fit_path(M, rank=4, ridges=ridges, tolerance=1e-14, max_iterations=3000)
    total_path, total_alone = 0, 0
    for ridge, on_path in zip(ridges, path):
        alone = wlra.fit(M, rank=4, ridge=ridge, tolerance=1e-14, max_iterations=3000)
        assert abs(on_path.objective - alone.objective) <= 1e-8 * alone.objective
        total_path += on_path.iterations
        total_alone += alone.iterations
    assert total_path < total_alone


def test_cross_validation_fits_each_fold_along_the_ridge_path():
    # Ridges in no order: the path runs them largest first, each fit from the one before.
    M = completion(seed=4, observed=0.6)
    ridges = [0.0, 2.0, 0.5]
    settings = dict(ranks=[4], ridges=ridges, folds=3, seed=5, **OPTIONS)
    cv = wlra.cross_validate(M, **settings)
    alone = wlra.cross_validate(M, path=False, **settings)
    for h in range(3):
        on_path = wlra.fit_path(M, rank=4, ridges=[2.0, 0.5, 0.0], folds=3, held_out_fold=h, seed=5, **OPTIONS)
        assert [cv.fold_rmse[0, j, h] for j in (1, 2, 0)] == [r.held_out_rmse for r in on_path]
        for j, ridge in enumerate(ridges):
            one = wlra.fit(M, rank=4, ridge=ridge, folds=3, held_out_fold=h, seed=5, **OPTIONS)
            assert alone.fold_rmse[0, j, h] == one.held_out_rmse
    # The largest ridge starts the path as an independent fit does; the
    # others start elsewhere, so their bits differ, not their optimum here.
    assert np.array_equal(cv.fold_rmse[0, 1], alone.fold_rmse[0, 1])
    assert not np.array_equal(cv.fold_rmse[0, 0], alone.fold_rmse[0, 0])
    np.testing.assert_allclose(cv.fold_rmse, alone.fold_rmse, rtol=1e-5)
    with pytest.raises(TypeError):
        wlra.cross_validate(M, start=on_path[0], **settings)


def test_a_path_warm_starts_whatever_init_the_options_name():
    M = completion(seed=5)
    first, second = wlra.fit_path(M, rank=4, ridges=[1.0, 0.2], init="random", seed=2, **OPTIONS)
    alone = wlra.fit(M, rank=4, ridge=1.0, init="random", seed=2, **OPTIONS)
    assert first.objective == alone.objective
    warm = wlra.fit(M, rank=4, ridge=0.2, start=first, init="given", seed=2, **OPTIONS)
    assert second.objective == warm.objective
    cold = wlra.fit(M, rank=4, ridge=0.2, init="random", seed=2, **OPTIONS)
    assert second.iterations < cold.iterations


def test_weight_sum_ridges_run_the_exact_solver():
    M = completion(seed=3)
    result = wlra.fit(M, rank=4, ridge=0.05, ridge_scaling="weight_sums", **OPTIONS)
    assert result.solver_used == "exact"
    with pytest.raises(wlra.InvalidArgumentError):
        wlra.fit(M, rank=4, ridge_scaling="by_count")


@pytest.mark.parametrize(
    "settings",
    [
        dict(ranks=[], ridges=[1.0]),
        dict(ranks=[2], ridges=[]),
        dict(ranks=[0], ridges=[1.0]),
        dict(ranks=[2.5], ridges=[1.0]),
        dict(ranks=[2], ridges=[-1.0]),
        dict(ranks=[2], ridges=[float("nan")]),
        dict(ranks=[2], ridges=[1.0], folds=1),
        dict(ranks=[2], ridges=[1.0], folds=2.5),
    ],
)
def test_bad_settings_are_refused(settings):
    with pytest.raises(wlra.InvalidArgumentError):
        wlra.cross_validate(completion(), **settings)


def test_a_fold_with_no_observed_entry_is_refused():
    M = np.full((4, 3), np.nan)
    M[2, 1] = 1.0
    statuses = []
    for h in range(2):
        try:
            wlra.fit(M, rank=1, folds=2, held_out_fold=h)
            statuses.append("ok")
        except wlra.InvalidArgumentError as error:
            assert "holds no observed entry" in str(error)
            statuses.append("refused")
    assert sorted(statuses) == ["ok", "refused"]
