//! Solve one small symmetric positive semi-definite system G x = b, the
//! normal equations of one row's weighted regression.
//!
//! Cholesky when G is safely positive definite (k^3/3 flops); otherwise the
//! minimum-norm least-squares solution through a symmetric eigendecomposition
//! (about 9 k^3 flops), so singular rows (all-zero weights, fewer than k
//! non-zero weights) still get finite factors.

use crate::error::Result;
use crate::memory::{try_buffer, try_filled, try_from_fn, try_zeros};
use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt;
use faer::linalg::evd;
use faer::{Conj, Mat, MatMut, MatRef, Par};

// How ill-conditioned is too ill-conditioned: every such cut-off of the
// library is here, each on the pivot ratio of a triangular factor (largest
// over smallest |diagonal entry|, `pivot_ratio`), a cheap lower bound on its
// condition number. They differ because they guard different things.

/// Row Grams G (normal equations): Cholesky is trusted while the pivot
/// ratio squared, a lower bound on cond(G), stays below this. Its solution
/// then keeps about 16 - 10 = 6 digits before refinement; beyond it the
/// minimum-norm solution through the eigendecomposition takes over, which
/// stays bounded on nearly singular rows (fewer weights than k).
const MAX_CHOLESKY_CONDITION: f64 = 1e10;
/// Beyond this pivot ratio squared (a lower bound on cond(G)), one step of
/// iterative refinement on the least-squares residual recovers the digits
/// that forming G lost (cond(A)^2 instead of cond(A)).
const REFINE_CONDITION: f64 = 1e2;
/// Eigenvalues below this fraction of the largest count as zero in the
/// minimum-norm solve: 1e-12 = cond(G) of 1e12, where f64 Grams have four
/// digits left.
const EIGEN_CUTOFF: f64 = 1e-12;
/// CholeskyQR2 (kernels::orthonormal) on a tall a: its Q is orthonormal to
/// rounding only while cond(a) stays below about eps^(-1/2) = 1e8 (Yamamoto
/// et al. 2015); above 1e6, a margin of 100, Householder QR runs instead.
pub(crate) const CHOLESKY_QR_MAX_PIVOT_RATIO: f64 = 1e6;

/// Whether a Cholesky factor of a row Gram with this pivot ratio (largest
/// over smallest pivot) is trusted, or the minimum-norm solve should run.
pub fn cholesky_trusted(pivot_ratio: f64) -> bool {
    pivot_ratio.powi(2) <= MAX_CHOLESKY_CONDITION
}

/// Per-thread scratch for `solve`, allocated once and reused across rows.
pub struct SpdSolver {
    factor: Mat<f64>,
    gram_copy: Mat<f64>,
    use_eigen: bool,
    eigvecs: Mat<f64>,
    eigvals: Mat<f64>,
    projected: Vec<f64>,
    buffer: MemBuffer,
}

impl SpdSolver {
    /// Reserved fallibly: at large k these are 3 k^2 doubles per thread.
    pub fn new(k: usize) -> Result<Self> {
        let req = StackReq::any_of(&[
            llt::factor::cholesky_in_place_scratch::<f64>(k, Par::Seq, Default::default()),
            llt::solve::solve_in_place_scratch::<f64>(k, 1, Par::Seq),
            evd::self_adjoint_evd_scratch::<f64>(
                k,
                evd::ComputeEigenvectors::Yes,
                Par::Seq,
                Default::default(),
            ),
        ]);
        let what = "a row solve's k x k scratch";
        Ok(SpdSolver {
            factor: try_zeros(k, k, what)?,
            gram_copy: try_zeros(k, k, what)?,
            use_eigen: false,
            eigvecs: try_zeros(k, k, what)?,
            eigvals: try_zeros(k, 1, what)?,
            projected: try_filled(k, 0.0, what)?,
            buffer: try_buffer(req, "the scratch of a row's Cholesky and eigensolver")?,
        })
    }

