//! The randomized SVD start of a distributed fit (WLRA_INIT_SVD): the
//! single-process range finder (`init::svd_start`) with each product of
//! W o M computed on this rank's rows (A X) or its column block (A^T X) and
//! gathered whole, so every rank runs the orthonormalizations and the small
//! SVD on the same bits. Traffic: (n + m) l doubles gathered per power
//! iteration, l = k + 10 (counted as setup); memory: the n x l and m x l
//! blocks whole, as the factors are. Where the V half-steps sum normal
//! equations (`reduced`), A^T X is summed the same way: not bit for bit.

use super::checks::agreed;
use super::comm::{Comm, Phase};
use super::gather::gather_rows;
use super::layout::Layout;
use super::reduced::sum_at_owners;
use crate::error::Result;
use crate::init::{svd_start, Factors, RangeProducts};
use crate::problem::Problem;
use faer::Mat;

/// The products, local then gathered, with a failure on any rank agreed
/// before the gather that would wait on it.
struct GatheredProducts<'c, 'a> {
    comm: &'c mut Comm<'a>,
    layout: &'c Layout,
    rows: &'c Problem<'c>,
    /// None where this rank holds no columns.
    cols: Option<&'c Problem<'c>>,
    /// Whether A^T X is summed over the ranks' rows instead (`reduced`).
    reduced: bool,
    pool: &'c rayon::ThreadPool,
}

impl RangeProducts for GatheredProducts<'_, '_> {
    fn times(&mut self, x: &Mat<f64>) -> Result<Mat<f64>> {
        let local = self
            .pool
            .install(|| self.rows.weighted_data_times(x.as_ref()));
        let local = agreed(self.comm, local)?;
        gather_rows(self.comm, &local, &self.layout.offsets, &self.layout.counts)
    }

    fn transposed_times(&mut self, x: &Mat<f64>) -> Result<Mat<f64>> {
        if self.reduced {
            // A^T X = sum over ranks of A_r^T X_r, summed at the owners.
            let (offset, n_local) = (self.layout.offsets[self.comm.rank], self.rows.n_rows());
            let x_rows = x.as_ref().subrows(offset, n_local);
            let columns = self.rows.transposed();
            let local = self.pool.install(|| columns.weighted_data_times(x_rows));
            let local = agreed(self.comm, local)?;
            let owned = sum_at_owners(self.comm, self.layout, local.as_ref())?;
            let (starts, counts) = (&self.layout.col_starts, &self.layout.col_counts);
            return gather_rows(self.comm, &owned, starts, counts);
        }
        let local = match self.cols {
            Some(cols) => self.pool.install(|| cols.weighted_data_times(x.as_ref())),
            None => Ok(Mat::zeros(0, x.ncols())),
        };
        let local = agreed(self.comm, local)?;
        let (starts, counts) = (&self.layout.col_starts, &self.layout.col_counts);
        gather_rows(self.comm, &local, starts, counts)
    }
}

/// `init::svd_factors` of the global problem, whole on every rank.
pub(super) fn svd_factors(
    comm: &mut Comm<'_>,
    layout: &Layout,
    (rows, cols, reduced): (&Problem<'_>, Option<&Problem<'_>>, bool),
    (n, m, k, seed): (usize, usize, usize, u64),
    pool: &rayon::ThreadPool,
) -> Result<Factors> {
    comm.set_phase(Phase::Setup);
    let mut products = GatheredProducts {
        comm,
        layout,
        rows,
        cols,
        reduced,
        pool,
    };
    svd_start(n, m, k, seed, &mut products)
}
