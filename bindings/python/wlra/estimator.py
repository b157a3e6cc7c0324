"""wlra.WLRA: the weighted low rank approximation as a scikit-learn
transformer. fit runs wlra.fit; transform folds new rows in with the C
API's wlra_transform (the fit's own U half-step for those rows); both take
the entrywise weights as ``W=`` (a fit parameter: ``wlra__W=`` in a
Pipeline). NaN in X means missing, as in wlra.fit.

scikit-learn is imported here, and only here: ``import wlra`` does not
need it.
"""

import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from . import _library as C
from .fit import _fold_in, _is_na, _is_sparse, fit

# scikit-learn 1.6 renamed force_all_finite to ensure_all_finite and made
# _validate_data a function.
_FINITE = "ensure_all_finite" if "ensure_all_finite" in inspect.signature(check_array).parameters \
    else "force_all_finite"
try:
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:
    def _validate_data(estimator, X, **kwargs):
        return estimator._validate_data(X, **kwargs)


def _checked(X, estimator=None, **kwargs):
    """X as a float64 ndarray: validate_data (n_features_in_, feature names)
    with an estimator, check_array without; NaN allowed where asked."""
    kwargs[_FINITE] = kwargs.pop("finite")
    if estimator is None:
        return check_array(X, dtype=np.float64, **kwargs)
    return _validate_data(estimator, X, dtype=np.float64, **kwargs)

# Constructor parameters that are options of wlra.fit, by the same name.
_OPTIONS = ("ridge", "ridge_scaling", "max_iterations", "tolerance", "solver", "method", "init",
            "restarts", "seed", "threads", "sketch_size_factor", "regression_tolerance", "clip",
            "adaptive_accuracy", "overrelaxation", "mixed_precision")


def _na_as_nan(X):
    """None / pandas.NA in an object ndarray as NaN (missing), as wlra.fit
    reads them; anything else is left to check_array."""
    if isinstance(X, np.ndarray) and X.dtype == object:
        na = np.frompyfunc(_is_na, 1, 1)(X).astype(bool)
        if na.any():
            X = np.where(na, np.nan, X)
    return X


