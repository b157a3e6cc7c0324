//! The one error type inside the library. Each variant maps to exactly one
//! C status code, in `ffi::status::status_of`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    NullPointer(String),
    InvalidArgument(String),
    NonFiniteInput(String),
    NegativeWeight(String),
    NotFitted(String),
    Cancelled(String),
    OutOfMemory(String),
    Numerical(String),
    Internal(String),
}

impl Error {
    pub fn message(&self) -> &str {
        match self {
            Error::NullPointer(m)
            | Error::InvalidArgument(m)
            | Error::NonFiniteInput(m)
            | Error::NegativeWeight(m)
            | Error::NotFitted(m)
            | Error::Cancelled(m)
            | Error::OutOfMemory(m)
            | Error::Numerical(m)
            | Error::Internal(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for the most common error: a bad argument, with its message.
pub fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}
