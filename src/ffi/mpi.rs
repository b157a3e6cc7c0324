//! The C entry points of distributed fits (feature `mpi`, header
//! include/wlra_mpi.h, docs/mpi.md). Each rank passes its block of rows;
//! the local checks run first and every rank agrees on their status with
//! one allreduce before any other collective, so bad input on one rank
//! gives every rank the same status instead of a hang.

use super::boundary::guarded;
use super::handle::Exclusive;
use super::views::{self, check_layout, non_null, MatrixArg, WLRA_ROW_MAJOR};
use super::{handle, wlra_model};
use crate::distributed::checks::{self, agreed, LocalData, RowBlock};
use crate::distributed::comm::{wlra_comm, wlra_traffic, Comm};
use crate::distributed::fit;
use crate::distributed::mpi::MpiComm;
use crate::error::Result;
use crate::init::{copy_factors, Factors};
use crate::model::Model;
use crate::options::InitChoice;
use crate::problem::checks::{check_pattern_dims, check_row_ptr};
use crate::problem::sparse::CsrInput;
use crate::scaling::Scale;
use crate::vocabulary::status::wlra_status;
use std::ffi::c_int;

/// The model and this rank's data, checked locally.
struct Local<'a> {
    model: Exclusive<'a>,
    data: LocalData<'a>,
    /// The start factors: given (whole) or this rank's last fit's (warm),
    /// copied before the agreement so that a failed copy is agreed too.
    start: Option<Factors>,
}

/// The local part of every entry point: the model's lease, its options,
/// the row block, then `data`'s own checks.
///
/// # Safety
/// `model` is NULL or a live handle.
unsafe fn local<'a>(
    model: *mut wlra_model,
    call: &str,
    block: &RowBlock,
    data: impl FnOnce(bool) -> Result<LocalData<'a>>,
) -> Result<Local<'a>> {
    // SAFETY: NULL or a live handle (the caller's contract); `handle`
    // rejects NULL.
    let mut target = unsafe { handle(model) }?.exclusive(call)?;
    checks::check_options(target.options())?;
    block.check(target.rank())?;
    if target.options().init == InitChoice::Given {
        checks::check_given_start(target.start.as_ref(), block)?;
    }
    target.pool()?;
    crate::memory::reserve_gemm_workspaces(target.pool()?)?;
    let start = start_factors(&target)?;
    let data = data(target.options().missing_nan)?;
    Ok(Local {
        model: target,
        data,
        start,
    })
}

/// The factors a fit starts from: the given ones (WLRA_INIT_GIVEN), or the
/// last fit's where it had this fit's offsets, which its factors carry
/// (WLRA_INIT_WARM, as `crate::warm` takes them for `wlra_fit`); their
/// shapes are agreed in the fit (`distributed::warm`).
fn start_factors(model: &Model) -> Result<Option<Factors>> {
    let options = model.options();
    match options.init {
        InitChoice::Given => model.start.as_ref().map(copy_factors).transpose(),
        InitChoice::Warm => model
            .fitted()
            .ok()
            .filter(|f| f.offsets == options.offsets)
            .map(|f| copy_factors(&f.outcome.factors))
            .transpose(),
        _ => Ok(None),
    }
}

/// Agree on the local checks, run the fit, keep its outcome in the model
/// and its traffic for `wlra_distributed_traffic`.
fn agree_and_fit(comm: &mut Comm<'_>, block: RowBlock, local: Result<Local<'_>>) -> Result<()> {
    let Local {
        mut model,
        data,
        start: given,
    } = agreed(comm, local)?;
    let (k, options) = (model.rank(), model.options().clone());
    let fitted = model.fit_distributed(|pool, progress| {
        fit::run(
            comm,
            block,
            k,
            &options,
            pool,
            data,
            (given.as_ref(), progress),
        )
    });
    crate::distributed::record_traffic(comm.traffic);
    fitted
}

/// The checked table behind `comm`.
///
/// # Safety
/// `comm` is NULL or points to a table valid for the call.
unsafe fn table<'a>(comm: *const wlra_comm) -> Result<Comm<'a>> {
    non_null(comm, "comm")?;
    // SAFETY: non-NULL and valid for the call (the caller's contract).
    Comm::new(unsafe { &*comm })
}

