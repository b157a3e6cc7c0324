//! What differs between alternation in one process and across many
//! (`crate::distributed`): how a half-step of either side is solved, how the
//! objective is summed, and how the progress callback's answer is reached.
//! The loop that drives them, its verdicts and its stopping rule are written
//! once, in `alternating::alternate`.

use crate::error::{Error, Result};
use crate::init::Factors;
use crate::memory::try_zeros;
use crate::solver::SolverKind;
use faer::Mat;

/// One half-step's settings, the same on every process.
#[derive(Clone, Copy)]
pub struct StepSettings {
    /// Over-relaxation of the solved factor (1: none).
    pub omega: f64,
    /// Whether LLR16's clipping of the fixed factor applies this time.
    pub clip: bool,
    /// The inner solves' relative accuracy (iterative solvers).
    pub accuracy: f64,
}

/// The two sides of an alternation and what its loop asks of them.
pub trait Sides {
    /// The U half-step (`rows`) or the V one: `moving` the factor solved
    /// for, `fixed` the other, both whole. Returns the fixed factor as the
    /// step saw it (orthonormalized when ridge = 0 without offsets) and the
    /// solved factor, relaxed, both whole.
    fn half_step(
        &mut self,
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
        settings: StepSettings,
    ) -> Result<(Mat<f64>, Mat<f64>)>;

    /// f at `factors`, the same bits on every process.
    fn objective(&mut self, factors: &Factors) -> Result<f64>;

    /// Whether the fit goes on after `iterations` completed iterations at
    /// objective `value`: the progress callback's answer, agreed by every
    /// process (one that says stop stops all).
    fn proceed(&mut self, iterations: usize, value: f64) -> bool;

    /// An error `proceed` met and could not return (a failed agreement);
    /// the loop reports it when it ends.
    fn take_failure(&mut self) -> Option<Error> {
        None
    }

    /// The pool the heavy work on whole factors runs on.
    fn pool(&self) -> &rayon::ThreadPool;

    /// Whether a half-step orthonormalizes its fixed factor (ridge = 0,
    /// no offsets: `Context::orthonormalizes`).
    fn orthonormalizes(&self) -> bool;

    /// Whether the inner solves are iterative (their accuracy adapts).
    fn iterative(&self) -> bool;

    fn solver_kind(&self) -> SolverKind;

    /// Inner iterations per row and half-step, averaged over the fit.
    fn mean_inner_iterations(&self) -> f64;

    /// Half-steps of the fit that read float32 rows (`NarrowRows`).
    fn narrow_half_steps(&self) -> usize;

    /// A factor-sized matrix the loop is done with, for later half-steps
    /// to reuse (`Spares`); the default drops it.
    fn keep_spare(&mut self, _matrix: Mat<f64>) {}

    /// A rows x cols matrix of stale entries for the loop to overwrite: a
    /// kept one (`Spares`), or by default a new one.
    fn take_spare(&mut self, rows: usize, cols: usize) -> Result<Mat<f64>> {
        try_zeros(rows, cols, "a factor-sized matrix")
    }
}

/// Spares kept at most: the matrices one alternating iteration lets go of
/// (its fixed factors, the first solved factor, the last factors) and the
/// scratch of its QRs and warm starts (8), and what an accelerated one
/// adds (the extrapolated point, its warm start, the history's
/// coordinates).
const MAX_SPARES: usize = 16;

/// Factor-sized matrices the loops are done with, kept for the next
/// half-steps: after the first iteration a fit allocates no factor
/// matrix (issue 29). Their entries are stale: whoever takes one
/// overwrites all of it.
#[derive(Default)]
pub struct Spares {
    kept: Vec<Mat<f64>>,
}

impl Spares {
    /// A rows x cols matrix of stale entries: a kept one of that shape,
    /// else a new one (reserved fallibly).
    pub fn take(&mut self, rows: usize, cols: usize) -> Result<Mat<f64>> {
        let found = self.kept.iter().rposition(|m| m.shape() == (rows, cols));
        match found {
            Some(i) => Ok(self.kept.swap_remove(i)),
            None => try_zeros(rows, cols, "a factor-sized matrix"),
        }
    }

    pub fn keep(&mut self, matrix: Mat<f64>) {
        if self.kept.len() < MAX_SPARES {
            self.kept.push(matrix);
        }
    }
}

/// old + omega (solved - old): over-relaxation of a half-step. Row i's
/// objective is a convex quadratic with its minimum at the solved row, so
/// any omega in (0, 2) still lowers it. Flops: 3 rows k.
pub(crate) fn relax(old: &Mat<f64>, solved: Mat<f64>, omega: f64) -> Mat<f64> {
    if omega == 1.0 {
        return solved;
    }
    let mut relaxed = solved;
    for j in 0..relaxed.ncols() {
        let pairs = relaxed.col_mut(j).iter_mut().zip(old.col(j).iter());
        pairs.for_each(|(x, o)| *x = o + omega * (*x - o));
    }
    relaxed
}
