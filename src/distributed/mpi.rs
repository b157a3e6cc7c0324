//! The communication table over MPI: each entry is one MPI collective on
//! the caller's communicator, with MPI_DOUBLE and int counts (a count or
//! displacement beyond INT_MAX doubles is refused, not truncated).

use super::comm::wlra_comm;
use crate::error::{invalid, Result};
use crate::vocabulary::comm::WLRA_COMM_MAX;
use mpi::ffi::{self, MPI_Comm};
use std::ffi::{c_int, c_void};

/// Whether a C handle is all zero bytes: what MPI_Comm_f2c returns for a
/// Fortran handle it never issued or has freed in Open MPI (a NULL pointer),
/// and never a valid handle in MPICH (whose kind bits 0 mean invalid). Using
/// such a handle would abort the job in MPI's error handler.
fn is_zero_handle(comm: &MPI_Comm) -> bool {
    // SAFETY: MPI_Comm is a plain handle (a pointer or an int), every byte
    // of which is initialized.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (comm as *const MPI_Comm).cast::<u8>(),
            std::mem::size_of::<MPI_Comm>(),
        )
    };
    bytes.iter().all(|&b| b == 0)
}

/// What the table's user_data points to.
pub struct MpiComm {
    comm: MPI_Comm,
}

/// Returned by the table's functions when a count does not fit MPI's int.
const TOO_LARGE: i32 = -1;

fn ints(values: &[usize]) -> Option<Vec<c_int>> {
    values.iter().map(|&v| c_int::try_from(v).ok()).collect()
}

impl MpiComm {
    /// The communicator behind a Fortran handle (MPI_Comm_c2f's result,
    /// mpi4py's `comm.py2f()`). MPI must be initialized.
    pub fn from_fortran(handle: c_int) -> Result<MpiComm> {
        let mut initialized: c_int = 0;
        // SAFETY: MPI_Initialized may be called at any time, even before
        // MPI_Init, and writes one int.
        unsafe { ffi::MPI_Initialized(&mut initialized) };
        if initialized == 0 {
            return Err(invalid(
                "MPI is not initialized: call MPI_Init before wlra_fit_mpi",
            ));
        }
        // SAFETY: MPI is initialized; f2c maps any handle value (an invalid
        // one to MPI_COMM_NULL or an invalid handle, checked below).
        let comm = unsafe { ffi::MPI_Comm_f2c(handle) };
        // SAFETY: reading an extern static the shim initializes.
        if comm == unsafe { ffi::RSMPI_COMM_NULL } || is_zero_handle(&comm) {
            return Err(invalid(format!(
                "comm_f = {handle} is MPI_COMM_NULL or not a communicator"
            )));
        }
        let mut inter: c_int = 0;
        // SAFETY: a handle MPI issued and has not freed (checked above);
        // writes one int.
        unsafe { ffi::MPI_Comm_test_inter(comm, &mut inter) };
        if inter != 0 {
            return Err(invalid(format!(
                "comm_f = {handle} is an intercommunicator: the fit needs an intracommunicator"
            )));
        }
        Ok(MpiComm { comm })
    }

    /// The table over this communicator (valid while `self` lives).
    pub fn table(&self) -> wlra_comm {
        let (mut size, mut rank): (c_int, c_int) = (0, 0);
        // SAFETY: a valid communicator; each call writes one int.
        unsafe {
            ffi::MPI_Comm_size(self.comm, &mut size);
            ffi::MPI_Comm_rank(self.comm, &mut rank);
        }
        wlra_comm {
            user_data: self as *const MpiComm as *mut c_void,
            size: size.max(0) as usize,
            rank: rank.max(0) as usize,
            allreduce_f64: Some(allreduce),
            allgatherv_f64: Some(allgatherv),
            alltoallv_f64: Some(alltoallv),
        }
    }
}