/// Dense local rows (`n_local_rows` x `n_cols`, laid out as in wlra_fit),
/// NaN in M read as missing where `missing_nan` (WLRA_OPTION_MISSING_NAN).
///
/// # Safety
/// `m` (and `w` when not NULL) point to matrices laid out as described.
unsafe fn dense_rows<'a>(
    block: &RowBlock,
    (m, ld_m, w, ld_w, layout): (*const f64, usize, *const f64, usize, i32),
    missing_nan: bool,
) -> Result<LocalData<'a>> {
    check_layout(layout)?;
    let arg = |name, ld_name, ld| MatrixArg {
        name,
        ld_name,
        rows: block.n_local,
        cols: block.n_cols,
        ld,
        layout,
    };
    // SAFETY: the caller's contract on `m`; shape and ld checked by `view`.
    let m_view = unsafe { arg("m", "ld_m", ld_m).view(m) }?;
    let w_view = if w.is_null() {
        None
    } else {
        // SAFETY: as for `m`.
        Some(unsafe { arg("w", "ld_w", ld_w).view(w) }?)
    };
    let missing = checks::check_dense(m_view, w_view, block.offset, missing_nan)?;
    Ok(LocalData::Dense {
        m: m_view,
        w: w_view,
        row_major: layout == WLRA_ROW_MAJOR,
        masked: None,
        missing,
        scale: Scale::unit(),
    })
}

/// A local CSR block (`n_local_rows` rows, row_ptr local, col_idx global),
/// an entry whose M is NaN dropped where `missing_nan`.
///
/// # Safety
/// The arrays hold the sizes wlra_fit_csr describes for n_local_rows rows.
unsafe fn csr_rows<'a>(
    block: &RowBlock,
    (row_ptr, col_idx, m_values, w_values): (*const i64, *const i64, *const f64, *const f64),
    (m_default, w_default): (f64, f64),
    missing_nan: bool,
) -> Result<LocalData<'a>> {
    let n_local = block.n_local;
    check_pattern_dims(n_local, block.n_cols)?;
    non_null(row_ptr, "row_ptr")?;
    // SAFETY: row_ptr has n_local + 1 entries (no overflow:
    // check_pattern_dims), and row_ptr[n_local] = nnz fixes the others.
    let row_ptr = unsafe { views::array(row_ptr, n_local + 1, "row_ptr") }?;
    let nnz = check_row_ptr(row_ptr, block.n_cols)?;
    // SAFETY: the caller's contract gives these nnz entries each.
    let (col_idx, m_values) = unsafe {
        (
            views::array(col_idx, nnz, "col_idx")?,
            views::array(m_values, nnz, "m_values")?,
        )
    };
    let w_values = if w_values.is_null() {
        None
    } else {
        // SAFETY: as for col_idx.
        Some(unsafe { views::array(w_values, nnz, "w_values") }?)
    };
    let input = CsrInput {
        n_rows: n_local,
        n_cols: block.n_cols,
        row_ptr,
        col_idx,
        m_values,
        w_values,
        m_default,
        w_default,
    };
    Ok(LocalData::Sparse(checks::sparse_block(
        &input,
        missing_nan,
    )?))
}

/// Fit a dense problem whose rows are spread over the ranks of `comm`
/// (a collective: every rank calls it). This rank holds rows
/// row_offset .. row_offset + n_local_rows of the n_rows x n_cols problem,
/// as `m` and `w` laid out as in wlra_fit. Afterwards wlra_get_factors
/// gives U's local rows (n_local_rows x rank) and V whole (n_cols x rank).
/// Every rank returns the same status.
///
/// # Safety
/// `model` is NULL or a live handle; `comm` a valid table; the matrices as
/// described.
#[no_mangle]
pub unsafe extern "C" fn wlra_fit_distributed(
    model: *mut wlra_model,
    comm: *const wlra_comm,
    n_rows: usize,
    n_cols: usize,
    row_offset: usize,
    n_local_rows: usize,
    m: *const f64,
    ld_m: usize,
    w: *const f64,
    ld_w: usize,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: the caller's contract on `comm`.
        let mut comm = unsafe { table(comm) }?;
        let block = RowBlock {
            n_rows,
            n_cols,
            offset: row_offset,
            n_local: n_local_rows,
        };
        // SAFETY: the caller's contract on `model` and the matrices.
        let local = unsafe {
            local(model, "wlra_fit_distributed", &block, |missing_nan| {
                dense_rows(&block, (m, ld_m, w, ld_w, layout), missing_nan)
            })
        };
        agree_and_fit(&mut comm, block, local)
    })
}

