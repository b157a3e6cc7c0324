//! Status codes of the C ABI, and the one place where errors and codes
//! convert: `status_of` (error -> code) and `error_with_status` (code ->
//! error, for a status another rank reported).

use crate::error::Error;

/// 0 = success; see the WLRA_ERROR_* codes.
#[allow(non_camel_case_types)]
pub type wlra_status = i32;

/// Success.
pub const WLRA_OK: wlra_status = 0;
/// A required pointer argument was NULL.
pub const WLRA_ERROR_NULL_POINTER: wlra_status = 1;
/// Dims, rank, leading dimension, layout, option or value out of range.
pub const WLRA_ERROR_INVALID_ARGUMENT: wlra_status = 2;
/// NaN or +-Inf in M, W or given factors.
pub const WLRA_ERROR_NON_FINITE_INPUT: wlra_status = 3;
/// A weight below zero.
pub const WLRA_ERROR_NEGATIVE_WEIGHT: wlra_status = 4;
/// Factors or info asked for before a fit.
pub const WLRA_ERROR_NOT_FITTED: wlra_status = 5;
/// The progress callback asked to stop.
pub const WLRA_ERROR_CANCELLED: wlra_status = 6;
/// An allocation (or the thread pool) could not be had.
pub const WLRA_ERROR_OUT_OF_MEMORY: wlra_status = 7;
/// Numerical breakdown the solver could not repair.
pub const WLRA_ERROR_NUMERICAL: wlra_status = 8;
/// A bug: an internal panic caught at the boundary.
pub const WLRA_ERROR_INTERNAL: wlra_status = 9;
/// The model is in use by a fit (a call from its progress callback, or from
/// another thread while it runs); nothing was changed (added in 1.2).
pub const WLRA_ERROR_BUSY: wlra_status = 10;

pub fn status_of(error: &Error) -> wlra_status {
    match error {
        Error::NullPointer(_) => WLRA_ERROR_NULL_POINTER,
        Error::InvalidArgument(_) => WLRA_ERROR_INVALID_ARGUMENT,
        Error::NonFiniteInput(_) => WLRA_ERROR_NON_FINITE_INPUT,
        Error::NegativeWeight(_) => WLRA_ERROR_NEGATIVE_WEIGHT,
        Error::NotFitted(_) => WLRA_ERROR_NOT_FITTED,
        Error::Cancelled(_) => WLRA_ERROR_CANCELLED,
        Error::OutOfMemory(_) => WLRA_ERROR_OUT_OF_MEMORY,
        Error::Numerical(_) => WLRA_ERROR_NUMERICAL,
        Error::Internal(_) => WLRA_ERROR_INTERNAL,
        Error::Busy(_) => WLRA_ERROR_BUSY,
    }
}

/// A status code as the error it stands for, with `message`; an unknown
/// code (or WLRA_OK, which is no error) is an internal error.
/// Only distributed fits receive statuses from elsewhere (another rank).
#[cfg(feature = "mpi")]
pub(crate) fn error_with_status(code: wlra_status, message: String) -> Error {
    match code {
        WLRA_ERROR_NULL_POINTER => Error::NullPointer(message),
        WLRA_ERROR_INVALID_ARGUMENT => Error::InvalidArgument(message),
        WLRA_ERROR_NON_FINITE_INPUT => Error::NonFiniteInput(message),
        WLRA_ERROR_NEGATIVE_WEIGHT => Error::NegativeWeight(message),
        WLRA_ERROR_NOT_FITTED => Error::NotFitted(message),
        WLRA_ERROR_CANCELLED => Error::Cancelled(message),
        WLRA_ERROR_OUT_OF_MEMORY => Error::OutOfMemory(message),
        WLRA_ERROR_NUMERICAL => Error::Numerical(message),
        WLRA_ERROR_BUSY => Error::Busy(message),
        _ => Error::Internal(message),
    }
}

/// Static, NUL-terminated text for a status code.
pub(crate) fn status_text(status: wlra_status) -> &'static [u8] {
    match status {
        WLRA_OK => b"success\0",
        WLRA_ERROR_NULL_POINTER => b"a required pointer argument was NULL\0",
        WLRA_ERROR_INVALID_ARGUMENT => b"invalid argument\0",
        WLRA_ERROR_NON_FINITE_INPUT => b"NaN or infinity in the input\0",
        WLRA_ERROR_NEGATIVE_WEIGHT => b"negative weight\0",
        WLRA_ERROR_NOT_FITTED => b"the model has not been fitted\0",
        WLRA_ERROR_CANCELLED => b"cancelled by the progress callback\0",
        WLRA_ERROR_OUT_OF_MEMORY => b"out of memory\0",
        WLRA_ERROR_NUMERICAL => b"numerical breakdown\0",
        WLRA_ERROR_INTERNAL => b"internal error (a bug in wlra)\0",
        WLRA_ERROR_BUSY => b"the model is busy: a fit is running on it\0",
        _ => b"unknown status code\0",
    }
}
