//! Products of thin factors: a tall n x k matrix times a small one, the
//! driver's change of basis. Products of the data live with the data
//! (`problem::DenseProblem`, `problem::SparseView`).

use crate::kernels::blocking::{current_par, for_each_row_block, TALL_ROW_BLOCK};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// a b for tall a (n x k) and small b (k x l), into `out` (n x l, which
/// the loops reuse across iterations), row blocks in parallel on
/// the current rayon pool (`blocking::current_par`). Flops: 2 n k l.
pub fn tall_times_small_into(a: MatRef<'_, f64>, b: MatRef<'_, f64>, out: MatMut<'_, f64>) {
    for_each_row_block(current_par(), out, TALL_ROW_BLOCK, |block, rows| {
        let first = block * TALL_ROW_BLOCK;
        let a_rows = a.subrows(first, rows.nrows());
        matmul(rows, Accum::Replace, a_rows, b, 1.0, Par::Seq);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn small_products_are_exact() {
        let (n, k) = (2000, 7);
        let a = Mat::from_fn(n, k, |i, j| (i * 31 + j * 7) as f64 / 13.0 - 5.0);
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
        let mut out = Mat::<f64>::zeros(n, 3);
        tall_times_small_into(a.as_ref(), b.as_ref(), out.as_mut());
        assert!(out == expected);
    }
}
