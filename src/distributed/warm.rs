//! WLRA_INIT_WARM across ranks: the last distributed fit's factors, U
//! gathered whole from every rank's rows, so the fit continues from where
//! `wlra_fit` would continue its own last fit; the SVD start where any
//! rank has no last fit of this shape, as `wlra_fit` falls back.

use super::checks::{agreed, RowBlock};
use super::comm::{Comm, Phase};
use super::gather::gather_rows;
use super::layout::{digest, Layout};
use crate::error::{invalid, Result};
use crate::init::Factors;
use crate::memory::try_copy;

/// The whole warm start, or None where some rank's last fit does not fit
/// this problem (every rank then takes the SVD start). `last`: this rank's
/// last fit's factors, with this fit's offsets (`crate::warm`); `width`:
/// their columns, the rank plus the offsets'.
pub(super) fn whole_warm_start(
    comm: &mut Comm<'_>,
    layout: &Layout,
    block: &RowBlock,
    width: usize,
    last: Option<&Factors>,
) -> Result<Option<Factors>> {
    let usable = last.filter(|f| {
        (f.u.nrows(), f.v.nrows()) == (block.n_local, block.n_cols)
            && (f.u.ncols(), f.v.ncols()) == (width, width)
    });
    comm.set_phase(Phase::Setup);
    let mut missing = [if usable.is_some() { 0.0 } else { 1.0 }];
    comm.max(&mut missing)?;
    let Some(last) = usable.filter(|_| missing[0] == 0.0) else {
        return Ok(None);
    };
    // V is whole and the same bits on every rank after a distributed fit;
    // anything else was not one fit of this problem. Every rank sees every
    // digest, so every rank decides the same.
    let mine = digest(&[&last.v]);
    let all = comm.allgatherv(&[f64::from_bits(mine)], &vec![1; comm.size])?;
    if all.iter().any(|d| d.to_bits() != mine) {
        return Err(invalid(
            "WLRA_INIT_WARM: the ranks' last fits have different V (n_cols x rank); a warm \
             distributed fit continues one distributed fit of the same problem on every rank",
        ));
    }
    let v = agreed(comm, try_copy(last.v.as_ref(), "the warm start's V"))?;
    let u = gather_rows(comm, &last.u, &layout.offsets, &layout.counts)?;
    Ok(Some(Factors { u, v }))
}
