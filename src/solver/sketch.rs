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

use super::block_cgls::Preconditioners;
use super::iterative::{
    full_rank, gather_design, iterative_half_step, BlockPreconditioners, PreconditionerRule,
    RowScratch, RowView,
};
use super::sparse::sketch::{sketch_half_step, SketchSettings};
use super::sparse::BaseSystem;
use super::{finite, HalfStep, HalfStepSolver, SolverKind};
use crate::error::Result;
use crate::kernels::fwht::fwht_columns;
use crate::kernels::orthonormal::RFactorWorkspace;
use crate::problem::Problem;
use crate::products::ROW_BLOCK;
use crate::rng::{below, sign, stream, Purpose};
use faer::linalg::matmul::matmul;
use faer::{Accum, Par};
use faer::{Mat, MatRef};

pub struct SketchSolver {
    pub sketch_size_factor: f64,
    pub tolerance: f64,
    pub seed: u64,
    /// Counts half-steps, so each gets fresh sketches.
    half_steps: u64,
    /// Inner iterations of the last half-step, summed over rows.
    pub last_inner_iterations: usize,
    /// Per side (half-steps alternate U, V): the last sketched
    /// preconditioners, kept while they keep the iterations low.
    saved: [Option<Saved>; 2],
    /// Half-steps that re-used saved preconditioners (for tests).
    pub reused_half_steps: usize,
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

impl SketchSolver {
    pub fn new(sketch_size_factor: f64, tolerance: f64, seed: u64) -> Self {
        SketchSolver {
            sketch_size_factor,
            tolerance,
            seed,
            half_steps: 0,
            last_inner_iterations: 0,
            saved: [None, None],
            reused_half_steps: 0,
        }
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

    fn scratch(&self, _m: usize, k: usize) -> RFactorWorkspace {
        RFactorWorkspace::new(k, k)
    }

    fn build(
        &self,
        step: &HalfStep<'_>,
        rows: &[RowView<'_>],
        _row_scratch: &mut RowScratch,
        qr: &mut RFactorWorkspace,
        usable: &mut [bool],
    ) -> Preconditioners {
        let k = step.fixed.ncols();
        let (old, old_usable) = &self.saved[rows[0].index / ROW_BLOCK];
        let Preconditioners::PerRow(old) = old else {
            unreachable!("the sketch rule builds per-row preconditioners")
        };
        let mut product = Mat::<f64>::zeros(k, k);
        let factors = old
            .iter()
            .zip(old_usable)
            .zip(usable.iter_mut())
            .map(|((r, was_usable), u)| {
                *u &= *was_usable;
                if !*u {
                    return Mat::identity(k, k);
                }
                matmul(
                    product.as_mut(),
                    Accum::Replace,
                    r.as_ref(),
                    self.change_of_basis.as_ref(),
                    1.0,
                    Par::Seq,
                );
                upper_factor(qr, product.as_ref()).unwrap_or_else(|| {
                    *u = false;
                    Mat::identity(k, k)
                })
            })
            .collect();
        Preconditioners::PerRow(factors)
    }
}

/// Sketch rows for rank k: ceil(factor k), at least k.
pub fn sketch_rows(factor: f64, k: usize) -> usize {
    ((factor * k as f64).ceil() as usize).max(k)
}

/// S a for an SRHT S with `s` rows: random signs, the Walsh-Hadamard
/// transform of the zero-padded columns, `s` rows sampled uniformly without
/// replacement, scaled by 1/sqrt(s). Returns the s x k sketch (a view into
/// `out`). Requires s <= next_pow2(rows of a).
pub fn srht_sketch<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
    padded: &mut Mat<f64>,
    order: &mut Vec<usize>,
    out: &'w mut Mat<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    let p = rows.next_power_of_two();
    let mut work = padded.as_mut().submatrix_mut(0, 0, p, k);
    work.fill(0.0);
    // Signs drawn in row order, applied column by column: the columns are
    // contiguous, rows are not (measured 1.2-1.6x per row by
    // `cargo bench --bench embeddings`, SRHT-cols).
    let signs: Vec<f64> = (0..rows).map(|_| sign(rng)).collect();
    for d in 0..k {
        let (src, mut dst) = (a.col(d), work.as_mut().col_mut(d));
        for i in 0..rows {
            dst[i] = signs[i] * src[i];
        }
    }
    fwht_columns(work.as_mut());
    // Partial Fisher-Yates: the first s entries of `order` are the sample.
    order.clear();
    order.extend(0..p);
    for r in 0..s {
        let pick = r + below(rng, p - r);
        order.swap(r, pick);
    }
    let scale = 1.0 / (s as f64).sqrt();
    let mut sk = out.as_mut().submatrix_mut(0, 0, s, k);
    for d in 0..k {
        let (src, mut dst) = (work.as_ref().col(d), sk.as_mut().col_mut(d));
        for (r, &from) in order[..s].iter().enumerate() {
            dst[r] = scale * src[from];
        }
    }
    out.as_ref().submatrix(0, 0, s, k)
}

/// R_i from the QR of an SRHT sketch of row i's weighted design.
pub struct SrhtRule {
    pub sketch_rows: usize,
    pub seed: u64,
    pub half_step: u64,
}

pub struct SrhtScratch {
    padded: Mat<f64>,
    order: Vec<usize>,
    sketch: Mat<f64>,
    qr: RFactorWorkspace,
}

impl PreconditionerRule for SrhtRule {
    type Scratch = SrhtScratch;

