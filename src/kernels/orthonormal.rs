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
    let (n, k) = a.shape();
    assert!(n >= k, "orthonormal_basis needs a tall matrix");
    if k == 0 {
        return Mat::zeros(n, 0);
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
    q
}
