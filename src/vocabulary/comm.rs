//! The reduction operations of a distributed fit's communication table
//! (`wlra_comm`). Their header is include/wlra_mpi.h, written by hand, so
//! this module stays out of wlra.h.

/// `allreduce_f64`'s `op`: the sum of the ranks' values.
pub const WLRA_COMM_SUM: i32 = 0;
/// `allreduce_f64`'s `op`: the largest of the ranks' values.
pub const WLRA_COMM_MAX: i32 = 1;