/// Fit a sparse problem (as wlra_fit_csr) whose rows are spread over the
/// ranks of `comm`: this rank's rows row_offset .. row_offset + n_local_rows
/// as a CSR block with its own row_ptr (n_local_rows + 1 entries, starting
/// at 0) and global column indices. m_default and w_default are the same
/// on every rank. Factors come back as with wlra_fit_distributed.
///
/// # Safety
/// `model` is NULL or a live handle; `comm` a valid table; the arrays as
/// described.
#[no_mangle]
pub unsafe extern "C" fn wlra_fit_csr_distributed(
    model: *mut wlra_model,
    comm: *const wlra_comm,
    n_rows: usize,
    n_cols: usize,
    row_offset: usize,
    n_local_rows: usize,
    row_ptr: *const i64,
    col_idx: *const i64,
    m_values: *const f64,
    w_values: *const f64,
    m_default: f64,
    w_default: f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: the caller's contract on `comm`.
        let mut comm = unsafe { table(comm) }?;
        let block = RowBlock {
            n_rows,
            n_cols,
            offset: row_offset,
            n_local: n_local_rows,
        };
        // SAFETY: the caller's contract on `model` and the arrays.
        let local = unsafe {
            local(model, "wlra_fit_csr_distributed", &block, |missing_nan| {
                let arrays = (row_ptr, col_idx, m_values, w_values);
                csr_rows(&block, arrays, (m_default, w_default), missing_nan)
            })
        };
        agree_and_fit(&mut comm, block, local)
    })
}

/// wlra_fit_distributed over MPI: `comm_f` is the communicator's Fortran
/// handle (MPI_Comm_c2f(comm) in C, comm.py2f() in mpi4py). MPI must be
/// initialized; every rank of the communicator calls it.
///
/// # Safety
/// As wlra_fit_distributed.
#[no_mangle]
pub unsafe extern "C" fn wlra_fit_mpi(
    model: *mut wlra_model,
    comm_f: c_int,
    n_rows: usize,
    n_cols: usize,
    row_offset: usize,
    n_local_rows: usize,
    m: *const f64,
    ld_m: usize,
    w: *const f64,
    ld_w: usize,
    layout: i32,
) -> wlra_status {
    let mpi = match guarded_comm(model, comm_f) {
        Ok(mpi) => mpi,
        Err(status) => return status,
    };
    let table = mpi.table();
    // SAFETY: the table lives for the call; the rest is the caller's.
    unsafe {
        wlra_fit_distributed(
            model,
            &table,
            n_rows,
            n_cols,
            row_offset,
            n_local_rows,
            m,
            ld_m,
            w,
            ld_w,
            layout,
        )
    }
}

/// wlra_fit_csr_distributed over MPI (`comm_f` as in wlra_fit_mpi).
///
/// # Safety
/// As wlra_fit_csr_distributed.
#[no_mangle]
pub unsafe extern "C" fn wlra_fit_csr_mpi(
    model: *mut wlra_model,
    comm_f: c_int,
    n_rows: usize,
    n_cols: usize,
    row_offset: usize,
    n_local_rows: usize,
    row_ptr: *const i64,
    col_idx: *const i64,
    m_values: *const f64,
    w_values: *const f64,
    m_default: f64,
    w_default: f64,
) -> wlra_status {
    let mpi = match guarded_comm(model, comm_f) {
        Ok(mpi) => mpi,
        Err(status) => return status,
    };
    let table = mpi.table();
    // SAFETY: the table lives for the call; the rest is the caller's.
    unsafe {
        wlra_fit_csr_distributed(
            model,
            &table,
            n_rows,
            n_cols,
            row_offset,
            n_local_rows,
            row_ptr,
            col_idx,
            m_values,
            w_values,
            m_default,
            w_default,
        )
    }
}

/// The MPI communicator behind `comm_f`, or the status of why not.
pub(super) fn guarded_comm(
    model: *const wlra_model,
    comm_f: c_int,
) -> std::result::Result<MpiComm, wlra_status> {
    let mut mpi = None;
    let status = guarded(model, || {
        mpi = Some(MpiComm::from_fortran(comm_f)?);
        Ok(())
    });
    mpi.ok_or(status)
}

/// How the last distributed fit called on this thread gave each rank its
/// columns' data (WLRA_EXCHANGE_* in wlra_mpi.h).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wlra_distributed_exchange(out: *mut i32) -> wlra_status {
    guarded(std::ptr::null(), || {
        non_null(out, "out")?;
        // SAFETY: non-NULL and writable (the caller's contract).
        unsafe { *out = crate::distributed::last_exchange() as i32 };
        Ok(())
    })
}

/// The bytes this rank sent to other ranks in the last distributed fit
/// called on this thread, by phase (docs/mpi.md gives the model's count).
///
/// # Safety
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wlra_distributed_traffic(out: *mut wlra_traffic) -> wlra_status {
    guarded(std::ptr::null(), || {
        non_null(out, "out")?;
        // SAFETY: non-NULL and writable (the caller's contract).
        unsafe { *out = crate::distributed::last_traffic() };
        Ok(())
    })
}
