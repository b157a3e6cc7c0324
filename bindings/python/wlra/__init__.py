"""wlra: weighted low rank approximation, a thin ctypes binding over the wlra
C ABI (libwlra, found through WLRA_LIBRARY or WLRA_PREFIX).

    import numpy as np, wlra
    fit = wlra.fit(M, W, rank=3, tolerance=1e-12)
    fit.U, fit.V, fit.objective, fit.fitted()

    # scipy.sparse input: stored entries observed, the rest m_default / w_default
    fit = wlra.fit_sparse(R, rank=3, w_default=0.0)
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
from .fit import FitResult, fit
from .sparse import fit_sparse

__version__ = "1.1.0"


def library_version():
    """The version of the loaded libwlra, e.g. "1.0.0"."""
    from ._library import lib

    return lib().wlra_version().decode()


__all__ = [
    "fit",
    "fit_sparse",
    "FitResult",
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
