//! Held-out validation without copying M: the observed entries (W > 0 for
//! dense input, the pattern for CSR input) fall into `count` folds by a hash
//! of (seed, i, j), the same for every rank, ridge and thread count. A fit
//! with a held-out fold gives that fold's entries weight 0 and afterwards
//! reports their weighted RMSE, sqrt(sum w (m - u_i . v_j)^2 / sum w),
//! evaluated in the fit's units (`crate::scaling`).
//!
//! Memory: dense input with held-out entries is fitted against a copy of W
//! with them zeroed (n m doubles, reserved fallibly); CSR input zeroes them
//! in the library's own copy of the pattern. Neither copies M.

use crate::error::{invalid, Result};
use crate::memory::try_zeros;
use crate::problem::sparse::CsrInput;
use crate::problem::DenseProblem;
use crate::rng::{entry_bits, Purpose};
use crate::scaling::{Multiplier, Scale};
use faer::{Mat, MatRef};

/// Which fold is held out of a fit (WLRA_OPTION_FOLDS, _HELD_OUT_FOLD).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Folds {
    pub count: usize,
    pub held_out: usize,
    pub seed: u64,
}

impl Folds {
    /// The fold of entry (i, j): uniform over 0..count, by multiply-shift
    /// of 64 hash bits (bias below count / 2^64).
    pub fn of(&self, i: usize, j: usize) -> usize {
        let bits = entry_bits(self.seed, Purpose::Folds, i, j);
        ((u128::from(bits) * self.count as u128) >> 64) as usize
    }

    pub fn is_held_out(&self, i: usize, j: usize) -> bool {
        self.of(i, j) == self.held_out
    }
}

/// The held-out entries' error after a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeldOutError {
    /// sqrt(sum w r^2 / sum w) over the held-out entries.
    pub rmse: f64,
    pub entries: usize,
}

/// Running sums of the held-out error.
#[derive(Default)]
struct Sums {
    weighted_squares: f64,
    weights: f64,
    entries: usize,
}

impl Sums {
    /// Entry (i, j) with weight `w` and value `m` in the solvers' units
    /// (`crate::scaling`), the model's value there from the caller's u and
    /// v brought into them by `into` (per factor).
    fn add(
        &mut self,
        (w, m): (f64, f64),
        (u, v): Pair<'_>,
        (i, j): (usize, usize),
        into: Multiplier,
    ) {
        let fitted: f64 = (0..u.ncols())
            .map(|d| into.apply(u[(i, d)]) * into.apply(v[(j, d)]))
            .sum();
        let r = m - fitted;
        self.weighted_squares += w * r * r;
        self.weights += w;
        self.entries += 1;
    }

    /// The error in the caller's units.
    fn error(&self, scale: Scale) -> HeldOutError {
        let rmse = (self.weighted_squares / self.weights).sqrt();
        HeldOutError {
            rmse: scale.values_out().apply(rmse),
            entries: self.entries,
        }
    }
}

/// The fitted factors U and V, in the caller's units.
type Pair<'a> = (MatRef<'a, f64>, MatRef<'a, f64>);

fn no_entry(folds: &Folds) -> crate::Error {
    invalid(format!(
        "fold {} of WLRA_OPTION_FOLDS = {} holds no observed entry: nothing to validate on",
        folds.held_out, folds.count
    ))
}

/// W with the held-out entries zeroed (W = None: ones), or an error when
/// no observed entry is held out.
pub fn masked_dense_weights(problem: &DenseProblem<'_>, folds: &Folds) -> Result<Mat<f64>> {
    let (masked, held_out) = masked_rows(problem, folds, 0)?;
    if held_out == 0 {
        return Err(no_entry(folds));
    }
    Ok(masked)
}

/// W of rows whose first is global row `offset`, with the held-out entries
/// zeroed, and how many it held out (a distributed fit checks the total).
pub(crate) fn masked_rows(
    problem: &DenseProblem<'_>,
    folds: &Folds,
    offset: usize,
) -> Result<(Mat<f64>, usize)> {
    let data = problem.data();
    let (n, m) = (data.nrows(), data.ncols());
    let mut masked = try_zeros(n, m, "W with the held-out entries zeroed")?;
    let mut held_out = 0usize;
    for j in 0..m {
        for i in 0..n {
            // 0 where M is missing (WLRA_OPTION_MISSING_NAN).
            let w = problem.caller_weight(i, j);
            if w > 0.0 && folds.is_held_out(offset + i, j) {
                held_out += 1;
            } else {
                masked[(i, j)] = w;
            }
        }
    }
    Ok((masked, held_out))
}

