"""Forked workers (multiprocessing with the fork start method) fit after the
parent has: a forked child inherits none of the library's pool threads,
which the library detects and replaces (docs/reliability.md)."""

import multiprocessing

import numpy as np
import pytest

import wlra


def _problem():
    rng = np.random.default_rng(1)
    M = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    W = rng.uniform(0.1, 1.0, (60, 40))
    return M, W


def _worker(_):
    M, W = _problem()
    fit = wlra.fit(M, W, rank=3, threads=2)
    return fit.objective, float(fit.predict([0], [0])[0])


def test_forked_workers_fit_after_the_parent_has():
    M, W = _problem()
    parent = wlra.fit(M, W, rank=3, threads=2)
    with multiprocessing.get_context("fork").Pool(4) as pool:
        result = pool.map_async(_worker, range(4))
        # A hang fails here (the pool is terminated on leaving the block).
        out = result.get(timeout=60)
    assert len(out) == 4
    for objective, value in out:
        assert objective == pytest.approx(parent.objective, rel=1e-12)
        assert np.isfinite(value)
