//! Held-out folds in a distributed fit (WLRA_OPTION_FOLDS,
//! `crate::held_out`): an entry's fold is a hash of its global (i, j), so
//! each rank zeroes its own rows' held-out entries (dense: a masked copy of
//! its rows of W, n_local m doubles; CSR: in its own copy of the pattern,
//! after keeping those entries' values), the ranks agree that some entry
//! is held out, and after the fit each rank sums its held-out error and
//! the sums are gathered and added in the ranks' row order.

use super::checks::{agreed, LocalData};
use super::comm::{Comm, Phase};
use super::layout::Layout;
use crate::error::Result;
use crate::held_out::{
    block_sums, error_of_sums, masked_rows, nothing_held_out, Folds, HeldOutError,
};
use crate::memory::try_reserve;
use crate::problem::DenseProblem;
use faer::MatRef;

/// What the error is evaluated on after the fit.
pub(super) struct HeldOut {
    folds: Folds,
    /// CSR input: the held-out entries (local row, column, m, w), whose
    /// weights the fit's copy no longer holds. Dense input reads the
    /// caller's M and W.
    sparse_entries: Vec<(usize, usize, f64, f64)>,
}

/// Zero this rank's held-out entries in what the fit reads, and agree that
/// some rank holds one out (every rank returns the same error if none).
pub(super) fn hold_out(
    comm: &mut Comm<'_>,
    data: &mut LocalData<'_>,
    folds: Folds,
    offset: usize,
) -> Result<HeldOut> {
    comm.set_phase(Phase::Setup);
    let local = (|| match data {
        LocalData::Dense {
            m,
            w,
            masked,
            missing,
            ..
        } => {
            let problem = DenseProblem::new(*m, *w).with_missing_nan(*missing);
            let (copy, count) = masked_rows(&problem, &folds, offset)?;
            *masked = Some(copy);
            Ok((Vec::new(), count))
        }
        LocalData::Sparse(p) => {
            let held = |i: usize, j: usize| folds.is_held_out(offset + i, j);
            let count = p
                .entries()
                .filter(|&(i, j, _, w)| w > 0.0 && held(i, j))
                .count();
            let mut entries = Vec::new();
            try_reserve(&mut entries, count, "the held-out entries")?;
            entries.extend(p.entries().filter(|&(i, j, _, w)| w > 0.0 && held(i, j)));
            p.zero_weights_where(held);
            let count = entries.len();
            Ok((entries, count))
        }
    })();
    let (sparse_entries, count) = agreed(comm, local)?;
    let counts = comm.allgatherv(&[count as f64], &vec![1; comm.size])?;
    if counts.iter().sum::<f64>() == 0.0 {
        return Err(nothing_held_out(&folds));
    }
    Ok(HeldOut {
        folds,
        sparse_entries,
    })
}

/// The held-out error of the fitted factors (this rank's rows of U, and
/// V whole): each rank's sums gathered and added in the ranks' row order.
pub(super) fn held_out_error(
    comm: &mut Comm<'_>,
    layout: &Layout,
    data: &LocalData<'_>,
    held: &HeldOut,
    (offset, u_local, v): (usize, MatRef<'_, f64>, MatRef<'_, f64>),
) -> Result<HeldOutError> {
    comm.set_phase(Phase::Objective);
    let folds = held.folds;
    let sums = match data {
        LocalData::Dense { m, w, missing, .. } => {
            let (n, cols) = (m.nrows(), m.ncols());
            // The caller's weights, 0 where M is missing.
            let problem = DenseProblem::new(*m, *w).with_missing_nan(*missing);
            let entries = (0..cols)
                .flat_map(|j| (0..n).map(move |i| (i, j)))
                .map(|(i, j)| (i, j, m[(i, j)], problem.caller_weight(i, j)))
                .filter(|&(i, j, _, w)| w > 0.0 && folds.is_held_out(offset + i, j));
            block_sums(entries, (u_local, v))
        }
        LocalData::Sparse(_) => block_sums(held.sparse_entries.iter().copied(), (u_local, v)),
    };
    let all = comm.allgatherv(&sums, &vec![3; comm.size])?;
    let mut total = [0.0; 3];
    for &r in &layout.by_offset {
        (0..3).for_each(|c| total[c] += all[3 * r + c]);
    }
    Ok(error_of_sums(total))
}
