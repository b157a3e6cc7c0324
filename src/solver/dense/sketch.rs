//! The paper's half-step (Song, Ye, Yin, Zhang 2023, arXiv 2306.04169).
//!
//! For each row i: A = D_sqrt(w_i) Y over the row's non-zero weights (with
//! sqrt(ridge) I appended when ridge > 0). An SRHT sketch S A
//! (s = ceil(factor k) rows) gives R from a QR; A R^-1 is then well
//! conditioned with high probability whatever cond(A) is, and CGLS on it
//! converges in a few iterations, warm-started from the previous solution.
//! Rows are iterated in blocks (`block_cgls`) so products with Y are GEMMs.
//!
//! Cost per row, n_i non-zero weights, p = next_pow2(n_i): k p log2(p)
//! additions (transform), 2 s k^2 (QR of the sketch), then per iteration
//! 4 m k flops at GEMM speed; against m k(k+1) for the exact Gram.

use super::iterative::{
    gather_design, iterative_half_step, BlockPreconditioners, PreconditionerRule, RowScratch,
    RowView,
};
use crate::error::Result;
use crate::kernels::blocking::ROW_BLOCK;
use crate::kernels::orthonormal::RFactorWorkspace;
use crate::kernels::srht::{sketch_rows, sketched_r_factor, SrhtScratch};
use crate::memory::{try_copy, try_identity, try_zeros};
use crate::rng::sketch_stream;
use crate::solver::block_cgls::Preconditioners;
use crate::solver::half_step::{
    HalfStep, InnerAccuracy, InnerMethod, Iterative, Solved, SolverKind, StreamPosition,
};
use faer::linalg::matmul::matmul;
use faer::Mat;
use faer::{Accum, Par};

/// SKETCH on dense input (`solver::Iterative` adds the accuracy).
pub struct SrhtCgls {
    pub sketch_size_factor: f64,
    pub seed: u64,
    /// Counts half-steps, so each gets fresh sketches.
    half_steps: u64,
    /// Per side (half-steps alternate U, V): the last sketched
    /// preconditioners, kept while they keep the iterations low.
    saved: [Option<Saved>; 2],
    /// Half-steps that re-used saved preconditioners (for tests).
    pub reused_half_steps: usize,
    /// A distributed fit's position of the next half-step, used once.
    position: Option<StreamPosition>,
    /// A distributed half-step's keep-or-rebuild decision, waiting for the
    /// whole side's inner iterations: (side, re-used, whole side's rows).
    unsettled: Option<(usize, bool, usize)>,
}

/// Preconditioners built for the fixed basis `basis`, and the inner
/// iterations per row they gave when fresh.
struct Saved {
    basis: Mat<f64>,
    blocks: Vec<BlockPreconditioners>,
    fresh_iterations: f64,
}

/// Re-sketch when the iterations grow past this multiple of the fresh
/// ones (plus a small allowance for noise).
const REBUILD_GROWTH: f64 = 1.5;
const REBUILD_SLACK: f64 = 2.0;
/// Inner tolerance factor under re-used preconditioners.
const REUSE_TIGHTENING: f64 = 0.1;

/// SKETCH on dense input as a half-step solver.
pub type SketchSolver = Iterative<SrhtCgls>;

impl SketchSolver {
    pub fn new(sketch_size_factor: f64, tolerance: f64, seed: u64) -> Self {
        let method = SrhtCgls {
            sketch_size_factor,
            seed,
            half_steps: 0,
            saved: [None, None],
            reused_half_steps: 0,
            position: None,
            unsettled: None,
        };
        Iterative::with_method(method, tolerance)
    }
}

/// Re-use: R_i was built for A_old = D Y_old. With Y_new = Y_old T + (a part
/// outside the old span, small near convergence), A_new ~ A_old T, so
/// R_i T, made triangular again by a k x k QR, preconditions A_new as well
/// as R_i did A_old. Cost per row: 2 k^3 + 4/3 k^3, against the sketch's
/// k p log p + 2 s k^2.
struct ReuseRule<'a> {
    saved: &'a [BlockPreconditioners],
    change_of_basis: Mat<f64>,
}

impl PreconditionerRule for ReuseRule<'_> {
    type Scratch = RFactorWorkspace;

    fn scratch(&self, _m: usize, k: usize) -> Result<RFactorWorkspace> {
        RFactorWorkspace::new(k, k)
    }

    fn build(
        &self,
        step: &HalfStep<'_>,
        rows: &[RowView<'_>],
        _row_scratch: &mut RowScratch,
        qr: &mut RFactorWorkspace,
        usable: &mut [bool],
    ) -> Result<Preconditioners> {
        let k = step.fixed.ncols();
        let (old, old_usable) = &self.saved[rows[0].index / ROW_BLOCK];
        let Preconditioners::PerRow(old) = old else {
            unreachable!("the sketch rule builds per-row preconditioners")
        };
        let mut product = try_zeros(k, k, "a re-used preconditioner")?;
        let what = "a row's preconditioner";
        let factors = old
            .iter()
            .zip(old_usable)
            .zip(usable.iter_mut())
            .map(|((r, was_usable), u)| {
                *u &= *was_usable;
                if !*u {
                    return try_identity(k, k, what);
                }
                matmul(
                    product.as_mut(),
                    Accum::Replace,
                    r.as_ref(),
                    self.change_of_basis.as_ref(),
                    1.0,
                    Par::Seq,
                );
                match qr.full_rank_r_factor(product.as_ref())? {
                    Some(r) => Ok(r),
                    None => {
                        *u = false;
                        try_identity(k, k, what)
                    }
                }
            })
            .collect::<Result<_>>()?;
        Ok(Preconditioners::PerRow(factors))
    }
}

