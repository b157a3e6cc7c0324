//! What each option accepts: one row per WLRA_OPTION_* id with its C name,
//! kind, bounds and default. `Options::set` checks values against it and
//! takes its messages' names from it, and `wlra_option_info` hands it to C
//! (as zstd's ZSTD_cParam_getBounds does), so that bindings and the fuzzer
//! read the bounds instead of typing them again.

use super::choices::{
    WLRA_INIT_SVD, WLRA_INIT_WARM, WLRA_METHOD_ACCELERATED, WLRA_METHOD_AUTO, WLRA_OFFSETS_BOTH,
    WLRA_OFFSETS_NONE, WLRA_RIDGE_UNIFORM, WLRA_RIDGE_WEIGHT_SUMS, WLRA_SOLVER_AUTO,
    WLRA_SOLVER_SHARED_PCG,
};
use super::options::*;
use crate::error::{fmt_g, invalid, Result};
use std::ffi::CStr;
use Bound::{Exclusive, Inclusive};

/// What values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// A whole number: a count, a seed, a flag.
    Integer,
    /// One of a few WLRA_* values, from `lower` to `upper`.
    Choice,
    /// Any finite double within the bounds.
    Real,
}

/// One end of an option's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Inclusive(f64),
    Exclusive(f64),
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    pub id: i32,
    /// The C name, NUL-terminated: wlra_option_info hands it out as is.
    pub c_name: &'static CStr,
    pub kind: OptionKind,
    pub lower: Bound,
    pub upper: Bound,
    pub default: f64,
}

/// Largest integer a double holds exactly; integer options stop there.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;
/// A thread count beyond this is a typo, not a machine.
const MAX_THREADS: f64 = 4096.0;
/// More folds than this leaves nothing to hold out.
const MAX_FOLDS: f64 = 1_000_000.0;
/// More restarts than this is a budget nobody waits for.
const MAX_RESTARTS: f64 = 1_000_000.0;
/// The upper end of a real option with none: any finite value.
const UNBOUNDED: Bound = Bound::Inclusive(f64::MAX);

/// An option id with its C name, spelled once: `named!(WLRA_OPTION_SEED)`.
macro_rules! named {
    ($id:ident) => {
        (
            $id,
            match CStr::from_bytes_with_nul(concat!(stringify!($id), "\0").as_bytes()) {
                Ok(name) => name,
                Err(_) => panic!("an identifier holds no NUL"),
            },
        )
    };
}

type Named = (i32, &'static CStr);

const fn integer((id, c_name): Named, min: f64, max: f64, default: f64) -> OptionSpec {
    let (lower, upper) = (Inclusive(min), Inclusive(max));
    spec(id, c_name, OptionKind::Integer, lower, upper, default)
}

const fn choice((id, c_name): Named, first: i32, last: i32, default: i32) -> OptionSpec {
    let (lower, upper) = (Inclusive(first as f64), Inclusive(last as f64));
    spec(id, c_name, OptionKind::Choice, lower, upper, default as f64)
}

const fn real((id, c_name): Named, lower: Bound, upper: Bound, default: f64) -> OptionSpec {
    spec(id, c_name, OptionKind::Real, lower, upper, default)
}

const fn spec(
    id: i32,
    c_name: &'static CStr,
    kind: OptionKind,
    lower: Bound,
    upper: Bound,
    default: f64,
) -> OptionSpec {
    OptionSpec {
        id,
        c_name,
        kind,
        lower,
        upper,
        default,
    }
}

/// Every option, in id order: `OPTIONS[id - 1]` is option `id`.
#[rustfmt::skip]
pub static OPTIONS: [OptionSpec; 20] = [
    integer(named!(WLRA_OPTION_MAX_ITERATIONS), 0.0, MAX_EXACT_INTEGER, 100.0),
    real(named!(WLRA_OPTION_TOLERANCE), Inclusive(0.0), UNBOUNDED, 1e-8),
    integer(named!(WLRA_OPTION_SEED), 0.0, MAX_EXACT_INTEGER, 0.0),
    choice(named!(WLRA_OPTION_SOLVER), WLRA_SOLVER_AUTO, WLRA_SOLVER_SHARED_PCG, WLRA_SOLVER_AUTO),
    choice(named!(WLRA_OPTION_INIT), WLRA_INIT_SVD, WLRA_INIT_WARM, WLRA_INIT_SVD),
    real(named!(WLRA_OPTION_RIDGE), Inclusive(0.0), UNBOUNDED, 0.0),
    integer(named!(WLRA_OPTION_THREADS), 0.0, MAX_THREADS, 0.0),
    real(named!(WLRA_OPTION_SKETCH_SIZE_FACTOR), Inclusive(1.0), UNBOUNDED, 4.0),
    real(named!(WLRA_OPTION_REGRESSION_TOLERANCE), Exclusive(0.0), Exclusive(1.0), 1e-10),
    real(named!(WLRA_OPTION_CLIP), Inclusive(0.0), UNBOUNDED, 0.0),
    integer(named!(WLRA_OPTION_ADAPTIVE_ACCURACY), 0.0, 1.0, 1.0),
    real(named!(WLRA_OPTION_OVERRELAXATION), Exclusive(0.0), Exclusive(2.0), 1.0),
    choice(named!(WLRA_OPTION_METHOD), WLRA_METHOD_AUTO, WLRA_METHOD_ACCELERATED, WLRA_METHOD_AUTO),
    // -1 is AUTO (see WLRA_OPTION_RESTARTS).
    integer(named!(WLRA_OPTION_RESTARTS), -1.0, MAX_RESTARTS, -1.0),
    choice(named!(WLRA_OPTION_RIDGE_SCALING), WLRA_RIDGE_UNIFORM, WLRA_RIDGE_WEIGHT_SUMS, WLRA_RIDGE_UNIFORM),
    // 1 is refused too (`Options::set`): a single fold holds out everything.
    integer(named!(WLRA_OPTION_FOLDS), 0.0, MAX_FOLDS, 0.0),
    integer(named!(WLRA_OPTION_HELD_OUT_FOLD), 0.0, MAX_FOLDS - 1.0, 0.0),
    choice(named!(WLRA_OPTION_OFFSETS), WLRA_OFFSETS_NONE, WLRA_OFFSETS_BOTH, WLRA_OFFSETS_NONE),
    integer(named!(WLRA_OPTION_MISSING_NAN), 0.0, 1.0, 0.0),
    integer(named!(WLRA_OPTION_MIXED_PRECISION), 0.0, 1.0, 1.0),
];

/// The row of option `option`, or the error every option call gives for an
/// unknown id.
pub fn spec_of(option: i32) -> Result<&'static OptionSpec> {
    usize::try_from(option)
        .ok()
        .and_then(|id| id.checked_sub(1))
        .and_then(|index| OPTIONS.get(index))
        .ok_or_else(|| invalid(format!("option = {option} is not a WLRA_OPTION_* value")))
}

