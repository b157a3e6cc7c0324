//! Fits distributed over several processes (feature `mpi`, docs/mpi.md):
//! each rank holds a block of rows; the alternation exchanges factor rows
//! through a table of collectives (`comm`), with an MPI implementation
//! (`mpi`). The C entry points are in `ffi::mpi`.

pub mod checks;
mod columns;
pub mod comm;
pub mod fit;
mod layout;
pub mod mpi;
mod start;

use comm::wlra_traffic;
use std::cell::Cell;

thread_local! {
    static LAST_TRAFFIC: Cell<wlra_traffic> = Cell::new(wlra_traffic::default());
}

/// Remember the traffic of the distributed fit that just ended here.
pub fn record_traffic(traffic: wlra_traffic) {
    let _ = LAST_TRAFFIC.try_with(|t| t.set(traffic));
}

/// The traffic of the last distributed fit on this thread.
pub fn last_traffic() -> wlra_traffic {
    LAST_TRAFFIC.try_with(|t| t.get()).unwrap_or_default()
}
