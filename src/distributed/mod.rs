//! Fits distributed over several processes (feature `mpi`, docs/mpi.md):
//! each rank holds a block of rows; the alternation exchanges factor rows
//! through a table of collectives (`comm`), with an MPI implementation
//! (`mpi`). The C entry points are in `ffi::mpi`.

pub(crate) mod canonical;
pub mod checks;
mod columns;
pub mod comm;
pub mod fit;
mod gather;
mod held_out;
mod inner_counts;
mod layout;
pub mod mpi;
mod reduced;
mod sides;
mod start;
mod unobserved;
mod warm;

use comm::wlra_traffic;
use std::cell::Cell;

thread_local! {
    static LAST_TRAFFIC: Cell<wlra_traffic> = Cell::new(wlra_traffic::default());
    static LAST_EXCHANGE: Cell<Exchange> = const { Cell::new(Exchange::None) };
}

/// How a distributed fit gives each rank its columns' data (C values as
/// WLRA_EXCHANGE_* in wlra_mpi.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// One rank: its rows are all the data.
    None = 0,
    /// M and W (or the pattern) sent to column blocks once per fit.
    ColumnBlocks = 1,
    /// Each V half-step sums the ranks' normal equations (`reduced`).
    NormalEquations = 2,
}

/// Remember the traffic of the distributed fit that just ended here.
pub fn record_traffic(traffic: wlra_traffic) {
    let _ = LAST_TRAFFIC.try_with(|t| t.set(traffic));
}

/// Remember how the distributed fit running here exchanges columns.
pub fn record_exchange(exchange: Exchange) {
    let _ = LAST_EXCHANGE.try_with(|e| e.set(exchange));
}

/// The exchange of the last distributed fit on this thread.
pub fn last_exchange() -> Exchange {
    LAST_EXCHANGE
        .try_with(|e| e.get())
        .unwrap_or(Exchange::None)
}

/// The traffic of the last distributed fit on this thread.
pub fn last_traffic() -> wlra_traffic {
    LAST_TRAFFIC.try_with(|t| t.get()).unwrap_or_default()
}
