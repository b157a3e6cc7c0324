//! The communication a distributed fit needs, as a table of C function
//! pointers (`wlra_comm`), so any engine (MPI, Ray's collectives,
//! torch.distributed) can drive the same solver; and `Comm`, the one place
//! the fit calls through it, which checks every call's status and counts
//! the bytes each call sends to other ranks.

use crate::error::{Error, Result};
use crate::vocabulary::comm::WLRA_COMM_MAX;
use std::ffi::c_void;

/// In-place reduction of `count` doubles over all ranks (`op`:
/// WLRA_COMM_SUM or WLRA_COMM_MAX); every rank receives the result. 0 on
/// success.
#[allow(non_camel_case_types)]
pub type wlra_allreduce_f64_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, values: *mut f64, count: usize, op: i32) -> i32,
>;

/// Every rank's `send` (`send_count` doubles) concatenated: rank r's lands
/// at `recv + displs[r]`, `recv_counts[r]` doubles. 0 on success.
#[allow(non_camel_case_types)]
pub type wlra_allgatherv_f64_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        send: *const f64,
        send_count: usize,
        recv: *mut f64,
        recv_counts: *const usize,
        displs: *const usize,
    ) -> i32,
>;

/// Personalized exchange: `send_counts[q]` doubles at `send + send_displs[q]`
/// go to rank q, which receives them at `recv + recv_displs[r]`
/// (`recv_counts[r]` doubles from rank r). 0 on success.
#[allow(non_camel_case_types)]
pub type wlra_alltoallv_f64_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        send: *const f64,
        send_counts: *const usize,
        send_displs: *const usize,
        recv: *mut f64,
        recv_counts: *const usize,
        recv_displs: *const usize,
    ) -> i32,
>;

/// How a distributed fit talks to the other ranks. Every rank passes a
/// table with the same `size` and its own `rank`; every function is a
/// collective that all ranks call in the same order.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct wlra_comm {
    pub user_data: *mut c_void,
    pub size: usize,
    pub rank: usize,
    pub allreduce_f64: wlra_allreduce_f64_fn,
    pub allgatherv_f64: wlra_allgatherv_f64_fn,
    pub alltoallv_f64: wlra_alltoallv_f64_fn,
}

/// Bytes this rank sent to other ranks during the last distributed fit on
/// this thread, by phase (`wlra_distributed_traffic`). A call's bytes are
/// its logical payload to the others, whatever algorithm the engine uses:
/// an allgatherv sends its block to each of the P - 1 others, an allreduce
/// its `count` doubles to each of them, an alltoallv what it addresses to
/// other ranks.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
#[allow(non_camel_case_types)]
pub struct wlra_traffic {
    /// The status agreement and the exchange of every rank's layout.
    pub setup_bytes: f64,
    /// M and W (or the pattern) sent to their column blocks, once per fit.
    pub redistribution_bytes: f64,
    /// Summed over the fit's U half-steps (new U rows to every rank).
    pub u_half_step_bytes: f64,
    /// Summed over the fit's V half-steps (new V rows to every rank).
    pub v_half_step_bytes: f64,
    /// Summed over the objective evaluations (per-row partial sums).
    pub objective_bytes: f64,
    /// U half-steps run (as many V half-steps ran).
    pub half_steps: f64,
    /// Objective evaluations (the start's included).
    pub objectives: f64,
    /// Seconds spent inside the table's calls (waiting for slower ranks
    /// included), for benchmarks.
    pub communication_seconds: f64,
}

/// Which field of `wlra_traffic` a call's bytes go to.
#[derive(Clone, Copy)]
pub enum Phase {
    Setup,
    Redistribution,
    UHalfStep,
    VHalfStep,
    Objective,
}

/// The table, checked once, with the byte counts of its calls.
pub struct Comm<'a> {
    table: &'a wlra_comm,
    pub size: usize,
    pub rank: usize,
    pub traffic: wlra_traffic,
    phase: Phase,
}

fn failed(call: &str, code: i32) -> Error {
    Error::Internal(format!(
        "the communication table's {call} returned {code}; the ranks may now disagree"
    ))
}

impl<'a> Comm<'a> {
    pub fn new(table: &'a wlra_comm) -> Result<Comm<'a>> {
        if table.size == 0 || table.rank >= table.size {
            return Err(Error::InvalidArgument(format!(
                "comm->rank = {} must be below comm->size = {}",
                table.rank, table.size
            )));
        }
        let missing = [
            ("allreduce_f64", table.allreduce_f64.is_none()),
            ("allgatherv_f64", table.allgatherv_f64.is_none()),
            ("alltoallv_f64", table.alltoallv_f64.is_none()),
        ];
        if let Some((name, _)) = missing.iter().find(|(_, none)| *none) {
            return Err(Error::NullPointer(format!("comm->{name} is NULL")));
        }
        Ok(Comm {
            table,
            size: table.size,
            rank: table.rank,
            traffic: wlra_traffic::default(),
            phase: Phase::Setup,
        })
    }

    pub fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
    }

