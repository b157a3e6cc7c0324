//! Products of the data with thin factors, done block by block so that no
//! n x m temporary is formed, parallel over fixed row blocks on the current
//! rayon pool (the model's own), each block's work sequential.

use crate::problem::{blocks, DenseProblem};
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatRef, Par};
use rayon::prelude::*;

/// Rows of the data handled by one task.
pub(crate) const ROW_BLOCK: usize = 128;
/// Columns of the data materialized at once within a row block.
pub(crate) const COL_BLOCK: usize = 256;

/// (W o M) x, for x with n_cols rows. Flops: 2 * n * m * x.ncols().
/// Extra memory: one ROW_BLOCK x COL_BLOCK block per task.
pub fn weighted_data_times(problem: &DenseProblem<'_>, x: MatRef<'_, f64>) -> Mat<f64> {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let width = x.ncols();
    assert_eq!(x.nrows(), m);
    let row_blocks: Vec<_> = blocks(n, ROW_BLOCK).collect();
    let parts: Vec<Mat<f64>> = row_blocks
        .par_iter()
        .map(|rows| {
            let mut out = Mat::<f64>::zeros(rows.len(), width);
            let mut wm = Mat::<f64>::zeros(rows.len(), COL_BLOCK.min(m));
            for (c, cols) in blocks(m, COL_BLOCK).enumerate() {
                let mut block = wm.as_mut().subcols_mut(0, cols.len());
                let accum = if c == 0 { Accum::Replace } else { Accum::Add };
                match problem.weights_block(rows.clone(), cols.clone()) {
                    Some(_) => {
                        problem.weighted_data_block(rows.clone(), cols.clone(), block.as_mut());
                        let xc = x.subrows(cols.start, cols.len());
                        matmul(out.as_mut(), accum, block.as_ref(), xc, 1.0, Par::Seq);
                    }
                    None => {
                        let mc = problem.data_block(rows.clone(), cols.clone());
                        let xc = x.subrows(cols.start, cols.len());
                        matmul(out.as_mut(), accum, mc, xc, 1.0, Par::Seq);
                    }
                }
            }
            out
        })
        .collect();
    stack_rows(&parts, n, width)
}

/// sum_ij W_ij (M_ij - (U V^T)_ij)^2. Flops: 2 n m k + 3 n m.
/// Partial sums per row block are added in block order (deterministic).
pub fn weighted_residual(
    problem: &DenseProblem<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
) -> f64 {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let row_blocks: Vec<_> = blocks(n, ROW_BLOCK).collect();
    let partial: Vec<f64> = row_blocks
        .par_iter()
        .map(|rows| {
            let mut residual = Mat::<f64>::zeros(rows.len(), COL_BLOCK.min(m));
            let mut sum = 0.0;
            for cols in blocks(m, COL_BLOCK) {
                let mut r = residual.as_mut().subcols_mut(0, cols.len());
                r.copy_from(problem.data_block(rows.clone(), cols.clone()));
                let ub = u.subrows(rows.start, rows.len());
                let vb = v.subrows(cols.start, cols.len());
                matmul(r.as_mut(), Accum::Add, ub, vb.transpose(), -1.0, Par::Seq);
                match problem.weights_block(rows.clone(), cols.clone()) {
                    Some(w) => zip!(r.as_ref(), w).for_each(|unzip!(e, w)| sum += *w * *e * *e),
                    None => zip!(r.as_ref()).for_each(|unzip!(e)| sum += *e * *e),
                }
            }
            sum
        })
        .collect();
    partial.iter().sum()
}

/// Stack row blocks (in order) into one n x width matrix.
pub fn stack_rows(parts: &[Mat<f64>], n: usize, width: usize) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(n, width);
    let mut start = 0;
    for part in parts {
        out.as_mut()
            .subrows_mut(start, part.nrows())
            .copy_from(part);
        start += part.nrows();
    }
    out
}

/// A copy of `a` with each row contiguous (row i at [i * ncols..]): the
/// sparse paths gather whole rows of a factor by index.
pub fn rows_contiguous(a: MatRef<'_, f64>) -> Vec<f64> {
    let (n, k) = a.shape();
    let mut out = vec![0.0; n * k];
    for d in 0..k {
        for (i, v) in a.col(d).iter().enumerate() {
            out[i * k + d] = *v;
        }
    }
    out
}
