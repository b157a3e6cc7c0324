//! The half-step of factors augmented with offsets (`crate::offsets`), in
//! the pieces one process and a distributed fit share: the moving factor's
//! columns but the pinned one are solved against the fixed factor's
//! matching columns, with the pinned pair's product (the other side's
//! offsets) subtracted from M; the fixed factor is not rotated. A
//! distributed fit solves its local rows of the same step and gathers them.

use super::sides::relax;
use crate::error::Result;
use crate::memory::{try_collect, try_from_fn, try_zeros};
use crate::offsets::Offsets;
use crate::problem::Problem;
use crate::scaling::Pins;
use faer::Mat;

const WHAT: &str = "the half-step with offsets";

/// One half-step's inputs, whole, built the same way on every rank.
pub(crate) struct OffsetsStep {
    /// The moving factor's columns that are solved for.
    free: Vec<usize>,
    /// The moving factor's pinned column (the other side's offsets' ones).
    pinned: Option<usize>,
    pin: f64,
    /// The fixed factor's free columns: the half-step's design.
    pub design: Mat<f64>,
    /// The moving factor's free columns: the warm start.
    pub warm: Mat<f64>,
    /// The pinned pair's product, the other side's offsets in M's units
    /// (empty without a pinned column).
    shift: Vec<f64>,
    /// The side's own offset's column in the design, which the ridge leaves.
    pub unpenalized: Option<usize>,
}

impl OffsetsStep {
    /// The U half-step's (`rows`) or the V half-step's inputs for rank-k
    /// factors augmented with `offsets`.
    pub(crate) fn new(
        (offsets, k, pins): (Offsets, usize, Pins),
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
    ) -> Result<OffsetsStep> {
        let (pinned, pin) = (offsets.pinned(k, rows), offsets.pin(pins, rows));
        let free: Vec<usize> = (0..moving.ncols()).filter(|&c| Some(c) != pinned).collect();
        let select =
            |x: &Mat<f64>| try_from_fn(x.nrows(), free.len(), |i, c| x[(i, free[c])], WHAT);
        let (design, warm) = (select(fixed)?, select(moving)?);
        let shift = match pinned {
            Some(c) => try_collect(fixed.col(c).iter().map(|x| pin * x), WHAT)?,
            None => Vec::new(),
        };
        // The side's own offset (a with the U half-step, b with the V one)
        // comes after the rank's columns.
        let own = if rows { offsets.rows } else { offsets.cols };
        Ok(OffsetsStep {
            free,
            pinned,
            pin,
            design,
            warm,
            shift,
            unpenalized: own.then_some(k),
        })
    }

    /// The pattern values of a sparse `side` minus the shift, for
    /// `problem` (empty where nothing is shifted or the input is dense).
    pub(crate) fn shifted_values(&self, side: &Problem<'_>) -> Result<Vec<f64>> {
        match (side, self.pinned) {
            (Problem::Sparse(s), Some(_)) => s.shifted_values(&self.shift),
            _ => Ok(Vec::new()),
        }
    }

    /// `side` with the other side's offsets subtracted from M; `shifted`
    /// from `shifted_values` of the same side.
    pub(crate) fn problem<'s>(&'s self, side: Problem<'s>, shifted: &'s [f64]) -> Problem<'s> {
        match self.pinned {
            Some(_) => side.with_column_shift(&self.shift, shifted),
            None => side,
        }
    }

    /// The next moving factor from the solved free columns (whole),
    /// relaxed by `omega`, with the pinned column put back.
    pub(crate) fn assemble(&self, solved: Mat<f64>, omega: f64) -> Result<Mat<f64>> {
        let solved = relax(&self.warm, solved, omega);
        let width = self.free.len() + usize::from(self.pinned.is_some());
        let mut next = try_zeros(solved.nrows(), width, WHAT)?;
        for (c, &col) in self.free.iter().enumerate() {
            next.col_mut(col).copy_from(solved.col(c));
        }
        if let Some(c) = self.pinned {
            next.col_mut(c).iter_mut().for_each(|x| *x = self.pin);
        }
        Ok(next)
    }
}
