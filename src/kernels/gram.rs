//! Gram matrices: a^T a of a tall matrix, and per-row weighted Grams as one
//! GEMM.
//!
//! For a block of rows i and the design Y (m x k), the row Grams
//! G_i = Y^T diag(w_i) Y are stored packed (upper triangle, k(k+1)/2 entries).
//! Packed G for the block = W_block (rb x cb) * P (cb x k(k+1)/2), where row j
//! of P holds the packed outer product y_j y_j^T. That turns n*m*k(k+1)/2
//! scalar multiply-adds into a well-shaped matrix product.

use crate::error::Result;
use crate::kernels::blocking::{block_list, map_blocks, TALL_ROW_BLOCK};
use crate::memory::try_zeros;
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, ColRef, Mat, MatMut, MatRef, Par};

/// a^T a, from fixed row blocks multiplied (in parallel as `par` says) and
/// summed in order. Flops: 2 n k^2. Memory: one k x k Gram per row block
/// (reserved fallibly).
pub fn gram(a: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
    let k = a.ncols();
    let ranges = block_list(a.nrows(), TALL_ROW_BLOCK)?;
    let parts: Vec<Mat<f64>> = map_blocks(par, &ranges, |rows| {
        let block = a.subrows(rows.start, rows.len());
        let mut g = try_zeros(k, k, "a row block's Gram")?;
        matmul(
            g.as_mut(),
            Accum::Replace,
            block.transpose(),
            block,
            1.0,
            Par::Seq,
        );
        Ok(g)
    })?;
    let mut total = try_zeros(k, k, "a Gram")?;
    for part in &parts {
        total += part;
    }
    Ok(total)
}

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

/// Copy the lower triangle of a square matrix onto its upper triangle.
pub fn mirror_lower(mut g: MatMut<'_, f64>) {
    for j in 0..g.ncols() {
        for i in j + 1..g.nrows() {
            g[(j, i)] = g[(i, j)];
        }
    }
}

/// Lower triangle of one row's Gram G = Y^T diag(w) Y (k x k, overwritten;
/// the strict upper triangle is left as it was). `w` is the row of weights
/// (length m = Y's rows, any stride). Flops: m k (k+1); traffic: Y read twice
/// and once written packed with the weights applied, so k/24 flops per byte:
/// the better form than `accumulate_packed_grams` once k is large, where the
/// packed outer products (m x k(k+1)/2) no longer stay in cache.
pub fn weighted_gram_lower(y: MatRef<'_, f64>, w: ColRef<'_, f64>, g: MatMut<'_, f64>) {
    let (m, k) = y.shape();
    debug_assert_eq!(w.nrows(), m);
    debug_assert_eq!(g.shape(), (k, k));
    #[cfg(target_arch = "x86_64")]
    if let Some(instr) = x86_gemm_instructions() {
        // SAFETY: every pointer and stride comes from a live faer view of the
        // stated shape: dst g (k x k), lhs Y^T (k x m), diag w (m), rhs Y
        // (m x k); the views do not overlap g, which is the only output.
        unsafe {
            private_gemm_x86::gemm(
                private_gemm_x86::DType::F64,
                private_gemm_x86::IType::U64,
                instr,
                k,
                k,
                m,
                g.as_ptr_mut() as *mut (),
                g.row_stride(),
                g.col_stride(),
                core::ptr::null(),
                core::ptr::null(),
                private_gemm_x86::DstKind::Lower,
                private_gemm_x86::Accum::Replace,
                y.as_ptr() as *const (),
                y.col_stride(),
                y.row_stride(),
                false,
                w.as_ptr() as *const (),
                w.row_stride(),
                y.as_ptr() as *const (),
                y.row_stride(),
                y.col_stride(),
                false,
                &raw const ONE as *const (),
                1,
            );
        }
        return;
    }
    // Portable path: G = (D Y)^T Y with the lower triangle only.
    let mut scaled = Mat::<f64>::zeros(m, k);
    for (j, wj) in w.iter().enumerate() {
        for d in 0..k {
            scaled[(j, d)] = *wj * y[(j, d)];
        }
    }
    faer::linalg::matmul::triangular::matmul(
        g,
        faer::linalg::matmul::triangular::BlockStructure::TriangularLower,
        Accum::Replace,
        scaled.transpose(),
        faer::linalg::matmul::triangular::BlockStructure::Rectangular,
        y,
        faer::linalg::matmul::triangular::BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

#[cfg(target_arch = "x86_64")]
static ONE: f64 = 1.0;

/// The instruction set private-gemm-x86 runs with here, as faer picks it.
#[cfg(target_arch = "x86_64")]
fn x86_gemm_instructions() -> Option<private_gemm_x86::InstrSet> {
    if std::arch::is_x86_feature_detected!("avx512f") {
        Some(private_gemm_x86::InstrSet::Avx512)
    } else if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
    {
        Some(private_gemm_x86::InstrSet::Avx256)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_gram_lower_matches_the_sum_of_weighted_outer_products() {
        let (m, k) = (700, 37);
        let y = Mat::from_fn(m, k, |i, j| ((i * 31 + j * 17) % 23) as f64 / 23.0 - 0.5);
        let w = Mat::from_fn(m, 1, |i, _| ((i * 13) % 7) as f64 / 7.0);
        let mut g = Mat::<f64>::full(k, k, f64::NAN);
        weighted_gram_lower(y.as_ref(), w.col(0), g.as_mut());
        for b in 0..k {
            for a in b..k {
                let expected: f64 = (0..m).map(|j| w[(j, 0)] * y[(j, a)] * y[(j, b)]).sum();
                assert!(
                    (g[(a, b)] - expected).abs() <= 1e-12 * m as f64,
                    "({a}, {b})"
                );
            }
        }
        // The strict upper triangle is not written.
        assert!(g[(0, 1)].is_nan());
    }
}