    /// Workspace matrix for the caller to fill with G before `factor`.
    pub fn gram_mut(&mut self) -> MatMut<'_, f64> {
        self.factor.as_mut()
    }

    /// Factor G as left by `gram_mut`: Cholesky when G is safely positive
    /// definite, else a symmetric eigendecomposition for the minimum-norm
    /// solution. Returns false only when both fail (non-finite G).
    pub fn factor(&mut self) -> bool {
        let k = self.factor.nrows();
        self.use_eigen = false;
        if k == 0 {
            return true;
        }
        // Cholesky overwrites G; keep a copy for the fallback.
        self.gram_copy.copy_from(&self.factor);
        let factored = llt::factor::cholesky_in_place(
            self.factor.as_mut(),
            Default::default(),
            Par::Seq,
            MemStack::new(&mut self.buffer),
            Default::default(),
        );
        if factored.is_ok() && self.well_conditioned() {
            return true;
        }
        self.use_eigen = true;
        self.factor_eigen()
    }

    /// Solve with the last factorization, in place (`x` holds b on entry).
    pub fn solve(&mut self, x: &mut [f64]) {
        let k = self.factor.nrows();
        if k == 0 {
            return;
        }
        if self.use_eigen {
            self.solve_minimum_norm(x);
            return;
        }
        let rhs = MatMut::from_column_major_slice_mut(x, k, 1);
        llt::solve::solve_in_place_with_conj(
            self.factor.as_ref(),
            Conj::No,
            rhs,
            Par::Seq,
            MemStack::new(&mut self.buffer),
        );
    }

    /// (largest / smallest Cholesky pivot)^2, a cheap lower bound on cond(G).
    fn pivot_ratio_squared(&self) -> f64 {
        pivot_ratio(self.factor.as_ref()).powi(2)
    }

    fn well_conditioned(&self) -> bool {
        cholesky_trusted(pivot_ratio(self.factor.as_ref()))
    }

    /// Whether the last factorization is ill-conditioned enough that the
    /// solution should be refined against the original least-squares problem.
    pub fn needs_refinement(&self) -> bool {
        self.factor.nrows() > 0 && (self.use_eigen || self.pivot_ratio_squared() > REFINE_CONDITION)
    }

    /// G = Q diag(lambda) Q^T, for x = pinv(G) b.
    fn factor_eigen(&mut self) -> bool {
        let result = evd::self_adjoint_evd(
            self.gram_copy.as_ref(),
            self.eigvals.as_mut().col_mut(0).as_diagonal_mut(),
            Some(self.eigvecs.as_mut()),
            Par::Seq,
            MemStack::new(&mut self.buffer),
            Default::default(),
        );
        result.is_ok()
    }

    /// x = pinv(G) b, dropping eigenvalues below EIGEN_CUTOFF * the largest.
    fn solve_minimum_norm(&mut self, x: &mut [f64]) {
        let k = self.eigvecs.nrows();
        let largest = (0..k).map(|i| self.eigvals[(i, 0)]).fold(0.0f64, f64::max);
        let cutoff = largest * EIGEN_CUTOFF;
        for (i, proj) in self.projected.iter_mut().enumerate() {
            let lambda = self.eigvals[(i, 0)];
            *proj = if largest > 0.0 && lambda > cutoff {
                let qi = self.eigvecs.col(i);
                (0..k).map(|r| qi[r] * x[r]).sum::<f64>() / lambda
            } else {
                0.0
            };
        }
        for (r, xr) in x.iter_mut().enumerate() {
            *xr = (0..k)
                .map(|i| self.eigvecs[(r, i)] * self.projected[i])
                .sum();
        }
    }
}

/// A triangular preconditioner R (the iterative solvers' R_i) with a pivot
/// ratio (a lower bound on cond(R)) beyond this is treated as singular: A R^-1 would then be
/// conditioned no better than A itself to working precision (1e12 leaves
/// four digits of f64), so the row takes the exact minimum-norm path.
const MAX_PRECONDITIONER_PIVOT_RATIO: f64 = 1e12;

/// Whether R's pivots are all safely non-zero (relative to the largest),
/// so R can serve as a right preconditioner.
pub fn full_rank(r: MatRef<'_, f64>) -> bool {
    pivot_ratio(r) < MAX_PRECONDITIONER_PIVOT_RATIO
}

/// Largest over smallest |diagonal entry| of a triangular factor (a lower
/// bound on its condition number); infinite when a pivot is zero or not
/// finite.
pub fn pivot_ratio(r: MatRef<'_, f64>) -> f64 {
    let pivots = (0..r.nrows()).map(|i| r[(i, i)].abs());
    let (lo, hi) = pivots.fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        if p.is_finite() {
            (lo.min(p), hi.max(p))
        } else {
            (0.0, hi)
        }
    });
    if lo > 0.0 {
        hi / lo
    } else {
        f64::INFINITY
    }
}

/// The upper Cholesky factor R (G = R^T R) of a symmetric positive definite
/// matrix, sequentially; None when G is not positive definite. k^3/3 flops.
pub fn cholesky_upper(g: faer::MatRef<'_, f64>) -> Result<Option<Mat<f64>>> {
    let mut scratch = CholeskyScratch::new(g.nrows())?;
    scratch.gram_mut().copy_from(g);
    scratch.upper_factor()
}

/// The buffers of repeated k x k Cholesky factorizations, allocated once
/// per thread: the matrix to factor and faer's scratch.
pub struct CholeskyScratch {
    l: Mat<f64>,
    buffer: MemBuffer,
}

impl CholeskyScratch {
    pub fn new(k: usize) -> Result<Self> {
        let req = llt::factor::cholesky_in_place_scratch::<f64>(k, Par::Seq, Default::default());
        Ok(CholeskyScratch {
            l: try_zeros(k, k, "a k x k Cholesky factor")?,
            buffer: try_buffer(req, "the scratch of a k x k Cholesky factorization")?,
        })
    }

    /// Where the caller puts G before `upper_factor`.
    pub fn gram_mut(&mut self) -> MatMut<'_, f64> {
        self.l.as_mut()
    }

    /// `cholesky_upper` of the G left by `gram_mut` (overwriting it).
    pub fn upper_factor(&mut self) -> Result<Option<Mat<f64>>> {
        let k = self.l.nrows();
        let factored = llt::factor::cholesky_in_place(
            self.l.as_mut(),
            Default::default(),
            Par::Seq,
            MemStack::new(&mut self.buffer),
            Default::default(),
        );
        if factored.is_err() {
            return Ok(None);
        }
        let l = &self.l;
        let upper = |i: usize, j: usize| if i <= j { l[(j, i)] } else { 0.0 };
        try_from_fn(k, k, upper, "a k x k Cholesky factor").map(Some)
    }
}
