//! The one error type inside the library. Each variant maps to exactly one
//! C status code, in `vocabulary::status::status_of` (and back, in
//! `error_with_status`).

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
    /// A call on a model while a fit runs on it (from the progress callback
    /// or another thread); the model is left as it was.
    Busy(String),
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
            | Error::Internal(m)
            | Error::Busy(m) => m,
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
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}

/// `x` as C's `%g` prints it: 6 significant digits, trailing zeros dropped,
/// exponent form (`1e+300`, `-1e-300`) below 1e-4 and from 1e6 on. Every
/// message that shows an f64 goes through here, so no value prints as a
/// 300-digit decimal.
pub(crate) fn fmt_g(x: f64) -> String {
    const PRECISION: i32 = 6;
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The decimal exponent after rounding to PRECISION digits (999999.5
    // rounds to 1e+06), as %g decides between its two forms.
    let exp_form = format!("{:.*e}", (PRECISION - 1) as usize, x);
    let (mantissa, exponent) = exp_form.split_once('e').expect("LowerExp writes an e");
    let exponent: i32 = exponent
        .parse()
        .expect("LowerExp writes an integer exponent");
    if (-4..PRECISION).contains(&exponent) {
        let decimals = (PRECISION - 1 - exponent) as usize;
        trim_zeros(&format!("{x:.decimals$}")).into()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_zeros(mantissa), exponent.abs())
    }
}

/// "1.500" -> "1.5", "2.000" -> "2"; integers without a point stay.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_g;

    #[test]
    fn fmt_g_matches_c_percent_g() {
        let cases = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-0.25, "-0.25"),
            (4096.0, "4096"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (999999.7, "1e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e300, "1e+300"),
            (-1e-300, "-1e-300"),
            (f64::MAX, "1.79769e+308"),
            (f64::MIN_POSITIVE / 4.0, "5.56268e-309"),
            (4.9e-324, "4.94066e-324"),
            (1.0 / 3.0, "0.333333"),
            (2.5e-3, "0.0025"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (x, want) in cases {
            assert_eq!(fmt_g(x), want, "fmt_g({x:e})");
        }
    }
}
