//! Starting factors: the top-k singular subspace of W o M by a randomized
//! range finder (no full SVD, no n x m temporary), or seeded Gaussians.

use crate::kernels::orthonormal::orthonormal_basis;
use crate::problem::Problem;
use crate::rng::{fill_gaussian, stream, Purpose};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::matmul::matmul;
use faer::linalg::svd::{self, ComputeSvdVectors};
use faer::{Accum, Mat, Par};

/// Extra columns beyond k in the range finder: the usual margin that makes
/// the captured subspace accurate with high probability.
const OVERSAMPLING: usize = 10;
/// Subspace (power) iterations: each sharpens the subspace by the ratio of
/// singular values l+1 and k.
const POWER_ITERATIONS: usize = 4;

pub struct Factors {
    pub u: Mat<f64>,
    pub v: Mat<f64>,
}

fn gaussian(rows: usize, cols: usize, seed: u64, purpose: Purpose, index: u64) -> Mat<f64> {
    let mut data = vec![0.0; rows * cols];
    fill_gaussian(&mut stream(seed, purpose, index), &mut data);
    Mat::from_fn(rows, cols, |i, j| data[j * rows + i])
}

/// Gaussian U and V with entries of variance 1/rows, so U V^T starts at the
/// scale of a unit matrix whatever the shape.
pub fn random_factors(n: usize, m: usize, k: usize, seed: u64) -> Factors {
    let mut u = gaussian(n, k, seed, Purpose::RandomInit, 0);
    let mut v = gaussian(m, k, seed, Purpose::RandomInit, 1);
    u *= faer::Scale(1.0 / (n as f64).sqrt());
    v *= faer::Scale(1.0 / (m as f64).sqrt());
    Factors { u, v }
}

/// U = left singular vectors times singular values, V = right singular
/// vectors, of the best rank-k approximation of W o M (approximately).
/// Flops: about 2 (2q + 2) n m (k + 10) for the products, q = 4.
pub fn svd_factors(problem: &Problem<'_>, k: usize, seed: u64) -> Factors {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let width = (k + OVERSAMPLING).min(n).min(m);
    let transposed = problem.transposed();
    let omega = gaussian(m, width, seed, Purpose::RangeFinder, 0);
    let mut q = orthonormal_basis(problem.weighted_data_times(omega.as_ref()).as_ref());
    for _ in 0..POWER_ITERATIONS {
        let z = orthonormal_basis(transposed.weighted_data_times(q.as_ref()).as_ref());
        q = orthonormal_basis(problem.weighted_data_times(z.as_ref()).as_ref());
    }
    // B = (Q^T A)^T = A^T Q (m x width); A ~ Q B^T = (Q Vb) S Ub^T.
    let b = transposed.weighted_data_times(q.as_ref());
    let mut s = Mat::<f64>::zeros(width, 1);
    let mut ub = Mat::<f64>::zeros(m, width);
    let mut vb = Mat::<f64>::zeros(width, width);
    let req = svd::svd_scratch::<f64>(
        m,
        width,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        Par::Seq,
        Default::default(),
    );
    let ok = svd::svd(
        b.as_ref(),
        s.as_mut().col_mut(0).as_diagonal_mut(),
        Some(ub.as_mut()),
        Some(vb.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(req)),
        Default::default(),
    );
    if ok.is_err() {
        // Only non-finite data makes the SVD fail, and validation rules that
        // out; a random start is still a correct (if slower) start.
        return random_factors(n, m, k, seed);
    }
    let mut order: Vec<usize> = (0..width).collect();
    order.sort_by(|&a, &b| s[(b, 0)].total_cmp(&s[(a, 0)]).then(a.cmp(&b)));
    let mut left = Mat::<f64>::zeros(n, width);
    matmul(
        left.as_mut(),
        Accum::Replace,
        q.as_ref(),
        vb.as_ref(),
        1.0,
        Par::Seq,
    );
    let u = Mat::from_fn(n, k, |i, j| left[(i, order[j])] * s[(order[j], 0)]);
    let v = Mat::from_fn(m, k, |i, j| ub[(i, order[j])]);
    Factors { u, v }
}
