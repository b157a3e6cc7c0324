//! What every half-step does with one row, written once: gather the row's
//! weighted design, test whether its normal equations may be singular, and
//! solve them exactly (minimum norm when singular). The dense and sparse
//! solvers form a row's Gram in their own ways; from there on it is this.

use crate::error::Result;
use crate::kernels::spd_solve::SpdSolver;
use crate::memory::{try_filled, try_reserve, try_zeros};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// Whether a row's normal equations may be singular: fewer positive weights
/// than the rank k, and nothing else (a ridge, a base system shared by all
/// rows) to make them definite. Only the exact path gives such a row its
/// minimum-norm solution; iterative solvers send it there.
pub fn may_be_singular(positive_weights: usize, k: usize, definite_base: bool) -> bool {
    !definite_base && positive_weights < k
}

/// Factor the Gram the caller left in `spd.gram_mut()` and solve for the
/// right-hand side in `x`, in place: Cholesky, or the minimum-norm solution
/// when the Gram is singular. NaN when the Gram is not finite (then no
/// factorization exists); returns whether it solved.
pub fn solve_normal_equations(spd: &mut SpdSolver, x: &mut [f64]) -> bool {
    if spd.factor() {
        spd.solve(x);
        true
    } else {
        x.iter_mut().for_each(|v| *v = f64::NAN);
        false
    }
}

/// A row's weighted design A = [D_sqrt(w) Y over its positive weights;
/// sqrt(ridge) I] and b = [sqrt(w) o m; 0], gathered into buffers allocated
/// once per thread for designs of at most `rows` rows.
pub struct WeightedDesign {
    design: Mat<f64>,
    rhs: Vec<f64>,
    /// (column, sqrt weight) of the row's positive weights.
    kept: Vec<(usize, f64)>,
}

impl WeightedDesign {
    /// Reserved fallibly: the design is rows x k doubles.
    pub fn new(rows: usize, k: usize) -> Result<Self> {
        let what = "a row's weighted design";
        let mut kept = Vec::new();
        // Room for every positive weight of a row, so `gather` never grows it.
        try_reserve(&mut kept, rows, what)?;
        Ok(WeightedDesign {
            design: try_zeros(rows.max(k), k, what)?,
            rhs: try_filled(rows.max(k), 0.0, what)?,
            kept,
        })
    }

    /// Gather the design of the row whose entries are (column j, weight,
    /// value), against the fixed factor `y` (row j is y_j, any strides);
    /// returns A's row count. Memory traffic: one pass over the entries and
    /// over the rows of Y they pick.
    pub fn gather(
        &mut self,
        entries: impl Iterator<Item = (usize, f64, f64)>,
        y: MatRef<'_, f64>,
        ridge: f64,
    ) -> usize {
        let k = y.ncols();
        self.kept.clear();
        let mut count = 0;
        for (j, w, m) in entries {
            if w > 0.0 {
                let sw = w.sqrt();
                self.kept.push((j, sw));
                self.rhs[count] = sw * m;
                count += 1;
            }
        }
        // Column by column: the design is column-major.
        for d in 0..k {
            let column = y.col(d);
            let mut dst = self.design.as_mut().col_mut(d);
            for (c, &(j, sw)) in self.kept.iter().enumerate() {
                dst[c] = sw * column[j];
            }
        }
        if ridge > 0.0 {
            let sr = ridge.sqrt();
            for i in 0..k {
                for d in 0..k {
                    self.design[(count + i, d)] = if i == d { sr } else { 0.0 };
                }
                self.rhs[count + i] = 0.0;
            }
            count += k;
        }
        count
    }

    /// Positive weights of the row last gathered.
    pub fn positive_weights(&self) -> usize {
        self.kept.len()
    }

    /// The first `count` rows of A, as gathered.
    pub fn a(&self, count: usize) -> MatRef<'_, f64> {
        self.design.as_ref().subrows(0, count)
    }

    /// The first `count` entries of b, as a column.
    pub fn b(&self, count: usize) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.rhs[..count], count, 1)
    }

    /// The row's exact (minimum-norm) solution from the gathered design:
    /// A^T A x = A^T b. Flops: 2 count k^2 + the solve.
    pub fn solve_exactly(&self, count: usize, spd: &mut SpdSolver, x: &mut [f64]) {
        let a = self.a(count);
        let mut g = spd.gram_mut();
        matmul(g.as_mut(), Accum::Replace, a.transpose(), a, 1.0, Par::Seq);
        for (d, xd) in x.iter_mut().enumerate() {
            *xd = (0..count).map(|j| a[(j, d)] * self.rhs[j]).sum();
        }
        solve_normal_equations(spd, x);
    }
}
