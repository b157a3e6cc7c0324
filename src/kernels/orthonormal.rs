//! Thin QR, keeping Q: an orthonormal basis of a tall matrix's column span.
//! Tall, well-conditioned matrices take CholeskyQR2: two passes of
//! (Gram, Cholesky, triangular solve), 6 n k^2 flops of row-parallel
//! matrix products (in parallel as the caller's `Par` says), and Q orthonormal to rounding
//! while cond(a) stays below CHOLESKY_QR_MAX_PIVOT_RATIO (1e6, in
//! `spd_solve` with the library's other conditioning cut-offs). Anything else, rank
//! deficient included, takes Householder QR (sequential, about 4 n k^2
//! flops; Q stays orthonormal whatever a is).

use crate::error::Result;
use crate::kernels::blocking::{current_par, for_each_row_block, TALL_ROW_BLOCK};
use crate::kernels::gram::gram;
use crate::kernels::spd_solve::{
    cholesky_upper, full_rank, pivot_ratio, CHOLESKY_QR_MAX_PIVOT_RATIO,
};
use crate::memory::{try_buffer, try_copy, try_from_fn, try_identity, try_zeros};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::householder;
use faer::linalg::matmul::matmul;
use faer::linalg::qr::no_pivoting::factor;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, Conj, Mat, MatMut, MatRef, Par};

/// CholeskyQR2 only for a with at least this many rows per column.
const TALL_RATIO: usize = 4;

/// One Cholesky QR pass into `q` (a's shape): a = Q R with R^T R = a^T a;
/// R, or None when a^T a is not safely positive definite (then `q` is
/// untouched). Flops: 3 n k^2 (Gram, then solve).
fn cholesky_qr_pass(
    a: MatRef<'_, f64>,
    mut q: MatMut<'_, f64>,
    par: Par,
) -> Result<Option<Mat<f64>>> {
    let Some(r) = cholesky_upper(gram(a, par)?.as_ref())? else {
        return Ok(None);
    };
    if pivot_ratio(r.as_ref()) > CHOLESKY_QR_MAX_PIVOT_RATIO {
        return Ok(None);
    }
    q.copy_from(a);
    for_each_row_block(par, q, TALL_ROW_BLOCK, |_, rows| {
        // Q_rows R = a_rows, i.e. R^T Q_rows^T = a_rows^T.
        solve_lower_triangular_in_place(r.transpose(), rows.transpose_mut(), Par::Seq);
    });
    Ok(Some(r))
}

/// CholeskyQR2 into `q`, with `scratch` (a's shape) for the first pass's
/// Q: a = Q1 R1 and Q1 = Q R2, so R = R2 R1. None when either pass finds
/// its input too ill-conditioned.
fn cholesky_qr2(
    a: MatRef<'_, f64>,
    q: MatMut<'_, f64>,
    mut scratch: MatMut<'_, f64>,
    par: Par,
) -> Result<Option<Mat<f64>>> {
    let Some(r1) = cholesky_qr_pass(a, scratch.as_mut(), par)? else {
        return Ok(None);
    };
    let Some(r2) = cholesky_qr_pass(scratch.as_ref(), q, par)? else {
        return Ok(None);
    };
    let mut r = try_zeros(r1.nrows(), r1.ncols(), "a thin QR's R")?;
    matmul(
        r.as_mut(),
        Accum::Replace,
        r2.as_ref(),
        r1.as_ref(),
        1.0,
        Par::Seq,
    );
    Ok(Some(r))
}

/// Q (n x k) with orthonormal columns spanning at least the columns of `a`.
/// Requires n >= k.
pub fn orthonormal_basis(a: MatRef<'_, f64>) -> Result<Mat<f64>> {
    Ok(thin_qr(a)?.0)
}

/// a = Q R with Q (n x k) orthonormal and R (k x k) upper triangular, on
/// the current rayon pool (`blocking::current_par`). Requires n >= k.
pub fn thin_qr(a: MatRef<'_, f64>) -> Result<(Mat<f64>, Mat<f64>)> {
    thin_qr_par(a, current_par())
}

