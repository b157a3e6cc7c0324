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
    """A call reached a model while it was fitting (from its progress
    callback or another thread)."""

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