impl OptionSpec {
    /// The C name, for messages.
    pub fn name(&self) -> &'static str {
        // The names are ASCII literals.
        self.c_name.to_str().unwrap_or("WLRA_OPTION_?")
    }

    /// The smallest value accepted.
    pub fn min(&self) -> f64 {
        match self.lower {
            Inclusive(x) => x,
            Exclusive(x) => x.next_up(),
        }
    }

    /// The largest value accepted.
    pub fn max(&self) -> f64 {
        match self.upper {
            Inclusive(x) => x,
            Exclusive(x) => x.next_down(),
        }
    }

    /// Whether `value` is in range (a whole number for integer kinds).
    pub fn accepts(&self, value: f64) -> bool {
        let whole = self.kind == OptionKind::Real || value.fract() == 0.0;
        value.is_finite() && whole && value >= self.min() && value <= self.max()
    }

    /// `value` when the option accepts it, else an error naming the option,
    /// the value and the range.
    pub fn check(&self, value: f64) -> Result<f64> {
        if self.accepts(value) {
            return Ok(value);
        }
        let (name, value) = (self.name(), fmt_g(value));
        Err(invalid(match (self.kind, self.lower, self.upper) {
            // The bounds are integers (up to 2^53): exact, not %g.
            (OptionKind::Integer | OptionKind::Choice, ..) => format!(
                "{name} = {value} must be an integer in [{}, {}]",
                self.min() as i64,
                self.max() as i64
            ),
            (OptionKind::Real, Inclusive(min), UNBOUNDED) => {
                format!("{name} = {value} must be finite and >= {}", fmt_g(min))
            }
            (OptionKind::Real, Exclusive(min), UNBOUNDED) => {
                format!("{name} = {value} must be finite and > {}", fmt_g(min))
            }
            (OptionKind::Real, lower, upper) => {
                let (open, min) = match lower {
                    Inclusive(x) => ('[', x),
                    Exclusive(x) => ('(', x),
                };
                let (close, max) = match upper {
                    Inclusive(x) => (']', x),
                    Exclusive(x) => (')', x),
                };
                format!(
                    "{name} = {value} must be in {open}{}, {}{close}",
                    fmt_g(min),
                    fmt_g(max)
                )
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_in_id_order_and_accept_their_defaults() {
        for (index, spec) in OPTIONS.iter().enumerate() {
            assert_eq!(spec.id as usize, index + 1, "{}", spec.name());
            assert!(spec.min() <= spec.max(), "{}", spec.name());
            assert!(spec.accepts(spec.default), "{}", spec.name());
        }
    }

    #[test]
    fn unknown_ids_are_refused() {
        for id in [0, -1, OPTIONS.len() as i32 + 1, i32::MIN, i32::MAX] {
            assert!(spec_of(id).is_err(), "{id}");
        }
    }
}
