//! Thin QR, keeping Q: an orthonormal basis of a tall matrix's column span.
//! Householder QR (stable even when the matrix is rank deficient: Q stays
//! orthonormal). Flops: about 4 n k^2 for n x k.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::householder;
use faer::linalg::qr::no_pivoting::factor;
use faer::{Conj, Mat, MatRef, Par};

/// Q (n x k) with orthonormal columns spanning at least the columns of `a`.
/// Requires n >= k.
pub fn orthonormal_basis(a: MatRef<'_, f64>) -> Mat<f64> {
    thin_qr(a).0
}

/// a = Q R with Q (n x k) orthonormal and R (k x k) upper triangular.
/// Requires n >= k.
pub fn thin_qr(a: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
    let (n, k) = a.shape();
    assert!(n >= k, "thin_qr needs a tall matrix");
    if k == 0 {
        return (Mat::zeros(n, 0), Mat::zeros(0, 0));
    }
    let mut qr = a.to_owned();
    let block = factor::recommended_block_size::<f64>(n, k);
    let mut coeff = Mat::<f64>::zeros(block, k);
    let req = StackReq::any_of(&[
        factor::qr_in_place_scratch::<f64>(n, k, block, Par::Seq, Default::default()),
        householder::apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
            n, block, k,
        ),
    ]);
    let mut buffer = MemBuffer::new(req);
    factor::qr_in_place(
        qr.as_mut(),
        coeff.as_mut(),
        Par::Seq,
        MemStack::new(&mut buffer),
        Default::default(),
    );
    let mut q = Mat::<f64>::identity(n, k);
    householder::apply_block_householder_sequence_on_the_left_in_place_with_conj(
        qr.as_ref(),
        coeff.as_ref(),
        Conj::No,
        q.as_mut(),
        Par::Seq,
        MemStack::new(&mut buffer),
    );
    let r = Mat::from_fn(k, k, |i, j| if i <= j { qr[(i, j)] } else { 0.0 });
    (q, r)
}

/// Scratch for repeated R factors of matrices of at most `rows` x `k`:
/// one allocation, reused across rows (the sketched solver's hot loop).
pub struct RFactorWorkspace {
    qr: Mat<f64>,
    coeff: Mat<f64>,
    buffer: MemBuffer,
}

impl RFactorWorkspace {
    pub fn new(rows: usize, k: usize) -> Self {
        let rows = rows.max(k).max(1);
        let block = factor::recommended_block_size::<f64>(rows, k.max(1));
        let req = factor::qr_in_place_scratch::<f64>(rows, k, block, Par::Seq, Default::default());
        RFactorWorkspace {
            qr: Mat::zeros(rows, k),
            coeff: Mat::zeros(block, k),
            buffer: MemBuffer::new(req),
        }
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
}
