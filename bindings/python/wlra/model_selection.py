"""Choosing rank and ridge on held-out entries, and a regularization path.

Both run on the C library's own machinery: the folds are the library's
(WLRA_OPTION_FOLDS: a hash of (seed, row, column) over the observed entries,
so M is never copied or split here), and each fold's held-out RMSE is what
the library reports after the fit (WLRA_INFO_HELD_OUT_RMSE).
"""

import numpy as np

from .errors import InvalidArgumentError
from .fit import fit
from .sparse import fit_sparse


class CrossValidation:
    """What ``cross_validate`` measured: ``ranks`` and ``ridges`` as given,
    ``rmse`` (len(ranks) x len(ridges)), the held-out RMSE averaged over the
    folds, ``fold_rmse`` (len(ranks) x len(ridges) x folds), and the best
    setting ``best_rank``, ``best_ridge`` with its ``best_rmse``."""

    def __init__(self, ranks, ridges, fold_rmse):
        self.ranks = list(ranks)
        self.ridges = list(ridges)
        self.fold_rmse = fold_rmse
        self.rmse = fold_rmse.mean(axis=2)
        r, p = np.unravel_index(np.argmin(self.rmse), self.rmse.shape)
        self.best_rank, self.best_ridge = self.ranks[r], self.ridges[p]
        self.best_rmse = float(self.rmse[r, p])

    def table(self):
        """{(rank, ridge): mean held-out RMSE}."""
        return {(k, lam): float(self.rmse[i, j])
                for i, k in enumerate(self.ranks) for j, lam in enumerate(self.ridges)}

    def __repr__(self):
        return (f"<wlra.CrossValidation {len(self.ranks)} ranks x {len(self.ridges)} ridges x "
                f"{self.fold_rmse.shape[2]} folds: best rank {self.best_rank}, ridge {self.best_ridge:g}, "
                f"RMSE {self.best_rmse:.6g}>")


def _settings(name, values, check):
    values = list(values) if np.ndim(values) else [values]
    if not values:
        raise InvalidArgumentError(f"{name} is empty: give at least one value", 2)
    for v in values:
        if not check(v):
            raise InvalidArgumentError(f"{name} holds {v!r}", 2)
    return values


def _fitter(M):
    try:
        import scipy.sparse as sp
    except ImportError:  # dense input needs no scipy
        return fit
    return fit_sparse if sp.issparse(M) else fit


def cross_validate(M, W=None, *, ranks, ridges, folds=5, seed=0, path=True, **options):
    """Held-out RMSE of every (rank, ridge) over ``folds`` folds of the
    observed entries (W > 0, NaN in M missing; or the stored entries of a
    scipy.sparse M), and the best setting.

    Each fit holds one fold out (its entries weigh 0) and the library
    reports the fold's weighted RMSE; the folds depend only on ``seed`` and
    the entries, so every setting sees the same split. ``options`` go to
    every fit (``fit`` or, for sparse M, ``fit_sparse`` with its m_default /
    w_default). Returns a ``CrossValidation``.

    With ``path`` (the default) the ridges of each rank and fold are a
    regularization path, largest first: the largest ridge's fit starts as
    ``options`` say (the library's defaults: the SVD start, and restarts
    where AUTO runs them), each smaller ridge's fit from the fit before it
    on the same training entries, as ``fit_path`` does. Where a ridge-free
    fit has many local optima, its start from the ridged optimum replaces
    the restarts an independent fit needs (docs/modeling.md,
    "Cross-validation along the ridge path"). ``path=False`` fits every
    setting independently.
    """
    is_count = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)
    ranks = _settings("ranks", ranks, lambda k: is_count(k) and k >= 1)
    ridges = _settings("ridges", ridges, lambda r: np.isfinite(r) and r >= 0)
    if not is_count(folds) or folds < 2:
        raise InvalidArgumentError(f"folds = {folds!r} must be a whole number >= 2", 2)
    for name in ("rank", "ridge", "folds", "held_out_fold", "seed", "start"):
        if name in options:
            raise TypeError(f"cross_validate() sets {name} itself")
    run = _fitter(M)
    fold_rmse = np.empty((len(ranks), len(ridges), folds))
    # Largest ridge first; equal ridges keep their order.
    order = sorted(range(len(ridges)), key=lambda j: -ridges[j])
    for i, rank in enumerate(ranks):
        for h in range(folds):
            fold = dict(options, folds=folds, held_out_fold=h, seed=seed)
            fits = _along_path(run, M, W, rank, [ridges[j] for j in order], fold, warm=path)
            for j, result in zip(order, fits):
                fold_rmse[i, j, h] = result.held_out_rmse
    return CrossValidation(ranks, ridges, fold_rmse)


def _along_path(run, M, W, rank, ridges, options, warm=True):
    """The fits at ``ridges`` in the order given: the first starts as
    ``options`` say; with ``warm`` each later one starts from the fit
    before it, whatever init the options name."""
    previous = None
    for ridge in ridges:
        start = dict(start=previous, init="given") if warm and previous is not None else {}
        previous = run(M, W, rank=rank, ridge=ridge, **{**options, **start})
        yield previous


def fit_path(M, W=None, *, rank, ridges, **options):
    """Fits at each ridge of ``ridges`` (largest first is best), the first
    started as ``options`` say, each later one from the previous fit's
    factors (whatever ``init`` the options name): a regularization path,
    cheaper than independent fits. Returns the list of ``FitResult``, one
    per ridge, in the order given."""
    ridges = _settings("ridges", ridges, lambda r: np.isfinite(r) and r >= 0)
    if "start" in options or "ridge" in options:
        raise TypeError("fit_path() sets start and ridge itself")
    # A FitResult as start: its library_factors, in the library's own gauge.
    return list(_along_path(_fitter(M), M, W, rank, ridges, options))
