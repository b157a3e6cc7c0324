//! The frame shared by the iterative half-steps: per row block, the weights
//! with rows contiguous, one right preconditioner per row (built by the
//! caller's rule), a warm start, then batched preconditioned CG (`block_cgls`). Rows whose design
//! is rank deficient (fewer than k non-zero weights and no ridge, or a
//! preconditioner that comes out singular) take the exact minimum-norm
//! solve instead, so they never produce NaN.

use crate::error::Result;
use crate::kernels::spd_solve::SpdSolver;
use crate::kernels::transpose::copy_to_rows;
use crate::problem::blocks;
use crate::products::{stack_rows, ROW_BLOCK};
use crate::solver::block_cgls::{solve_block, BlockData, CglsWorkspace, Preconditioners};
use crate::solver::{finite, HalfStep};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, Par};
use rayon::prelude::*;

/// CG stops here even if the tolerance is not met: with cond(A R^-1)
/// below 10, 1e-14 takes about 60 iterations.
pub(crate) const MAX_INNER_ITERATIONS: usize = 300;

/// One row as a preconditioner rule sees it.
pub struct RowView<'a> {
    pub index: usize,
    /// The row's weights, length m.
    pub weights: &'a [f64],
    /// Number of non-zero weights.
    pub nonzeros: usize,
}

/// Per-task scratch for gathering one row's weighted design.
pub struct RowScratch {
    pub design: Mat<f64>,
    pub rhs: Vec<f64>,
    pub spd: SpdSolver,
    /// (column, sqrt weight) of the row's non-zero weights.
    kept: Vec<(usize, f64)>,
}

