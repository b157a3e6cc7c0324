//! The canonical form of a fit's product U V^T (`wlra_get_canonical`,
//! added in 1.4): U_c (n x k) and V_c (m x k) with orthonormal columns and
//! s (k) descending, U_c diag(s) V_c^T = U V^T, whatever the gauge the
//! factors came in (any invertible R: U R, V R^-T give the same output).
//!
//! From a thin QR of each factor and the SVD of the k x k core R_u R_v^T:
//! O((n + m) k^2) flops, nothing of size n x m. Each factor is first scaled
//! by a power of two (exact) so that its largest entry is near 1, and s is
//! scaled back, so the QRs neither overflow nor underflow and the output is
//! equivariant under scaling M (U_c and V_c unchanged, s scaled).
//!
//! Sign convention: in each column of V_c the entry of largest magnitude is
//! positive (the first such entry, lowest row index, on ties), the column
//! of U_c flipped with it. Singular values tie-break by column order.

use crate::error::{Error, Result};
use crate::kernels::orthonormal::thin_qr_par;
use crate::memory::{try_copy, try_from_fn, try_zeros};
use crate::scaling::{exponent, times_pow2};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// U_c, s and V_c of `canonical_form`.
pub struct Canonical {
    pub u: Mat<f64>,
    pub s: Vec<f64>,
    pub v: Mat<f64>,
}

/// A copy of `a` times 2^-e, with e the binary exponent of its largest
/// |entry| (0 for a zero matrix): a = copy 2^e.
fn normalized(a: MatRef<'_, f64>, what: &str) -> Result<(Mat<f64>, i32)> {
    let largest = a
        .col_iter()
        .flat_map(|c| c.iter())
        .fold(0.0f64, |t, x| t.max(x.abs()));
    let e = if largest > 0.0 { exponent(largest) } else { 0 };
    let mut copy = try_copy(a, what)?;
    if e != 0 {
        copy.col_iter_mut()
            .for_each(|c| c.iter_mut().for_each(|x| *x = times_pow2(*x, -e)));
    }
    Ok((copy, e))
}

/// The canonical form of U V^T (module comment). U is n x k, V m x k, both
/// finite with k <= min(n, m) (a model's factors).
pub fn canonical_form(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<Canonical> {
    let k = u.ncols();
    assert_eq!(v.ncols(), k, "U and V must have one number of columns");
    let what = "the canonical form";
    let (us, eu) = normalized(u, what)?;
    let (vs, ev) = normalized(v, what)?;
    let (qu, ru) = thin_qr_par(us.as_ref(), Par::Seq)?;
    let (qv, rv) = thin_qr_par(vs.as_ref(), Par::Seq)?;
    let mut core = try_zeros(k, k, what)?;
    let (ru, rv) = (ru.as_ref(), rv.as_ref());
    matmul(
        core.as_mut(),
        Accum::Replace,
        ru,
        rv.transpose(),
        1.0,
        Par::Seq,
    );
    let svd = core.svd().map_err(|_| {
        Error::Numerical("the SVD of the canonical form's k x k core did not converge".into())
    })?;
    let values = svd.S().column_vector();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let p = try_from_fn(k, k, |i, c| svd.U()[(i, order[c])], what)?;
    let q = try_from_fn(k, k, |i, c| svd.V()[(i, order[c])], what)?;
    let mut uc = try_zeros(u.nrows(), k, what)?;
    let mut vc = try_zeros(v.nrows(), k, what)?;
    matmul(
        uc.as_mut(),
        Accum::Replace,
        qu.as_ref(),
        p.as_ref(),
        1.0,
        Par::Seq,
    );
    matmul(
        vc.as_mut(),
        Accum::Replace,
        qv.as_ref(),
        q.as_ref(),
        1.0,
        Par::Seq,
    );
    fix_signs(&mut uc, &mut vc);
    let s = order
        .iter()
        .map(|&c| times_pow2(values[c], eu + ev))
        .collect();
    Ok(Canonical { u: uc, s, v: vc })
}

/// How far U V^T falls short of rank k (WLRA_INFO_DEGENERATE): k minus
/// the number of its canonical singular values above max(n, m) * eps *
/// s_1 (eps = 2^-52, s_1 the largest; the tolerance of LAPACK-based rank
/// tests such as numpy's matrix_rank). k when U V^T = 0; 0 for a fit of
/// full rank. O((n + m) k^2), as `canonical_form`.
pub fn rank_deficiency(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<usize> {
    let s = canonical_form(u, v)?.s;
    let largest = s.first().copied().unwrap_or(0.0);
    let tolerance = u.nrows().max(v.nrows()) as f64 * f64::EPSILON * largest;
    Ok(s.iter().filter(|&&x| x <= tolerance).count())
}

/// Flip each column pair where the entry of largest magnitude in V's
/// column (the first on ties) is negative.
fn fix_signs(u: &mut Mat<f64>, v: &mut Mat<f64>) {
    for c in 0..v.ncols() {
        let mut top = 0;
        for i in 1..v.nrows() {
            if v[(i, c)].abs() > v[(top, c)].abs() {
                top = i;
            }
        }
        if v.nrows() > 0 && v[(top, c)] < 0.0 {
            u.col_mut(c).iter_mut().for_each(|x| *x = -*x);
            v.col_mut(c).iter_mut().for_each(|x| *x = -*x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ties_go_to_the_first_entry_of_largest_magnitude() {
        // Column 0: -0.5 comes first among four entries of magnitude 0.5, so
        // it flips; column 1: its largest entry (-0.8) is negative, flips;
        // column 2 stays.
        let rows = [
            [-0.5, 0.6, 0.0],
            [0.5, -0.8, 0.0],
            [0.5, 0.0, -0.6],
            [0.5, 0.0, 0.8],
        ];
        let v0 = Mat::from_fn(4, 3, |i, j| rows[i][j]);
        let u0 = Mat::from_fn(2, 3, |i, j| (3 * i + j) as f64);
        let (mut u, mut v) = (u0.clone(), v0.clone());
        fix_signs(&mut u, &mut v);
        let flip = [-1.0, -1.0, 1.0];
        assert!((0..3).all(|j| (0..4).all(|i| v[(i, j)] == flip[j] * v0[(i, j)])));
        assert!((0..3).all(|j| (0..2).all(|i| u[(i, j)] == flip[j] * u0[(i, j)])));
    }
}