/// R_i from the QR of an SRHT sketch of row i's weighted design.
pub struct SrhtRule {
    pub sketch_rows: usize,
    pub seed: u64,
    pub half_step: u64,
    /// The whole side's row of this problem's row 0 (distributed fits).
    pub first_row: usize,
}

/// A thread's buffers for the rule: the SRHT's and the sketch's QR.
pub struct SrhtRuleScratch {
    srht: SrhtScratch,
    qr: RFactorWorkspace,
}

impl PreconditionerRule for SrhtRule {
    type Scratch = SrhtRuleScratch;

    fn scratch(&self, m: usize, k: usize) -> Result<SrhtRuleScratch> {
        let rows = m + k;
        Ok(SrhtRuleScratch {
            srht: SrhtScratch::new(rows, k, self.sketch_rows)?,
            qr: RFactorWorkspace::new(self.sketch_rows.max(rows), k)?,
        })
    }

    fn build(
        &self,
        step: &HalfStep<'_>,
        rows: &[RowView<'_>],
        row_scratch: &mut RowScratch,
        scratch: &mut SrhtRuleScratch,
        usable: &mut [bool],
    ) -> Result<Preconditioners> {
        let k = step.fixed.ncols();
        let factors = rows
            .iter()
            .zip(usable.iter_mut())
            .map(|(row, u)| {
                let built = if *u {
                    self.row_factor(step, row, row_scratch, scratch)?
                } else {
                    None
                };
                match built {
                    Some(r) => Ok(r),
                    None => {
                        *u = false;
                        try_identity(k, k, "a row's preconditioner")
                    }
                }
            })
            .collect::<Result<_>>()?;
        Ok(Preconditioners::PerRow(factors))
    }
}

impl SrhtRule {
    /// R of the QR of an SRHT sketch of the row's weighted design, or None
    /// when it comes out rank deficient.
    fn row_factor(
        &self,
        step: &HalfStep<'_>,
        row: &RowView<'_>,
        rows: &mut RowScratch,
        scratch: &mut SrhtRuleScratch,
    ) -> Result<Option<Mat<f64>>> {
        let count = gather_design(step, row, rows);
        let a = rows.design.a(count);
        let mut rng = sketch_stream(self.seed, self.half_step, self.first_row + row.index);
        sketched_r_factor(
            a,
            self.sketch_rows,
            &mut rng,
            &mut scratch.srht,
            &mut scratch.qr,
        )
    }
}

impl InnerMethod for SrhtCgls {
    const KIND: SolverKind = SolverKind::Sketch;

    fn set_stream_position(&mut self, position: StreamPosition) {
        self.position = Some(position);
    }

    fn set_whole_inner_iterations(&mut self, total: f64) {
        if let Some((side, reused, rows)) = self.unsettled.take() {
            self.settle(side, reused, total / rows.max(1) as f64);
        }
    }

    fn solve_at(&mut self, step: &HalfStep<'_>, accuracy: InnerAccuracy) -> Solved {
        let position = self.position.take();
        let half_step = position.map_or(self.half_steps, |p| p.half_step);
        let side = (half_step % 2) as usize;
        let (n, k) = (step.problem.n_rows(), step.fixed.ncols());
        let reusable = self.saved[side].as_ref().filter(|s| {
            s.basis.shape() == step.fixed.shape() && s.blocks.len() == n.div_ceil(ROW_BLOCK)
        });
        let (outcome, reused) = match reusable {
            Some(saved) => {
                let mut change_of_basis = try_zeros(k, k, "a change of basis")?;
                matmul(
                    change_of_basis.as_mut(),
                    Accum::Replace,
                    saved.basis.transpose(),
                    step.fixed,
                    1.0,
                    Par::Seq,
                );
                let rule = ReuseRule {
                    saved: &saved.blocks,
                    change_of_basis,
                };
                // A re-used R conditions A_new less well than a fresh one: ask
                // for a decade more, so a solve is as accurate in x.
                let tolerance = REUSE_TIGHTENING * accuracy.tolerance;
                (iterative_half_step(step, &rule, tolerance)?, true)
            }
            None => {
                let rule = SrhtRule {
                    sketch_rows: sketch_rows(self.sketch_size_factor, k),
                    seed: self.seed,
                    half_step,
                    first_row: position.map_or(0, |p| p.first_row),
                };
                (iterative_half_step(step, &rule, accuracy.tolerance)?, false)
            }
        };
        self.half_steps += 1;
        if reused {
            self.reused_half_steps += 1;
        } else {
            self.saved[side] = Some(Saved {
                basis: try_copy(step.fixed, "the sketch's saved basis")?,
                blocks: outcome.preconditioners,
                fresh_iterations: f64::NAN, // set by `settle`
            });
        }
        match position {
            // Decided once the whole side's iterations are known.
            Some(p) => self.unsettled = Some((side, reused, p.whole_rows)),
            None => self.settle(side, reused, outcome.work as f64 / n.max(1) as f64),
        }
        Ok((outcome.x, outcome.work))
    }
}

impl SrhtCgls {
    /// After a half-step with `per_row` inner iterations per row of the
    /// side: fresh preconditioners record it; re-used ones are dropped (the
    /// next half-step sketches afresh) once it grew past REBUILD_GROWTH
    /// times their fresh count.
    fn settle(&mut self, side: usize, reused: bool, per_row: f64) {
        let Some(saved) = self.saved[side].as_mut() else {
            return;
        };
        if !reused {
            saved.fresh_iterations = per_row;
        } else if per_row > REBUILD_GROWTH * saved.fresh_iterations + REBUILD_SLACK {
            self.saved[side] = None;
        }
    }
}
