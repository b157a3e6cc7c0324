//! The exact half-step: for each row, the weighted normal equations
//! G_i x = b_i with G_i = Y^T diag(w_i) Y + ridge I and b_i = Y^T (w_i o m_i),
//! solved by Cholesky (minimum norm when G_i is singular).
//!
//! Cost per half-step: n m k(k+1) flops for the Grams (one GEMM per block
//! pair, see `kernels::gram`), 2 n m k for the right-hand sides, n k^3 / 3
//! for the factorizations. Extra memory per task: ROW_BLOCK x k(k+1)/2 packed
//! Grams and COL_BLOCK x k(k+1)/2 outer products.

use super::sparse::exact::exact_half_step;
use super::sparse::SharedParts;
use super::{finite, HalfStep, HalfStepSolver, SolverKind};
use crate::error::Result;
use crate::kernels::gram::{
    accumulate_packed_grams, packed_len, packed_outer_products, unpack_symmetric,
};
use crate::kernels::spd_solve::SpdSolver;
use crate::problem::{blocks, DenseProblem, Problem};
use crate::products::{stack_rows, weighted_data_times, COL_BLOCK, ROW_BLOCK};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

#[derive(Default)]
pub struct ExactSolver;

impl HalfStepSolver for ExactSolver {
    fn kind(&self) -> SolverKind {
        SolverKind::Exact
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        let x = match &step.problem {
            Problem::Sparse(view) => exact_half_step(view, &SharedParts::new(view, step)),
            Problem::Dense(dense) => {
                let rhs = weighted_data_times(dense, step.fixed);
                if dense.has_unit_weights() {
                    solve_shared_gram(step.fixed, step.ridge, rhs)
                } else {
                    solve_row_grams(dense, step, rhs)
                }
            }
        };
        finite(x, "the exact half-step (data too large for f64?)")
    }
}

/// Unit weights: every row shares G = Y^T Y + ridge I; one factorization.
fn solve_shared_gram(y: MatRef<'_, f64>, ridge: f64, mut rhs: Mat<f64>) -> Mat<f64> {
    let k = y.ncols();
    let mut spd = SpdSolver::new(k);
    let mut g = spd.gram_mut();
    matmul(g.as_mut(), Accum::Replace, y.transpose(), y, 1.0, Par::Seq);
    for d in 0..k {
        g[(d, d)] += ridge;
    }
    spd.factor();
    let mut x = vec![0.0; k];
    for i in 0..rhs.nrows() {
        for (d, xd) in x.iter_mut().enumerate() {
            *xd = rhs[(i, d)];
        }
        spd.solve(&mut x);
        for (d, xd) in x.iter().enumerate() {
            rhs[(i, d)] = *xd;
        }
    }
    rhs
}

/// Per-task scratch, allocated once per row block and reused across its rows.
struct Workspace {
    /// Packed Grams of the block's rows, stored so each row's entries are
    /// contiguous (k(k+1)/2 x ROW_BLOCK, read transposed).
    grams: Mat<f64>,
    outer: Mat<f64>,
    spd: SpdSolver,
    x: Vec<f64>,
    correction: Vec<f64>,
}

/// One step of iterative refinement for an ill-conditioned row: solve
/// G dx = Y^T diag(w_i) (m_i - Y x) - ridge x and add dx. Normal equations
/// lose accuracy as cond(A)^2; this step restores it to about cond(A) eps.
/// Flops: 4 m k + the solve.
fn refine_row(problem: &DenseProblem<'_>, step: &HalfStep<'_>, row: usize, ws: &mut Workspace) {
    let y = step.fixed;
    let (m, k) = (y.nrows(), y.ncols());
    let data = problem.data_block(row..row + 1, 0..m);
    let weights = problem.weights_block(row..row + 1, 0..m);
    ws.correction
        .iter_mut()
        .zip(&ws.x)
        .for_each(|(c, x)| *c = -step.ridge * x);
    for j in 0..m {
        let w = weights.map_or(1.0, |w| w[(0, j)]);
        if w == 0.0 {
            continue;
        }
        let fitted: f64 = (0..k).map(|d| y[(j, d)] * ws.x[d]).sum();
        let r = w * (data[(0, j)] - fitted);
        for (d, c) in ws.correction.iter_mut().enumerate() {
            *c += r * y[(j, d)];
        }
    }
    ws.spd.solve(&mut ws.correction);
    ws.x.iter_mut()
        .zip(&ws.correction)
        .for_each(|(x, c)| *x += c);
}

fn solve_row_grams(problem: &DenseProblem<'_>, step: &HalfStep<'_>, rhs: Mat<f64>) -> Mat<f64> {
    let y = step.fixed;
    let (n, m, k) = (problem.n_rows(), problem.n_cols(), y.ncols());
    let t = packed_len(k);
    let row_blocks: Vec<_> = blocks(n, ROW_BLOCK).collect();
    let parts: Vec<Mat<f64>> = row_blocks
        .par_iter()
        .map(|rows| {
            let rb = rows.len();
            let mut ws = Workspace {
                grams: Mat::zeros(t, rb),
                outer: Mat::zeros(COL_BLOCK.min(m), t),
                spd: SpdSolver::new(k),
                x: vec![0.0; k],
                correction: vec![0.0; k],
            };
            for (c, cols) in blocks(m, COL_BLOCK).enumerate() {
                let mut outer = ws.outer.as_mut().subrows_mut(0, cols.len());
                packed_outer_products(y.subrows(cols.start, cols.len()), outer.as_mut());
                let w = problem
                    .weights_block(rows.clone(), cols.clone())
                    .expect("row Grams are only formed for non-unit weights");
                accumulate_packed_grams(
                    ws.grams.as_mut().transpose_mut(),
                    w,
                    outer.as_ref(),
                    c == 0,
                );
            }
            let mut out = Mat::<f64>::zeros(rb, k);
            for r in 0..rb {
                let packed = ws.grams.col(r);
                let mut g = ws.spd.gram_mut();
                unpack_symmetric(|idx| packed[idx], g.as_mut());
                for d in 0..k {
                    g[(d, d)] += step.ridge;
                }
                for (d, xd) in ws.x.iter_mut().enumerate() {
                    *xd = rhs[(rows.start + r, d)];
                }
                if ws.spd.factor() {
                    ws.spd.solve(&mut ws.x);
                    if ws.spd.needs_refinement() {
                        refine_row(problem, step, rows.start + r, &mut ws);
                    }
                } else {
                    ws.x.iter_mut().for_each(|v| *v = f64::NAN);
                }
                for (d, xd) in ws.x.iter().enumerate() {
                    out[(r, d)] = *xd;
                }
            }
            out
        })
        .collect();
    stack_rows(&parts, n, k)
}
