//! The canonical form of a distributed fit's product through the C ABI
//! (feature `mpi`): `wlra_get_canonical_distributed` over a table of
//! collectives, `wlra_get_canonical_mpi` over MPI
//! (`distributed::canonical`).

use super::boundary::guarded;
use super::canonical::Destinations;
use super::mpi::guarded_comm;
use super::views::{check_layout, non_null};
use super::{handle, wlra_model};
use crate::distributed::canonical::distributed_canonical;
use crate::distributed::checks::agreed;
use crate::distributed::comm::{wlra_comm, Comm};
use crate::vocabulary::status::wlra_status;
use std::ffi::c_int;

const CALL: &str = "wlra_get_canonical_distributed";

/// The canonical form of a distributed fit's U V^T, a collective: every
/// rank of `comm` calls it with its model of the same fit. u receives this
/// rank's rows of U_c (its n_local_rows x rank, as wlra_get_factors gives
/// its rows of U), s (rank doubles) and v (n_cols x rank) the whole s and
/// V_c: the bits `wlra_get_canonical` gives on the single-process fit of
/// the same problem. Any of u, s, v may be NULL. Every rank returns the
/// same status: WLRA_ERROR_NOT_FITTED before a fit, INVALID_ARGUMENT
/// where the ranks' models do not hold the rows of one fit.
///
/// # Safety
/// `model` is NULL or a live handle; `comm` a valid table; `u`, `s`, `v`
/// NULL or writable as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_canonical_distributed(
    model: *const wlra_model,
    comm: *const wlra_comm,
    u: *mut f64,
    ld_u: usize,
    s: *mut f64,
    v: *mut f64,
    ld_v: usize,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        non_null(comm, "comm")?;
        // SAFETY: non-NULL and valid for the call (the caller's contract).
        let mut comm = Comm::new(unsafe { &*comm })?;
        // SAFETY: `model` is NULL or a live handle (the contract); a shared
        // lease: BUSY during a fit. Checked on every rank before any
        // collective, and agreed.
        let source = unsafe { handle(model) }.and_then(|h| h.shared(CALL));
        let checked = source.as_ref().map_err(Clone::clone).and_then(|source| {
            check_layout(layout)?;
            let (fu, fv) = source.factors()?;
            let shape = (fu.nrows(), fv.nrows(), source.rank());
            // SAFETY: the caller's contract on u, s, v (this function's).
            let destinations =
                unsafe { Destinations::check((u, ld_u), s, (v, ld_v), layout, shape) }?;
            // A single-process fit holds U whole: rows 0.. of its own.
            let place = source
                .fitted()?
                .whole_u
                .map_or((0, fu.nrows()), |w| (w.row_offset, w.n_rows));
            Ok((destinations, place))
        });
        let (mut destinations, place) = agreed(&mut comm, checked)?;
        let source = source?;
        let (fu, fv) = source.factors()?;
        let canonical = distributed_canonical(&mut comm, place, fu, fv)?;
        destinations.write(&canonical);
        Ok(())
    })
}

/// wlra_get_canonical_distributed over MPI (`comm_f` as in wlra_fit_mpi).
///
/// # Safety
/// As wlra_get_canonical_distributed.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_canonical_mpi(
    model: *const wlra_model,
    comm_f: c_int,
    u: *mut f64,
    ld_u: usize,
    s: *mut f64,
    v: *mut f64,
    ld_v: usize,
    layout: i32,
) -> wlra_status {
    let mpi = match guarded_comm(model, comm_f) {
        Ok(mpi) => mpi,
        Err(status) => return status,
    };
    let table = mpi.table();
    // SAFETY: the table lives for the call; the rest is the caller's.
    unsafe { wlra_get_canonical_distributed(model, &table, u, ld_u, s, v, ld_v, layout) }
}