/// `thin_qr` with explicit parallelism.
pub fn thin_qr_par(a: MatRef<'_, f64>, par: Par) -> Result<(Mat<f64>, Mat<f64>)> {
    let (n, k) = a.shape();
    let mut q = try_zeros(n, k, "a thin QR's Q")?;
    let mut scratch = try_zeros(n, k, "a thin QR's first pass")?;
    let r = thin_qr_into(a, q.as_mut(), scratch.as_mut(), par)?;
    Ok((q, r))
}

/// `thin_qr_par` writing Q into `q` (a's shape), with `scratch` (a's
/// shape) for CholeskyQR2's first pass: the half-steps reuse both across
/// iterations. Returns R.
pub fn thin_qr_into(
    a: MatRef<'_, f64>,
    mut q: MatMut<'_, f64>,
    scratch: MatMut<'_, f64>,
    par: Par,
) -> Result<Mat<f64>> {
    let (n, k) = a.shape();
    assert!(n >= k, "thin_qr needs a tall matrix");
    if k == 0 {
        return Ok(Mat::zeros(0, 0));
    }
    if n >= TALL_RATIO * k {
        if let Some(r) = cholesky_qr2(a, q.as_mut(), scratch, par)? {
            return Ok(r);
        }
    }
    let (householder_q, r) = householder_qr(a)?;
    q.copy_from(&householder_q);
    Ok(r)
}

fn householder_qr(a: MatRef<'_, f64>) -> Result<(Mat<f64>, Mat<f64>)> {
    let (n, k) = a.shape();
    let mut qr = try_copy(a, "a Householder QR's factors")?;
    let block = factor::recommended_block_size::<f64>(n, k);
    let mut coeff = try_zeros(block, k, "a Householder QR's block coefficients")?;
    let req = StackReq::any_of(&[
        factor::qr_in_place_scratch::<f64>(n, k, block, Par::Seq, Default::default()),
        householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
            n, block, k,
        ),
    ]);
    let mut buffer = try_buffer(req, "a Householder QR's scratch")?;
    factor::qr_in_place(
        qr.as_mut(),
        coeff.as_mut(),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    );
    let mut q = try_identity(n, k, "a thin QR's Q")?;
    householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        qr.as_ref(),
        coeff.as_ref(),
        Conj::No,
        q.as_mut(),
        Par::Seq,
        MemStack::new(&mut buffer),
    );
    let upper = |i: usize, j: usize| if i <= j { qr[(i, j)] } else { 0.0 };
    let r = try_from_fn(k, k, upper, "a thin QR's R")?;
    Ok((q, r))
}

/// Scratch for repeated R factors of matrices of at most `rows` x `k`:
/// one allocation, reused across rows (the sketched solver's hot loop).
pub struct RFactorWorkspace {
    qr: Mat<f64>,
    coeff: Mat<f64>,
    buffer: MemBuffer,
}

impl RFactorWorkspace {
    pub fn new(rows: usize, k: usize) -> Result<Self> {
        let rows = rows.max(k).max(1);
        let block = factor::recommended_block_size::<f64>(rows, k.max(1));
        let req = factor::qr_in_place_scratch::<f64>(rows, k, block, Par::Seq, Default::default());
        Ok(RFactorWorkspace {
            qr: try_zeros(rows, k, "a row's QR")?,
            coeff: try_zeros(block, k, "a row's QR coefficients")?,
            buffer: try_buffer(req, "a row's QR scratch")?,
        })
    }

