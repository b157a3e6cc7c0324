//! Per-row weighted Gram matrices as one GEMM.
//!
//! For a block of rows i and the design Y (m x k), the row Grams
//! G_i = Y^T diag(w_i) Y are stored packed (upper triangle, k(k+1)/2 entries).
//! Packed G for the block = W_block (rb x cb) * P (cb x k(k+1)/2), where row j
//! of P holds the packed outer product y_j y_j^T. That turns n*m*k(k+1)/2
//! scalar multiply-adds into a well-shaped matrix product.

use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, MatMut, MatRef, Par};

/// Entries of the packed upper triangle of a k x k symmetric matrix.
pub fn packed_len(k: usize) -> usize {
    k * (k + 1) / 2
}

/// Fill `p` (cb x k(k+1)/2) with the packed outer products of the rows of `y`
/// (cb x k): column b(b+1)/2 + a holds y[:, a] .* y[:, b] for a <= b.
/// Flops: cb * k(k+1)/2 multiplies; memory: writes p once.
pub fn packed_outer_products(y: MatRef<'_, f64>, mut p: MatMut<'_, f64>) {
    let k = y.ncols();
    debug_assert_eq!(p.ncols(), packed_len(k));
    debug_assert_eq!(p.nrows(), y.nrows());
    for b in 0..k {
        let yb = y.col(b);
        for a in 0..=b {
            let dst = p.as_mut().col_mut(b * (b + 1) / 2 + a);
            zip!(dst, y.col(a), yb).for_each(|unzip!(d, ya, yb)| *d = *ya * *yb);
        }
    }
}

/// `gram += weights * p`: packed row Grams of a row block from one column
/// block. Flops: 2 * rb * cb * k(k+1)/2 (the n*m*k*(k+1) of a half-step, summed).
pub fn accumulate_packed_grams(
    gram: MatMut<'_, f64>,
    weights: MatRef<'_, f64>,
    p: MatRef<'_, f64>,
    first: bool,
) {
    let accum = if first { Accum::Replace } else { Accum::Add };
    matmul(gram, accum, weights, p, 1.0, Par::Seq);
}

/// Expand one packed row Gram into a full symmetric k x k matrix.
pub fn unpack_symmetric(packed: impl Fn(usize) -> f64, mut g: MatMut<'_, f64>) {
    let k = g.nrows();
    for b in 0..k {
        for a in 0..=b {
            let v = packed(b * (b + 1) / 2 + a);
            g[(a, b)] = v;
            g[(b, a)] = v;
        }
    }
}
