//! How the driver sees M and W: dense views of the caller's memory, or a
//! sparse pattern with constant values outside it. The driver and solvers
//! read the data only through `Problem`.

pub(crate) mod checks;
mod dense;
// The distributed objective's per-row sums (`crate::distributed`).
#[cfg(feature = "mpi")]
pub(crate) mod row_residuals;
pub mod sparse;
mod unweighted;
pub(crate) mod weight_sums;

pub use dense::DenseProblem;
pub use sparse::{SparseProblem, SparseView};

use crate::error::Result;
use crate::kernels::blocking::current_par;
use crate::kernels::workspaces::Workspaces;
use crate::scaling::Scale;
use faer::{Mat, MatRef};

/// A problem as the driver and the solvers see it.
#[derive(Clone, Copy)]
pub enum Problem<'a> {
    Dense(DenseProblem<'a>),
    Sparse(SparseView<'a>),
}

impl<'a> Problem<'a> {
    pub fn n_rows(&self) -> usize {
        match self {
            Problem::Dense(d) => d.n_rows(),
            Problem::Sparse(s) => s.n_rows(),
        }
    }

    pub fn n_cols(&self) -> usize {
        match self {
            Problem::Dense(d) => d.n_cols(),
            Problem::Sparse(s) => s.n_cols(),
        }
    }

    /// How the values the solvers see relate to the caller's
    /// (`crate::scaling`).
    pub(crate) fn scale(&self) -> Scale {
        match self {
            Problem::Dense(d) => d.scale(),
            Problem::Sparse(s) => s.scale(),
        }
    }

    /// The problem as the fit reads it: dense input gets the scale its
    /// largest magnitudes call for (one pass over W and M); sparse input
    /// was scaled when it was built.
    pub(crate) fn normalized(&self) -> Problem<'a> {
        match self {
            Problem::Dense(d) => Problem::Dense(d.normalized()),
            Problem::Sparse(s) => Problem::Sparse(*s),
        }
    }

    /// The same problem seen from the other side (for the V half-step).
    pub fn transposed(&self) -> Problem<'a> {
        match self {
            Problem::Dense(d) => Problem::Dense(d.transposed()),
            Problem::Sparse(s) => Problem::Sparse(s.transposed()),
        }
    }

    /// The problem with s_j (one per column, the solvers' units)
    /// subtracted from every M[i, j] the solvers read: a half-step with
    /// offsets (`crate::offsets`). Sparse input reads its pattern's values
    /// from `shifted` (`SparseView::shifted_values`); dense input ignores it.
    pub(crate) fn with_column_shift<'s>(&self, shift: &'s [f64], shifted: &'s [f64]) -> Problem<'s>
    where
        'a: 's,
    {
        match self {
            Problem::Dense(d) => Problem::Dense(d.with_column_shift(shift)),
            Problem::Sparse(s) => Problem::Sparse(s.with_column_shift(shift, shifted)),
        }
    }

    /// The dense form, for the solvers that only take dense input; the
    /// solver table never hands them a sparse problem.
    pub(crate) fn dense(&self) -> &DenseProblem<'a> {
        match self {
            Problem::Dense(d) => d,
            Problem::Sparse(_) => panic!("a dense-only solver was given sparse input"),
        }
    }

    /// The sparse form, for the solvers that only take sparse input; the
    /// solver table never hands them a dense problem.
    pub(crate) fn sparse(&self) -> &SparseView<'a> {
        match self {
            Problem::Sparse(s) => s,
            Problem::Dense(_) => panic!("a sparse-only solver was given dense input"),
        }
    }

    /// (W o M) x in the solvers' units, on the current rayon pool (`blocking::current_par`).
    pub fn weighted_data_times(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let par = current_par();
        match self {
            Problem::Dense(d) => d.weighted_data_times(x, par),
            Problem::Sparse(s) => s.weighted_data_times(x, par),
        }
    }

    /// sum_ij W_ij (M_ij - (U V^T)_ij)^2 in the solvers' units (times
    /// 2^-(weight + 2 value) of `scale`), on the current rayon pool, its
    /// buffers kept in `scratch` for the next evaluation.
    pub(crate) fn weighted_residual(
        &self,
        u: MatRef<'_, f64>,
        v: MatRef<'_, f64>,
        scratch: &mut ResidualScratch,
    ) -> Result<f64> {
        let par = current_par();
        match self {
            Problem::Dense(d) => d.weighted_residual(u, v, par, &scratch.blocks),
            Problem::Sparse(s) => s.weighted_residual(u, v, par, scratch),
        }
    }
}

/// The objective's buffers, kept by a fit from one evaluation to the next
/// (issue 29): per thread a block of the dense residual or a sparse row's
/// fitted values, U's and V's rows for the sparse pattern's dots, and the
/// sparse row blocks' partial sums.
#[derive(Default)]
pub(crate) struct ResidualScratch {
    /// Dense: a (rows, columns) block of residuals per thread.
    pub(crate) blocks: Workspaces<(usize, usize), Mat<f64>>,
    /// Sparse: a row's fitted values per thread, for rows of up to the key.
    pub(crate) fitted: Workspaces<usize, Vec<f64>>,
    pub(crate) u_rows: Vec<f64>,
    pub(crate) v_rows: Vec<f64>,
    /// Sparse: each row block's partial sum, in block order.
    pub(crate) block_sums: Vec<Result<f64>>,
}

impl<'a> From<DenseProblem<'a>> for Problem<'a> {
    fn from(d: DenseProblem<'a>) -> Self {
        Problem::Dense(d)
    }
}

impl<'a> From<&DenseProblem<'a>> for Problem<'a> {
    fn from(d: &DenseProblem<'a>) -> Self {
        Problem::Dense(*d)
    }
}

impl<'a> From<SparseView<'a>> for Problem<'a> {
    fn from(s: SparseView<'a>) -> Self {
        Problem::Sparse(s)
    }
}
