//! Every row's and column's weight sum on every rank, and what `wlra_fit`
//! does with the zero ones at the end of every fit
//! (`outer::unobserved`): their factor rows at the minimum-norm 0.

use super::checks::agreed;
use super::comm::{Comm, Phase};
use super::gather::gather_rows;
use super::layout::Layout;
use super::reduced::sum_at_owners;
use crate::error::Result;
use crate::memory::try_from_fn;
use crate::outer::unobserved::{may_have_unobserved, zero_rows};
use crate::outer::WeightSums;
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::Problem;
use faer::Mat;

/// The sums whole on every rank: each rank sums its rows, and its column
/// block's columns (whole columns, so one process's sums), or, where the
/// V half-steps sum normal equations (`reduced`), its rows' part of every
/// column, added at the owners in the ranks' row order; one allgatherv
/// per side brings them all.
pub(super) fn whole_weight_sums(
    comm: &mut Comm<'_>,
    layout: &Layout,
    (rows, cols, reduced): (&Problem<'_>, Option<Problem<'_>>, bool),
) -> Result<WeightSums> {
    comm.set_phase(Phase::Setup);
    let as_column = |sums: Vec<f64>| try_from_fn(sums.len(), 1, |i, _| sums[i], "weight sums");
    let local_rows = agreed(comm, row_weight_sums(rows).and_then(as_column))?;
    let local_cols = match (cols, reduced) {
        (_, true) => {
            let parts = agreed(
                comm,
                row_weight_sums(&rows.transposed()).and_then(as_column),
            )?;
            Ok(sum_at_owners(comm, layout, parts.as_ref())?)
        }
        (Some(cols), false) => row_weight_sums(&cols).and_then(as_column),
        (None, false) => Ok(Mat::zeros(0, 1)),
    };
    let local_cols = agreed(comm, local_cols)?;
    let rows = gather_rows(comm, &local_rows, &layout.offsets, &layout.counts)?;
    let cols = gather_rows(comm, &local_cols, &layout.col_starts, &layout.col_counts)?;
    Ok(WeightSums {
        rows: rows.col(0).iter().copied().collect(),
        cols: cols.col(0).iter().copied().collect(),
    })
}

/// The number of rows and columns without a positive weight
/// (`WLRA_INFO_ZERO_WEIGHT_LINES`), and, where `zero` (a fit that ran),
/// the whole factors' rows (U) and columns (V) among them set to 0 but
/// for the offsets' pinned columns, as `wlra_fit` ends a fit; whether any
/// entry changed. Both the same on every rank: the factors and sums are.
/// Skipped where no row can lack a weight, as there.
pub(super) fn zero_unobserved(
    comm: &mut Comm<'_>,
    layout: &Layout,
    problems: (&Problem<'_>, Option<Problem<'_>>, bool),
    (u, v): (&mut Mat<f64>, &mut Mat<f64>),
    (pinned, zero): ((Option<usize>, Option<usize>), bool),
) -> Result<(usize, bool)> {
    if !may_have_unobserved(problems.0) {
        return Ok((0, false));
    }
    let sums = whole_weight_sums(comm, layout, problems)?;
    let lines = [&sums.rows, &sums.cols]
        .iter()
        .map(|s| s.iter().filter(|&&x| x <= 0.0).count())
        .sum();
    if !zero {
        return Ok((lines, false));
    }
    let changed = zero_rows(u, &sums.rows, pinned.0);
    Ok((lines, zero_rows(v, &sums.cols, pinned.1) || changed))
}
