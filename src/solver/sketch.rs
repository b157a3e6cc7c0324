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
    full_rank, gather_design, iterative_half_step, PreconditionerRule, RowScratch, RowView,
};
use super::{HalfStep, HalfStepSolver, SolverKind};
use crate::error::Result;
use crate::kernels::fwht::fwht_columns;
use crate::kernels::orthonormal::RFactorWorkspace;
use crate::rng::{below, sign, stream, Purpose};
use faer::{Mat, MatRef};

pub struct SketchSolver {
    pub sketch_size_factor: f64,
    pub tolerance: f64,
    pub seed: u64,
    /// Counts half-steps, so each gets fresh sketches.
    half_steps: u64,
    /// Inner iterations of the last half-step, summed over rows.
    pub last_inner_iterations: usize,
}

impl SketchSolver {
    pub fn new(sketch_size_factor: f64, tolerance: f64, seed: u64) -> Self {
        SketchSolver {
            sketch_size_factor,
            tolerance,
            seed,
            half_steps: 0,
            last_inner_iterations: 0,
        }
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
    for i in 0..rows {
        let sg = sign(rng);
        for d in 0..k {
            work[(i, d)] = sg * a[(i, d)];
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
    for (r, &src) in order[..s].iter().enumerate() {
        for d in 0..k {
            sk[(r, d)] = scale * work[(src, d)];
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
        let r = scratch.qr.r_factor(sketch);
        let k = r.ncols();
        let upper = Mat::from_fn(k, k, |i, j| if i <= j { r[(i, j)] } else { 0.0 });
        full_rank(upper.as_ref()).then_some(upper)
    }
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
        let rule = SrhtRule {
            sketch_rows: sketch_rows(self.sketch_size_factor, step.fixed.ncols()),
            seed: self.seed,
            half_step: self.half_steps,
        };
        self.half_steps += 1;
        let (x, work) = iterative_half_step(step, &rule, self.tolerance)?;
        self.last_inner_iterations = work;
        Ok(x)
    }
}