    /// Copy `a` (rows <= capacity, rows >= k) in and return its R factor
    /// (upper triangle of the returned k x k view; below it is scratch).
    /// Flops: 2 rows k^2 - 2 k^3 / 3.
    pub fn r_factor(&mut self, a: MatRef<'_, f64>) -> MatRef<'_, f64> {
        let (rows, k) = a.shape();
        let mut work = self.qr.as_mut().subrows_mut(0, rows);
        work.copy_from(a);
        factor::qr_in_place(
            work,
            self.coeff.as_mut().subcols_mut(0, k),
            Par::Seq,
            MemStack::new(&mut self.buffer),
            Default::default(),
        );
        self.qr.as_ref().submatrix(0, 0, k, k)
    }

    /// The R of `a` as a clean upper triangle, or None when it is not full
    /// rank (`spd_solve::full_rank`) and so cannot serve as a preconditioner.
    pub fn full_rank_r_factor(&mut self, a: MatRef<'_, f64>) -> Result<Option<Mat<f64>>> {
        let r = self.r_factor(a);
        let k = r.ncols();
        let clean = |i: usize, j: usize| if i <= j { r[(i, j)] } else { 0.0 };
        let upper = try_from_fn(k, k, clean, "a row's preconditioner R")?;
        Ok(full_rank(upper.as_ref()).then_some(upper))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, k: usize, seed: u64) -> Mat<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005) | 1;
        Mat::from_fn(n, k, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    /// max |Q^T Q - I|, max |Q R - a| / max |a|, and whether R is upper
    /// triangular.
    fn check(a: &Mat<f64>) -> (f64, f64, bool) {
        let (q, r) = thin_qr(a.as_ref()).unwrap();
        let k = a.ncols();
        let qtq = q.transpose() * &q;
        let orthogonality = (0..k)
            .flat_map(|i| (0..k).map(move |j| (i, j)))
            .map(|(i, j)| (qtq[(i, j)] - if i == j { 1.0 } else { 0.0 }).abs())
            .fold(0.0, f64::max);
        let scale = a
            .col_iter()
            .flat_map(|c| c.iter().map(|v| v.abs()))
            .fold(0.0, f64::max);
        let qr = &q * &r;
        let residual = (0..a.nrows())
            .flat_map(|i| (0..k).map(move |j| (i, j)))
            .map(|(i, j)| (qr[(i, j)] - a[(i, j)]).abs())
            .fold(0.0, f64::max);
        let upper = (0..k).all(|j| (j + 1..k).all(|i| r[(i, j)] == 0.0));
        (orthogonality, residual / scale, upper)
    }

    #[test]
    fn tall_well_conditioned_matrices_take_cholesky_qr2() {
        let a = pseudo_random(3000, 20, 1);
        let (mut q, mut scratch) = (a.clone(), a.clone());
        let qr = cholesky_qr2(a.as_ref(), q.as_mut(), scratch.as_mut(), Par::Seq);
        assert!(qr.unwrap().is_some());
        let (orthogonality, residual, upper) = check(&a);
        assert!(orthogonality < 1e-14, "{orthogonality}");
        assert!(residual < 1e-14, "{residual}");
        assert!(upper);
    }

    #[test]
    fn ill_conditioned_and_rank_deficient_matrices_fall_back_to_householder() {
        // Columns scaled over 1e9 (cond(a) ~ 1e9 > 1e6), and one zero column.
        let mut graded = pseudo_random(3000, 12, 2);
        for j in 0..12 {
            let s = 10f64.powi(-(j as i32) * 9 / 11);
            graded.col_mut(j).iter_mut().for_each(|v| *v *= s);
        }
        let mut deficient = pseudo_random(3000, 12, 3);
        deficient.col_mut(5).fill(0.0);
        for a in [graded, deficient] {
            let (mut q, mut scratch) = (a.clone(), a.clone());
            let qr = cholesky_qr2(a.as_ref(), q.as_mut(), scratch.as_mut(), Par::Seq);
            assert!(qr.unwrap().is_none());
            let (orthogonality, residual, upper) = check(&a);
            assert!(orthogonality < 1e-13, "{orthogonality}");
            assert!(residual < 1e-14, "{residual}");
            assert!(upper);
        }
    }

    #[test]
    fn cholesky_qr2_gives_the_same_bits_on_any_thread_count() {
        let a = pseudo_random(5000, 16, 4);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| thin_qr(a.as_ref()).unwrap())
        };
        let ((q1, r1), (q3, r3)) = (on(1), on(3));
        assert!(q1 == q3 && r1 == r3);
    }
}