    fn scratch(&self, m: usize, k: usize) -> SrhtScratch {
        let rows = m + k;
        SrhtScratch {
            padded: Mat::zeros(rows.next_power_of_two(), k),
            order: Vec::with_capacity(rows.next_power_of_two()),
            sketch: Mat::zeros(self.sketch_rows, k),
            qr: RFactorWorkspace::new(self.sketch_rows.max(rows), k),
        }
    }

    fn build(
        &self,
        step: &HalfStep<'_>,
        rows: &[RowView<'_>],
        row_scratch: &mut RowScratch,
        scratch: &mut SrhtScratch,
        usable: &mut [bool],
    ) -> Preconditioners {
        let k = step.fixed.ncols();
        let factors = rows
            .iter()
            .zip(usable.iter_mut())
            .map(|(row, u)| {
                let built = if *u {
                    self.row_factor(step, row, row_scratch, scratch)
                } else {
                    None
                };
                built.unwrap_or_else(|| {
                    *u = false;
                    Mat::identity(k, k)
                })
            })
            .collect();
        Preconditioners::PerRow(factors)
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
        scratch: &mut SrhtScratch,
    ) -> Option<Mat<f64>> {
        let count = gather_design(step, row, rows);
        let a = rows.design.as_ref().subrows(0, count);
        // One stream per (seed, half-step, row): independent of threads.
        let mut rng = stream(
            self.seed,
            Purpose::Sketch,
            self.half_step << 32 ^ row.index as u64,
        );
        let sketch = if count > self.sketch_rows {
            srht_sketch(
                a,
                self.sketch_rows,
                &mut rng,
                &mut scratch.padded,
                &mut scratch.order,
                &mut scratch.sketch,
            )
        } else {
            a // the design is already small: its own R is the ideal preconditioner
        };
        if sketch.nrows() < sketch.ncols() {
            return None;
        }
        upper_factor(&mut scratch.qr, sketch)
    }
}

/// The R of a QR of `a` (k columns) as a clean upper triangle, or None when
/// a pivot is too small for R to serve as a preconditioner.
pub(crate) fn upper_factor(qr: &mut RFactorWorkspace, a: MatRef<'_, f64>) -> Option<Mat<f64>> {
    let r = qr.r_factor(a);
    let k = r.ncols();
    let upper = Mat::from_fn(k, k, |i, j| if i <= j { r[(i, j)] } else { 0.0 });
    full_rank(upper.as_ref()).then_some(upper)
}

impl HalfStepSolver for SketchSolver {
    fn kind(&self) -> SolverKind {
        SolverKind::Sketch
    }

    fn inner_iterations(&self) -> usize {
        self.last_inner_iterations
    }

    fn is_iterative(&self) -> bool {
        true
    }

    fn set_accuracy(&mut self, accuracy: f64) {
        self.tolerance = accuracy;
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        if let Problem::Sparse(view) = &step.problem {
            let settings = SketchSettings {
                sketch_rows: sketch_rows(self.sketch_size_factor, step.fixed.ncols()),
                tolerance: self.tolerance,
                seed: self.seed,
                half_step: self.half_steps,
            };
            self.half_steps += 1;
            let base = BaseSystem::new(view, step);
            let (x, work) = sketch_half_step(view, &base, step.ridge, step.warm_start, &settings);
            self.last_inner_iterations = work;
            return finite(x, "a sketched half-step");
        }
        let side = (self.half_steps % 2) as usize;
        let (n, k) = (step.problem.n_rows(), step.fixed.ncols());
        let reusable = self.saved[side].as_ref().filter(|s| {
            s.basis.shape() == step.fixed.shape() && s.blocks.len() == n.div_ceil(ROW_BLOCK)
        });
        let (outcome, reused) = match reusable {
            Some(saved) => {
                let mut change_of_basis = Mat::<f64>::zeros(k, k);
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
                let tolerance = REUSE_TIGHTENING * self.tolerance;
                (iterative_half_step(step, &rule, tolerance)?, true)
            }
            None => {
                let rule = SrhtRule {
                    sketch_rows: sketch_rows(self.sketch_size_factor, k),
                    seed: self.seed,
                    half_step: self.half_steps,
                };
                (iterative_half_step(step, &rule, self.tolerance)?, false)
            }
        };
        self.half_steps += 1;
        self.last_inner_iterations = outcome.work;
        let per_row = outcome.work as f64 / n.max(1) as f64;
        if reused {
            self.reused_half_steps += 1;
            let saved = self.saved[side].as_mut().expect("reused");
            if per_row > REBUILD_GROWTH * saved.fresh_iterations + REBUILD_SLACK {
                self.saved[side] = None; // next time: a fresh sketch
            }
        } else {
            self.saved[side] = Some(Saved {
                basis: step.fixed.to_owned(),
                blocks: outcome.preconditioners,
                fresh_iterations: per_row,
            });
        }
        Ok(outcome.x)
    }
}