/// A rule that builds a row block's preconditioners, and says which rows
/// must take the exact path instead (sets `usable[i] = false`).
pub trait PreconditionerRule: Sync {
    /// Scratch each task owns for building preconditioners.
    type Scratch;
    fn scratch(&self, m: usize, k: usize) -> Self::Scratch;
    fn build(
        &self,
        step: &HalfStep<'_>,
        rows: &[RowView<'_>],
        row_scratch: &mut RowScratch,
        scratch: &mut Self::Scratch,
        usable: &mut [bool],
    ) -> Preconditioners;
}

/// Gather the row's weighted design A = [D_sqrt(w) Y over non-zero
/// weights; sqrt(ridge) I] and b into `scratch`; returns A's row count.
/// Memory traffic: one pass over the row and over Y.
pub fn gather_design(step: &HalfStep<'_>, row: &RowView<'_>, scratch: &mut RowScratch) -> usize {
    let y = step.fixed;
    let (m, k) = y.shape();
    let data = step
        .problem
        .dense()
        .data_block(row.index..row.index + 1, 0..m);
    scratch.kept.clear();
    scratch.kept.extend(
        row.weights
            .iter()
            .enumerate()
            .filter(|(_, w)| **w != 0.0)
            .map(|(j, w)| (j, w.sqrt())),
    );
    let count = scratch.kept.len();
    for d in 0..k {
        let column = y.col(d);
        let mut dst = scratch.design.as_mut().col_mut(d);
        for (c, &(j, sw)) in scratch.kept.iter().enumerate() {
            dst[c] = sw * column[j];
        }
    }
    for (c, &(j, sw)) in scratch.kept.iter().enumerate() {
        scratch.rhs[c] = sw * data[(0, j)];
    }
    let mut count = count;
    if step.ridge > 0.0 {
        let sr = step.ridge.sqrt();
        for i in 0..k {
            for d in 0..k {
                scratch.design[(count + i, d)] = if i == d { sr } else { 0.0 };
            }
            scratch.rhs[count + i] = 0.0;
        }
        count += k;
    }
    count
}

/// The exact minimum-norm solution of the gathered design (rows of A).
fn solve_row_exactly(scratch: &mut RowScratch, count: usize, mut x: MatMut<'_, f64>) {
    let k = scratch.design.ncols();
    let a = scratch.design.as_ref().subrows(0, count);
    let mut g = scratch.spd.gram_mut();
    matmul(g.as_mut(), Accum::Replace, a.transpose(), a, 1.0, Par::Seq);
    let mut b = vec![0.0; k];
    for (d, bd) in b.iter_mut().enumerate() {
        *bd = (0..count).map(|j| a[(j, d)] * scratch.rhs[j]).sum();
    }
    scratch.spd.factor();
    scratch.spd.solve(&mut b);
    for (d, bd) in b.iter().enumerate() {
        x[(0, d)] = *bd;
    }
}

/// The per-task buffers of `iterative_half_step`.
struct BlockScratch<S> {
    cgls: CglsWorkspace,
    row: RowScratch,
    rule: S,
    weights: Vec<f64>,
}

/// A row block's preconditioners and which rows used them.
pub type BlockPreconditioners = (Preconditioners, Vec<bool>);

/// What an iterative half-step produced.
pub struct IterativeOutcome {
    pub x: Mat<f64>,
    /// Row-iterations spent, summed over rows.
    pub work: usize,
    /// Per row block (in order): the preconditioners used and which rows
    /// used them (the others took the exact path).
    pub preconditioners: Vec<BlockPreconditioners>,
}

/// Solve a half-step with batched CG under `rule`'s preconditioners to
/// relative tolerance `tol`.
pub fn iterative_half_step<R: PreconditionerRule>(
    step: &HalfStep<'_>,
    rule: &R,
    tol: f64,
) -> Result<IterativeOutcome> {
    let (n, m, k) = (
        step.problem.n_rows(),
        step.problem.n_cols(),
        step.fixed.ncols(),
    );
    let max_rows = m + if step.ridge > 0.0 { k } else { 0 };
    let row_blocks: Vec<_> = blocks(n, ROW_BLOCK).collect();
    let parts: Vec<(Mat<f64>, usize, BlockPreconditioners)> = row_blocks
        .par_iter()
        // One workspace per thread's run of row blocks (at most as many runs
        // as threads), reused across them: fresh rb x m buffers per block cost
        // page faults (10 % of a fit at k = 16). Every buffer is overwritten
        // before it is read, so results do not depend on the grouping.
        .with_min_len(row_blocks.len().div_ceil(rayon::current_num_threads()))
        .map_init(
            || BlockScratch {
                cgls: CglsWorkspace::new(ROW_BLOCK.min(n), m, k),
                row: RowScratch {
                    design: Mat::zeros(max_rows.max(k), k),
                    rhs: vec![0.0; max_rows.max(k)],
                    spd: SpdSolver::new(k),
                    kept: Vec::with_capacity(m),
                },
                rule: rule.scratch(m, k),
                weights: vec![0.0; ROW_BLOCK.min(n) * m],
            },
            |scratch, rows| {
                let rb = rows.len();
                let BlockScratch {
                    cgls,
                    row: row_scratch,
                    rule: rule_scratch,
                    weights,
                } = scratch;
                // The block's weights with rows contiguous (a deliberate copy:
                // the rules and every CG pass walk rows).
                let weights = &mut weights[..rb * m];
                match step.problem.dense().weights_block(rows.clone(), 0..m) {
                    Some(w) => copy_to_rows(w, weights),
                    None => weights.fill(1.0),
                }
                let weights = &*weights;
                let mut x = Mat::<f64>::zeros(rb, k);
                if let Some(warm) = step.warm_start {
                    x.copy_from(warm.subrows(rows.start, rb));
                }
                let views: Vec<RowView<'_>> = (0..rb)
                    .map(|r| {
                        let row_weights = &weights[r * m..(r + 1) * m];
                        RowView {
                            index: rows.start + r,
                            weights: row_weights,
                            nonzeros: row_weights.iter().filter(|v| **v != 0.0).count(),
                        }
                    })
                    .collect();
                // A row with fewer than k non-zero weights (and no ridge) is
                // rank deficient: only the exact path gives its minimum-norm fit.
                let mut active: Vec<bool> = views
                    .iter()
                    .map(|v| v.nonzeros >= k || step.ridge > 0.0)
                    .collect();
                let preconditioners =
                    rule.build(step, &views, row_scratch, rule_scratch, &mut active);
                for (r, view) in views.iter().enumerate() {
                    if !active[r] {
                        let count = gather_design(step, view, row_scratch);
                        solve_row_exactly(row_scratch, count, x.as_mut().subrows_mut(r, 1));
                    }
                }
                let data = BlockData {
                    weights,
                    values: step.problem.dense().data_block(rows.clone(), 0..m),
                    fixed: step.fixed,
                    ridge: step.ridge,
                };
                let usable = active.clone();
                let work = solve_block(
                    &data,
                    &preconditioners,
                    &mut active,
                    x.as_mut(),
                    tol,
                    MAX_INNER_ITERATIONS,
                    cgls,
                );
                (x, work, (preconditioners, usable))
            },
        )
        .collect();
    let work = parts.iter().map(|(_, w, _)| w).sum();
    let mut mats = Vec::with_capacity(parts.len());
    let mut preconditioners = Vec::with_capacity(parts.len());
    for (x, _, p) in parts {
        mats.push(x);
        preconditioners.push(p);
    }
    let x = stack_rows(&mats, n, k);
    Ok(IterativeOutcome {
        x: finite(x, "an iterative half-step")?,
        work,
        preconditioners,
    })
}
