"""wlra: weighted low rank approximation, a thin ctypes binding over the wlra
C ABI. libwlra is inside the package (pip builds it with cargo); WLRA_LIBRARY
(full path) or WLRA_PREFIX (install prefix) override it, and without either
the system loader's paths are searched (libwlra.so.1).

    import numpy as np, wlra
    fit = wlra.fit(M, W, rank=3, tolerance=1e-12)
    fit.U, fit.V, fit.objective, fit.fitted()

    # scipy.sparse input: stored entries observed, the rest m_default / w_default
    fit = wlra.fit_sparse(R, rank=3, w_default=0.0)

    # scikit-learn transformer (needs scikit-learn; imported on first use)
    model = wlra.WLRA(n_components=3).fit(X, W=W)
    Z = model.transform(X_new, W=W_new)

A fit's factors are in canonical form, U diag(s) V^T with U and V
orthonormal and s descending (FitResult); a fit that stops without
converging warns (wlra.ConvergenceWarning).
"""

from ._library import LibraryNotFoundError
from .errors import (
    BusyError,
    CancelledError,
    InternalError,
    InvalidArgumentError,
    NegativeWeightError,
    NonFiniteInputError,
    NotFittedError,
    NullPointerError,
    NumericalError,
    OutOfMemoryError,
    WlraError,
)
from .fit import FitResult, canonical_factors, fit
from .model_selection import CrossValidation, cross_validate, fit_path
from .sparse import fit_sparse


def _package_version():
    """The installed distribution's version (setup.py takes it from the
    crate's Cargo.toml); None when run from an uninstalled source tree."""
    from importlib import metadata

    try:
        return metadata.version("wlra")
    except metadata.PackageNotFoundError:
        return None


__version__ = _package_version()


def __getattr__(name):
    # Made on first use (PEP 562), so that `import wlra` imports no sklearn:
    # WLRA needs it; ConvergenceWarning subclasses sklearn's when installed.
    if name == "WLRA":
        try:
            from .estimator import WLRA
        except ImportError as e:
            if getattr(e, "name", "").partition(".")[0] != "sklearn":
                raise
            raise ImportError(f"wlra.WLRA is a scikit-learn estimator and needs scikit-learn "
                              f"(pip install scikit-learn): {e}") from e
        return WLRA
    if name == "ConvergenceWarning":
        from .errors import convergence_warning

        return convergence_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def library_version():
    """The version of the loaded libwlra, e.g. "1.0.0"."""
    from ._library import lib

    return lib().wlra_version().decode()


__all__ = [
    "fit",
    "fit_sparse",
    "cross_validate",
    "CrossValidation",
    "fit_path",
    "FitResult",
    "canonical_factors",
    "ConvergenceWarning",
    # (WLRA is not listed: `from wlra import *` must work without scikit-learn.)
    "library_version",
    "LibraryNotFoundError",
    "WlraError",
    "NullPointerError",
    "InvalidArgumentError",
    "NonFiniteInputError",
    "NegativeWeightError",
    "NotFittedError",
    "CancelledError",
    "OutOfMemoryError",
    "NumericalError",
    "InternalError",
    "BusyError",
]