class WLRA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Weighted low rank approximation, X ~ Z @ components_, minimizing
    sum_ij W_ij (X_ij - (Z components_)_ij)^2 + ridge (penalty), as a
    scikit-learn transformer (Pipeline, clone, get_params / set_params).

    Parameters
    ----------
    n_components : int, default 2
        The rank k, at most min(n_samples, n_features).
    ridge, ridge_scaling, tolerance, seed, solver, method, init, restarts,
    threads, sketch_size_factor, regression_tolerance, clip,
    adaptive_accuracy, overrelaxation, mixed_precision :
        Options of wlra.fit (the C API's WLRA_OPTION_*), with its defaults.
    max_iterations : int or None, default None
        None: the library's default (each start its method's default: 100
        iterations for alternation, 500 for VarPro);
        an integer bounds the whole fit, restarts included.
    offsets : "none" or "columns", default "none"
        "columns" centres: X ~ 1 mean_ + Z @ components_, the column offsets
        fitted with the factors (wlra.fit's offsets="columns", unpenalized).
        "rows" and "both" are refused: a per-sample offset has no place in
        transform's output (wlra.fit fits them).
    verbose : bool, default False
        One line per outer iteration.

    Weights and missing values: ``fit(X, W=...)``, ``transform(X, W=...)``
    with W of X's shape (None: all 1); NaN (or None / pandas.NA) in X means
    missing, weight 0 there. In a Pipeline, ``pipe.fit(X, wlra__W=W)``.
    Sparse X is refused: ``wlra.fit_sparse`` fits it.

    Attributes (after fit), in the canonical form of wlra.FitResult, the fit
    being U diag(s) V^T:
    components_ : (k, n_features), V^T: orthonormal rows, in each row the
        entry of largest magnitude positive (the first on ties).
    singular_values_ : (k,), s, descending.
    mean_ : (n_features,), the fitted column offsets b with
        offsets="columns" (for unit weights and no missing entries, at the
        optimum, X.mean(axis=0), as scikit-learn's PCA centres); zeros with
        offsets="none", which does not centre.
    n_features_in_, feature_names_in_ (for a DataFrame), converged_,
    n_iter_, objective_ : as the fit reported them.

    ``fit_transform(X)`` is the fit's own U diag(s); ``transform(X)`` of new
    rows is the fold-in (each row's weighted ridge regression on the fitted
    factor, expressed in the canonical basis), which for the training rows
    differs from U diag(s) by the fit's last half-step only.
    With offsets="columns", transform takes mean_ off each row's observed
    entries first (the library's fold-in with the fitted column offsets),
    and ``inverse_transform(Z)`` is Z @ components_ + mean_. A fit that stops without
    converging warns (wlra.ConvergenceWarning).
    """

    def __init__(self, n_components=2, *, ridge=0.0, ridge_scaling="uniform", max_iterations=None,
                 tolerance=1e-8, solver="auto", method="auto", init="svd", restarts=-1, seed=0,
                 threads=0, sketch_size_factor=4.0, regression_tolerance=1e-10, clip=0.0,
                 adaptive_accuracy=1, overrelaxation=1.0, mixed_precision=1, offsets="none", verbose=False):
        self.n_components = n_components
        self.ridge = ridge
        self.ridge_scaling = ridge_scaling
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        self.solver = solver
        self.method = method
        self.init = init
        self.restarts = restarts
        self.seed = seed
        self.threads = threads
        self.sketch_size_factor = sketch_size_factor
        self.regression_tolerance = regression_tolerance
        self.clip = clip
        self.adaptive_accuracy = adaptive_accuracy
        self.overrelaxation = overrelaxation
        self.mixed_precision = mixed_precision
        self.offsets = offsets
        self.verbose = verbose

    def _options(self):
        return {name: getattr(self, name) for name in _OPTIONS if getattr(self, name) is not None}

    def _weights(self, W, X):
        if W is None:
            return None
        W = _checked(W, finite=False, input_name="W")
        if W.shape != X.shape:
            raise ValueError(f"W has shape {W.shape} but X has shape {X.shape}")
        return W

    def _fit(self, X, W):
        if _is_sparse(X):  # check_array's message would say only .toarray()
            raise TypeError("WLRA takes dense X (NaN for missing entries); for sparse X, whose "
                            "stored entries are the observed ones, use wlra.fit_sparse")
        X = _checked(_na_as_nan(X), self, finite="allow-nan", reset=True)
        W = self._weights(W, X)
        k = self.n_components
        n, m = X.shape
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"n_components = {k!r} must be a whole number >= 1")
        if k > min(n, m):
            raise ValueError(f"n_components = {k} must be at most min(n_samples, n_features): "
                             f"n_samples = {n}, n_features = {m}")
        if self.offsets not in ("none", "columns"):
            raise ValueError(f"offsets = {self.offsets!r} must be \"none\" or \"columns\" (centring): per-sample "
                             "offsets (\"rows\", \"both\") have no place in transform's output; wlra.fit fits them")
        result = fit(X, W, rank=int(k), verbose=bool(self.verbose), offsets=self.offsets, **self._options())
        library_U, library_V = result.library_factors
        self.components_ = result.V.T.copy()
        self.singular_values_ = result.s
        self.mean_ = result.col_offsets if result.col_offsets is not None else np.zeros(m)
        # Fold-in takes the fitted column offsets off (the fit's, not a later set_params').
        self._centred = result.col_offsets is not None
        self.converged_ = result.converged
        self.n_iter_ = result.iterations
        self.objective_ = result.objective
        # The fold-in solves against the library's own factors (the ridge
        # is not gauge invariant), loaded with wlra_set_fitted; _to_canonical
        # maps its rows u to the canonical basis: u V_lib^T = (u
        # _to_canonical) components_, exactly.
        self._library_factors = (library_U, library_V)
        self._to_canonical = library_V.T @ result.V
        # The fit's ridge, for the fold-in (not a later set_params').
        self._fold_in_options = {name: value for name, value in self._options().items()
                                 if name in ("ridge", "ridge_scaling", "threads")}
        return result

    def fit(self, X, y=None, W=None):
        """Fits X (n_samples x n_features, NaN missing) with weights W
        (X's shape, None: all 1). y is ignored. Returns self."""
        self._fit(X, W)
        return self

    def fit_transform(self, X, y=None, W=None):
        """fit(X, W=W), then the fit's own U diag(s) (n_samples x k)."""
        result = self._fit(X, W)
        return result.U * result.s

    def transform(self, X, W=None):
        """The rows of X (NaN missing) with weights W folded in: each row's
        z (k) minimizing sum_j W_j (X_j - (z components_)_j)^2 + its ridge
        penalty in the fit's gauge (the ridge and ridge_scaling of the fit),
        by the C API's wlra_transform on the fit, loaded with wlra_set_fitted
        (a pickled estimator folds in as the fitted one). A row with no
        positive weight gets 0."""
        check_is_fitted(self, "components_")
        X = _checked(_na_as_nan(X), self, finite="allow-nan", reset=False)
        W = self._weights(W, X)
        u, _ = _fold_in(self._library_factors, X, W, self._fold_in_options,
                        col_offsets=self.mean_ if getattr(self, "_centred", False) else None)
        return u @ self._to_canonical

    def inverse_transform(self, Z):
        """Z @ components_ + mean_: the low rank approximation of rows given
        by Z (n x k), with the column offsets (zeros without offsets)."""
        check_is_fitted(self, "components_")
        Z = _checked(Z, finite=True, input_name="Z")
        k = self.components_.shape[0]
        if Z.shape[1] != k:
            raise ValueError(f"Z has {Z.shape[1]} columns, the fit has n_components = {k}")
        return Z @ self.components_ + self.mean_

    @property
    def _n_features_out(self):
        # For get_feature_names_out: wlra0, wlra1, ...
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN in X is a missing entry
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"allow_nan": True}


assert set(_OPTIONS) <= set(C.OPTIONS)