/// Sums of the held-out error over `entries` (local row, column, m, w) of
/// a block of rows, in the caller's units (a distributed fit reads its
/// values unscaled): weighted squares, weights, entries. Ranks add them,
/// then `error_of_sums`.
#[cfg(feature = "mpi")]
pub(crate) fn block_sums(
    entries: impl Iterator<Item = (usize, usize, f64, f64)>,
    (u, v): Pair<'_>,
) -> [f64; 3] {
    let mut sums = Sums::default();
    for (i, j, m, w) in entries {
        sums.add((w, m), (u, v), (i, j), Multiplier::one());
    }
    [sums.weighted_squares, sums.weights, sums.entries as f64]
}

/// The held-out error from sums added over a distributed fit's ranks.
#[cfg(feature = "mpi")]
pub(crate) fn error_of_sums(sums: [f64; 3]) -> HeldOutError {
    let sums = Sums {
        weighted_squares: sums[0],
        weights: sums[1],
        entries: sums[2] as usize,
    };
    sums.error(Scale::unit())
}

/// The error that no observed entry is held out.
#[cfg(feature = "mpi")]
pub(crate) fn nothing_held_out(folds: &Folds) -> crate::Error {
    no_entry(folds)
}

/// Whether some observed pattern entry is held out.
pub fn csr_holds_out_some(input: &CsrInput<'_>, folds: &Folds) -> Result<()> {
    let mut found = false;
    each_csr_entry(input, |i, j, _, w| {
        found |= w > 0.0 && folds.is_held_out(i, j)
    });
    if found {
        Ok(())
    } else {
        Err(no_entry(folds))
    }
}

/// Visit the pattern's (i, j, m, w); the input is validated already. A
/// NaN m (allowed only with WLRA_OPTION_MISSING_NAN) is a missing entry:
/// visited as m = 0, w = 0.
fn each_csr_entry(input: &CsrInput<'_>, mut visit: impl FnMut(usize, usize, f64, f64)) {
    for i in 0..input.n_rows {
        let (start, end) = (input.row_ptr[i] as usize, input.row_ptr[i + 1] as usize);
        for p in start..end {
            let (m, w) = match input.m_values[p] {
                m if m.is_nan() => (0.0, 0.0),
                m => (m, input.w_values.map_or(1.0, |w| w[p])),
            };
            visit(i, input.col_idx[p] as usize, m, w);
        }
    }
}

/// The held-out error of factors (u, v) on dense input, summed in the
/// units the fit ran in (`crate::scaling`), so that no square or sum
/// overflows or underflows at either end of the double range.
pub fn dense_held_out_error(
    problem: &DenseProblem<'_>,
    folds: &Folds,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
) -> HeldOutError {
    let scaled = problem.normalized();
    let into = scaled.scale().factors_in();
    let mut sums = Sums::default();
    for j in 0..problem.n_cols() {
        for i in 0..problem.n_rows() {
            let w = problem.caller_weight(i, j);
            if w > 0.0 && folds.is_held_out(i, j) {
                let entry = (scaled.weight(i, j), scaled.value(i, j));
                sums.add(entry, (u, v), (i, j), into);
            }
        }
    }
    sums.error(scaled.scale())
}

/// The held-out error of factors (u, v) on CSR input, summed in the units
/// of `scale`, the fit's (`SparseProblem`'s).
pub fn csr_held_out_error(
    input: &CsrInput<'_>,
    folds: &Folds,
    scale: Scale,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
) -> HeldOutError {
    let into = scale.factors_in();
    let mut sums = Sums::default();
    each_csr_entry(input, |i, j, m, w| {
        if w > 0.0 && folds.is_held_out(i, j) {
            let entry = (scale.weights().apply(w), scale.values().apply_saturating(m));
            sums.add(entry, (u, v), (i, j), into);
        }
    });
    sums.error(scale)
}
