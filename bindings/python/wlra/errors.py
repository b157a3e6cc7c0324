"""Exceptions for the wlra status codes: one class per status, carrying the
library's own message (wlra_last_error) and the status number."""

from ._library import STATUS_NAMES


class WlraError(Exception):
    """A wlra call failed. ``status`` is the C status code, ``message`` the
    library's detail (``str(err)`` is the same text)."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NullPointerError(WlraError):
    status = 1


class InvalidArgumentError(WlraError, ValueError):
    status = 2


class NonFiniteInputError(WlraError, ValueError):
    status = 3


class NegativeWeightError(WlraError, ValueError):
    status = 4


class NotFittedError(WlraError):
    status = 5


class CancelledError(WlraError):
    """The progress callback cancelled the fit. ``result`` holds the factors of
    the iterations that completed (a FitResult)."""

    status = 6

    def __init__(self, message, status=None, result=None):
        super().__init__(message, status)
        self.result = result


class OutOfMemoryError(WlraError, MemoryError):
    status = 7


class NumericalError(WlraError, ArithmeticError):
    status = 8


class InternalError(WlraError):
    status = 9


class BusyError(WlraError):
    """A call on a model while a fit runs on it (from the progress callback or
    another thread); nothing was changed."""

    status = 10


_BY_STATUS = {
    cls.status: cls
    for cls in (
        NullPointerError,
        InvalidArgumentError,
        NonFiniteInputError,
        NegativeWeightError,
        NotFittedError,
        CancelledError,
        OutOfMemoryError,
        NumericalError,
        InternalError,
        BusyError,
    )
}
assert set(_BY_STATUS) == set(STATUS_NAMES)


def error_for(status, message):
    """The exception for a non-zero status (WlraError for a code this binding
    does not know yet)."""
    cls = _BY_STATUS.get(status, WlraError)
    return cls(message, status)



_convergence_warning = None


def convergence_warning():
    """The class wlra.ConvergenceWarning: a subclass of scikit-learn's
    ConvergenceWarning where sklearn is installed (so that its filters and
    ``sklearn.utils._testing.ignore_warnings`` apply), of UserWarning
    otherwise. Made on first use, so that ``import wlra`` does not import
    sklearn (about a second); one class from then on."""
    global _convergence_warning
    if _convergence_warning is None:
        try:
            from sklearn.exceptions import ConvergenceWarning as base
        except ImportError:
            base = UserWarning

        class ConvergenceWarning(base):
            """A fit stopped at max_iterations without meeting its tolerance
            (the library reported converged = 0). The result is still
            returned; the message gives the iteration count and how to raise
            max_iterations."""

        ConvergenceWarning.__module__ = "wlra"
        ConvergenceWarning.__qualname__ = "ConvergenceWarning"
        _convergence_warning = ConvergenceWarning
    return _convergence_warning


def __getattr__(name):
    # wlra.errors.ConvergenceWarning, made on first access (PEP 562).
    if name == "ConvergenceWarning":
        return convergence_warning()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