/// # Safety
/// `user_data` is an `MpiComm`; `values` holds `count` doubles.
unsafe extern "C" fn allreduce(
    user_data: *mut c_void,
    values: *mut f64,
    count: usize,
    op: i32,
) -> i32 {
    // SAFETY: the table's user_data is the MpiComm that built it.
    let comm = unsafe { &*(user_data as *const MpiComm) };
    let Ok(n) = c_int::try_from(count) else {
        return TOO_LARGE;
    };
    // A copy instead of MPI_IN_PLACE, which the mpi-sys shim does not export.
    // SAFETY: `values` holds `count` doubles (the caller's contract).
    let send = unsafe { std::slice::from_raw_parts(values, count) }.to_vec();
    // SAFETY: both buffers hold `count` doubles; the handles are the
    // shim's constants.
    unsafe {
        let mpi_op = if op == WLRA_COMM_MAX {
            ffi::RSMPI_MAX
        } else {
            ffi::RSMPI_SUM
        };
        ffi::MPI_Allreduce(
            send.as_ptr().cast(),
            values.cast(),
            n,
            ffi::RSMPI_DOUBLE,
            mpi_op,
            comm.comm,
        )
    }
}

/// # Safety
/// As `wlra_allgatherv_f64_fn` describes, with an `MpiComm` user_data.
unsafe extern "C" fn allgatherv(
    user_data: *mut c_void,
    send: *const f64,
    send_count: usize,
    recv: *mut f64,
    recv_counts: *const usize,
    displs: *const usize,
) -> i32 {
    // SAFETY: the table's user_data is the MpiComm that built it.
    let comm = unsafe { &*(user_data as *const MpiComm) };
    let size = comm_size(comm);
    // SAFETY: both arrays hold one entry per rank (the table's contract).
    let (counts, displs) = unsafe {
        (
            std::slice::from_raw_parts(recv_counts, size),
            std::slice::from_raw_parts(displs, size),
        )
    };
    let (Ok(n), Some(counts), Some(displs)) =
        (c_int::try_from(send_count), ints(counts), ints(displs))
    else {
        return TOO_LARGE;
    };
    // SAFETY: the buffers hold what the counts say (the table's contract).
    unsafe {
        ffi::MPI_Allgatherv(
            send.cast(),
            n,
            ffi::RSMPI_DOUBLE,
            recv.cast(),
            counts.as_ptr(),
            displs.as_ptr(),
            ffi::RSMPI_DOUBLE,
            comm.comm,
        )
    }
}

/// # Safety
/// As `wlra_alltoallv_f64_fn` describes, with an `MpiComm` user_data.
unsafe extern "C" fn alltoallv(
    user_data: *mut c_void,
    send: *const f64,
    send_counts: *const usize,
    send_displs: *const usize,
    recv: *mut f64,
    recv_counts: *const usize,
    recv_displs: *const usize,
) -> i32 {
    // SAFETY: the table's user_data is the MpiComm that built it.
    let comm = unsafe { &*(user_data as *const MpiComm) };
    let size = comm_size(comm);
    // SAFETY: each array holds one entry per rank (the table's contract).
    let arrays = unsafe {
        [send_counts, send_displs, recv_counts, recv_displs]
            .map(|a| ints(std::slice::from_raw_parts(a, size)))
    };
    let [Some(sc), Some(sd), Some(rc), Some(rd)] = arrays else {
        return TOO_LARGE;
    };
    // SAFETY: the buffers hold what the counts say (the table's contract).
    unsafe {
        ffi::MPI_Alltoallv(
            send.cast(),
            sc.as_ptr(),
            sd.as_ptr(),
            ffi::RSMPI_DOUBLE,
            recv.cast(),
            rc.as_ptr(),
            rd.as_ptr(),
            ffi::RSMPI_DOUBLE,
            comm.comm,
        )
    }
}

fn comm_size(comm: &MpiComm) -> usize {
    let mut size: c_int = 0;
    // SAFETY: a valid communicator; writes one int.
    unsafe { ffi::MPI_Comm_size(comm.comm, &mut size) };
    size.max(0) as usize
}