    fn count(&mut self, bytes: f64) {
        let t = &mut self.traffic;
        let slot = match self.phase {
            Phase::Setup => &mut t.setup_bytes,
            Phase::Redistribution => &mut t.redistribution_bytes,
            Phase::UHalfStep => &mut t.u_half_step_bytes,
            Phase::VHalfStep => &mut t.v_half_step_bytes,
            Phase::Objective => &mut t.objective_bytes,
        };
        *slot += bytes;
    }

    fn others(&self) -> f64 {
        (self.size - 1) as f64
    }

    /// The largest of every rank's `values`, elementwise, in place.
    pub fn max(&mut self, values: &mut [f64]) -> Result<()> {
        let f = self.table.allreduce_f64.expect("checked in new");
        self.count(8.0 * values.len() as f64 * self.others());
        let started = std::time::Instant::now();
        // SAFETY: `values` is a live buffer of values.len() doubles; the
        // engine's contract is to read and write only those.
        let code = unsafe {
            f(
                self.table.user_data,
                values.as_mut_ptr(),
                values.len(),
                WLRA_COMM_MAX,
            )
        };
        self.traffic.communication_seconds += started.elapsed().as_secs_f64();
        if code != 0 {
            return Err(failed("allreduce_f64", code));
        }
        Ok(())
    }

    /// Every rank's `send` concatenated in rank order; `counts[r]` is rank
    /// r's length (the same table on every rank).
    pub fn allgatherv(&mut self, send: &[f64], counts: &[usize]) -> Result<Vec<f64>> {
        assert_eq!(counts.len(), self.size);
        assert_eq!(counts[self.rank], send.len());
        let (displs, total) = displacements(counts)?;
        let mut recv = crate::memory::try_filled(total, 0.0, "a gathered buffer")?;
        let f = self.table.allgatherv_f64.expect("checked in new");
        self.count(8.0 * send.len() as f64 * self.others());
        let started = std::time::Instant::now();
        // SAFETY: every pointer is a live buffer of the length the table's
        // contract reads (send: send.len(); recv: sum of counts; counts and
        // displs: size entries).
        let code = unsafe {
            f(
                self.table.user_data,
                send.as_ptr(),
                send.len(),
                recv.as_mut_ptr(),
                counts.as_ptr(),
                displs.as_ptr(),
            )
        };
        self.traffic.communication_seconds += started.elapsed().as_secs_f64();
        if code != 0 {
            return Err(failed("allgatherv_f64", code));
        }
        Ok(recv)
    }

    /// `send` holds consecutive parts for ranks 0..size (`send_counts`);
    /// returns what every rank sent here, consecutive by sender.
    pub fn alltoallv(
        &mut self,
        send: &[f64],
        send_counts: &[usize],
        recv_counts: &[usize],
    ) -> Result<Vec<f64>> {
        assert_eq!(send_counts.len(), self.size);
        assert_eq!(recv_counts.len(), self.size);
        let (send_displs, send_total) = displacements(send_counts)?;
        assert_eq!(send_total, send.len());
        let (recv_displs, recv_total) = displacements(recv_counts)?;
        let mut recv = crate::memory::try_filled(recv_total, 0.0, "a received buffer")?;
        let f = self.table.alltoallv_f64.expect("checked in new");
        let to_others: usize = send_counts
            .iter()
            .enumerate()
            .filter(|(q, _)| *q != self.rank)
            .map(|(_, c)| c)
            .sum();
        self.count(8.0 * to_others as f64);
        let started = std::time::Instant::now();
        // SAFETY: as in `allgatherv`: every buffer has the length the
        // counts and displacements describe.
        let code = unsafe {
            f(
                self.table.user_data,
                send.as_ptr(),
                send_counts.as_ptr(),
                send_displs.as_ptr(),
                recv.as_mut_ptr(),
                recv_counts.as_ptr(),
                recv_displs.as_ptr(),
            )
        };
        self.traffic.communication_seconds += started.elapsed().as_secs_f64();
        if code != 0 {
            return Err(failed("alltoallv_f64", code));
        }
        Ok(recv)
    }

    /// Agree on the outcome of a local step: every rank learns the largest
    /// status code (0 = success) any rank had. One allreduce of one double.
    pub fn agree(&mut self, status: i32) -> Result<i32> {
        let mut v = [f64::from(status)];
        self.max(&mut v)?;
        Ok(v[0] as i32)
    }
}

/// Exclusive prefix sums of `counts`, and their total.
fn displacements(counts: &[usize]) -> Result<(Vec<usize>, usize)> {
    let mut displs = Vec::with_capacity(counts.len());
    let mut total = 0usize;
    for &c in counts {
        displs.push(total);
        total = total
            .checked_add(c)
            .ok_or_else(|| Error::InvalidArgument("a message is too large to address".into()))?;
    }
    Ok((displs, total))
}
