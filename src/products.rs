//! Products of the data with thin factors, done block by block so that no
//! n x m temporary is formed, parallel over fixed row blocks on the current
//! rayon pool (the model's own), each block's work sequential.

use crate::problem::{blocks, DenseProblem};
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;
use std::ops::Range;

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
            let mut wm = vec![0.0; rows.len() * COL_BLOCK.min(m)];
            for (c, cols) in blocks(m, COL_BLOCK).enumerate() {
                weighted_data_block_times(problem, rows, cols, x, &mut wm, out.as_mut(), c == 0);
            }
            out
        })
        .collect();
    stack_rows(&parts, n, width)
}

/// out (= or +=) (W o M)[rows, cols] x[cols, :], one block of
/// `weighted_data_times`; `wm` (at least rows x cols) is scratch. Flops:
/// 2 * rows * cols * x.ncols(). Called right after another pass over the same
/// W block, it reads W from cache instead of memory.
pub(crate) fn weighted_data_block_times(
    problem: &DenseProblem<'_>,
    rows: &Range<usize>,
    cols: Range<usize>,
    x: MatRef<'_, f64>,
    wm: &mut [f64],
    out: MatMut<'_, f64>,
    first: bool,
) {
    let accum = if first { Accum::Replace } else { Accum::Add };
    let xc = x.subrows(cols.start, cols.len());
    let Some(w) = problem.weights() else {
        let mc = problem.data_block(rows.clone(), cols);
        matmul(out, accum, mc, xc, 1.0, Par::Seq);
        return;
    };
    // The scratch block takes W's orientation, so forming W o M runs along
    // contiguous memory in all three.
    let (r, c) = (rows.len(), cols.len());
    let buf = &mut wm[..r * c];
    let mut block = if w.row_stride() == 1 {
        MatMut::from_column_major_slice_mut(buf, r, c)
    } else {
        MatMut::from_row_major_slice_mut(buf, r, c)
    };
    problem.weighted_data_block(rows.clone(), cols, block.as_mut());
    matmul(out, accum, block.as_ref(), xc, 1.0, Par::Seq);
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

/// a b for tall a (n x k) and small b (k x l), row blocks in parallel on
/// the current rayon pool. Flops: 2 n k l.
pub fn tall_times_small(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    const ROWS: usize = 1024;
    let mut out = Mat::<f64>::zeros(a.nrows(), b.ncols());
    out.as_mut()
        .par_row_chunks_mut(ROWS)
        .enumerate()
        .for_each(|(block, rows)| {
            let first = block * ROWS;
            let a_rows = a.subrows(first, rows.nrows());
            matmul(rows, Accum::Replace, a_rows, b, 1.0, Par::Seq);
        });
    out
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
/// sparse paths gather whole rows of a factor by index. Transposed in
/// blocks of rows, in parallel on the current rayon pool, so each block's
/// writes stay in cache.
pub fn rows_contiguous(a: MatRef<'_, f64>) -> Vec<f64> {
    const ROWS: usize = 64;
    let (n, k) = a.shape();
    let mut out = vec![0.0; n * k];
    if k == 0 {
        return out;
    }
    out.par_chunks_mut(ROWS * k)
        .enumerate()
        .for_each(|(b, chunk)| {
            let col_rows = a.subrows(b * ROWS, chunk.len() / k);
            for d in 0..k {
                let rows = chunk.chunks_exact_mut(k);
                rows.zip(col_rows.col(d).iter())
                    .for_each(|(row, v)| row[d] = *v);
            }
        });
    out
}

/// The n x k matrix whose row i is rows[i * k..(i + 1) * k]: the inverse of
/// `rows_contiguous`, by the same blocks.
pub fn from_rows_contiguous(rows: &[f64], n: usize, k: usize) -> Mat<f64> {
    const ROWS: usize = 64;
    let mut out = Mat::<f64>::zeros(n, k);
    if k == 0 {
        return out;
    }
    out.as_mut()
        .par_row_chunks_mut(ROWS)
        .enumerate()
        .for_each(|(b, mut block)| {
            let block_rows = &rows[b * ROWS * k..(b * ROWS + block.nrows()) * k];
            for d in 0..k {
                let column = block.as_mut().col_mut(d);
                let values = block_rows.chunks_exact(k).map(|row| row[d]);
                column.iter_mut().zip(values).for_each(|(v, x)| *v = x);
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_major_copies_and_small_products_are_exact() {
        let (n, k) = (200, 7);
        let a = Mat::from_fn(n, k, |i, j| (i * 31 + j * 7) as f64 / 13.0 - 5.0);
        let rows = rows_contiguous(a.as_ref());
        assert!((0..n).all(|i| (0..k).all(|j| rows[i * k + j] == a[(i, j)])));
        assert!(from_rows_contiguous(&rows, n, k) == a);
        let b = Mat::from_fn(k, 3, |i, j| (i + 2 * j) as f64 - 4.0);
        let mut expected = Mat::<f64>::zeros(n, 3);
        matmul(
            expected.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::Seq,
        );
        assert!(tall_times_small(a.as_ref(), b.as_ref()) == expected);
    }
}
