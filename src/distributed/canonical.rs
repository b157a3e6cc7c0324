//! The canonical form of a distributed fit's product (`wlra_get_canonical_mpi`):
//! every rank's rows of U gathered whole (two allgathervs: the rows' place,
//! then the rows), `crate::canonical::canonical_form` on the whole factors,
//! the same bits on every rank and as `wlra_get_canonical` of the single
//! process's fit; each rank keeps its rows of U_c. Memory: the whole U and
//! U_c (2 n k doubles) on every rank for the call, as the fit held them.

use super::checks::agreed;
use super::comm::{Comm, Phase};
use crate::canonical::{canonical_form, Canonical};
use crate::error::{invalid, Result};
use crate::memory::{try_collect, try_filled, try_from_fn};
use faer::{Mat, MatRef};

/// Where each rank's rows sit: (offset, count) per rank, checked to tile
/// 0..n_rows exactly (the same on every rank).
fn row_places(
    comm: &mut Comm<'_>,
    offset: usize,
    n_local: usize,
    n_rows: usize,
) -> Result<Vec<(usize, usize)>> {
    let all = comm.allgatherv(&[offset as f64, n_local as f64], &vec![2; comm.size])?;
    let places: Vec<(usize, usize)> = all
        .chunks_exact(2)
        .map(|p| (p[0] as usize, p[1] as usize))
        .collect();
    let mut sorted = places.clone();
    sorted.sort_unstable();
    let mut next = 0;
    for &(start, count) in &sorted {
        if start != next {
            return Err(invalid(format!(
                "the ranks' rows of U do not tile the {n_rows} rows (a block starts at {start}, \
                 after row {next}): each rank's model must hold its own rows of one distributed fit"
            )));
        }
        next = start + count;
    }
    if next != n_rows {
        return Err(invalid(format!(
            "the ranks' models hold {next} rows of U, not the fit's {n_rows}"
        )));
    }
    Ok(places)
}

/// The canonical form of U V^T, where `u_local` holds rows offset.. of
/// the n_rows of U and `v` all of V: this rank's rows of U_c, and s and
/// V_c whole. A collective: every rank calls it; a failure on any rank
/// (its rows' place, memory) is every rank's status.
pub fn distributed_canonical(
    comm: &mut Comm<'_>,
    (offset, n_rows): (usize, usize),
    u_local: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
) -> Result<Canonical> {
    comm.set_phase(Phase::Setup);
    let (n_local, k) = u_local.shape();
    let places = row_places(comm, offset, n_local, n_rows);
    let places = agreed(comm, places)?;
    let rows = try_collect(
        (0..n_local * k).map(|e| u_local[(e / k, e % k)]),
        "U's rows to send",
    );
    let rows = agreed(comm, rows)?;
    let counts: Vec<usize> = places.iter().map(|&(_, count)| count * k).collect();
    let gathered = comm.allgatherv(&rows, &counts)?;
    let whole = whole_u(&gathered, &places, (n_rows, k));
    let canonical = agreed(comm, whole.and_then(|u| canonical_form(u.as_ref(), v)))?;
    let u = try_from_fn(
        n_local,
        k,
        |i, d| canonical.u[(offset + i, d)],
        "this rank's rows of U_c",
    );
    Ok(Canonical {
        u: agreed(comm, u)?,
        ..canonical
    })
}

/// U (n_rows x k) from the ranks' rows, gathered in rank order, each
/// rank's placed at its offset.
fn whole_u(
    gathered: &[f64],
    places: &[(usize, usize)],
    (n_rows, k): (usize, usize),
) -> Result<Mat<f64>> {
    let mut row_of = try_filled(n_rows, 0usize, "the gathered rows' order")?;
    let mut next = 0;
    for &(start, count) in places {
        for r in 0..count {
            row_of[start + r] = next + r;
        }
        next += count;
    }
    try_from_fn(n_rows, k, |i, d| gathered[row_of[i] * k + d], "the whole U")
}
