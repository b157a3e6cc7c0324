//! The C boundary: exported functions, handle ownership, pointer checks.
//! Every function body runs inside `boundary::guarded`, so no panic crosses
//! into C, and every pointer is checked in `views` before it is used.

// The helpers are private: the boundary's public items are the exported
// functions and the handle type, re-exported below.
mod boundary;
mod canonical;
/// cbindgen:ignore
#[cfg(feature = "mpi")]
mod canonical_mpi;
mod handle;
/// cbindgen:ignore
#[cfg(feature = "mpi")]
mod mpi;
mod offsets;
mod option_info;
mod set_fitted;
mod transform;
mod views;

use crate::error::Result;
use crate::model::Model;
use crate::problem::checks::{check_pattern_dims, check_row_ptr, check_shape};
use crate::problem::sparse::CsrInput;
use crate::problem::DenseProblem;
use crate::vocabulary::status::{status_text, wlra_status};
use boundary::{guarded, thread_last_error};
pub use canonical::wlra_get_canonical;
#[cfg(feature = "mpi")]
pub use canonical_mpi::{wlra_get_canonical_distributed, wlra_get_canonical_mpi};
pub use handle::wlra_model;
#[cfg(feature = "mpi")]
pub use mpi::{
    wlra_distributed_exchange, wlra_distributed_traffic, wlra_fit_csr_distributed,
    wlra_fit_csr_mpi, wlra_fit_distributed, wlra_fit_mpi,
};
pub use offsets::{wlra_get_offsets, wlra_predict};
pub use option_info::wlra_option_info;
pub use set_fitted::wlra_set_fitted;
use std::ffi::{c_char, c_void};
pub use transform::{wlra_transform, wlra_transform_with_offsets};
use views::{check_layout, non_null, MatrixArg};

/// Called after every completed outer iteration with the number of completed
/// iterations (1 on the first call) and the objective at their factors.
/// A non-zero return cancels the fit.
#[allow(non_camel_case_types)]
pub type wlra_progress_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, iteration: usize, objective: f64) -> i32>;

static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The handle behind `ptr`; the model in it is reached only through a
/// lease (`handle::wlra_model::exclusive`, `shared`), which is refused with
/// WLRA_ERROR_BUSY while a fit runs.
///
/// # Safety
/// `ptr` is NULL or a live handle from wlra_create.
unsafe fn handle<'a>(ptr: *const wlra_model) -> Result<&'a wlra_model> {
    non_null(ptr, "model")?;
    // SAFETY: non-NULL and, by the contract, a live handle. Every field a
    // call may touch while another runs is atomic, a Mutex or behind the
    // lease, so shared references to the handle may overlap.
    Ok(unsafe { &*ptr })
}

fn write_out(out: *mut f64, name: &str, value: Result<f64>) -> Result<()> {
    non_null(out, name)?;
    let value = value?;
    // SAFETY: non-NULL; the caller provides one writable double.
    unsafe { *out = value };
    Ok(())
}

/// The library version, "MAJOR.MINOR.PATCH"; static storage.
#[no_mangle]
pub extern "C" fn wlra_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

/// Static text describing a status code (never NULL).
#[no_mangle]
pub extern "C" fn wlra_status_message(status: wlra_status) -> *const c_char {
    status_text(status).as_ptr().cast()
}

/// Create a model for factors of the given rank (>= 1). On success
/// *out_model owns a handle to free with wlra_destroy.
///
/// # Safety
/// `out_model` is NULL or points to writable storage for one pointer.
#[no_mangle]
pub unsafe extern "C" fn wlra_create(rank: usize, out_model: *mut *mut wlra_model) -> wlra_status {
    guarded(std::ptr::null(), || {
        non_null(out_model, "out_model")?;
        let model = Model::new(rank)?;
        let handle = Box::new(wlra_model::new(model));
        // SAFETY: checked non-NULL above; the caller provides the storage.
        unsafe { *out_model = Box::into_raw(handle) };
        Ok(())
    })
}

/// Free a model and everything it owns. NULL is a no-op. While a fit runs
/// on the model (from its progress callback or another thread) nothing is
/// freed, and wlra_last_error(NULL) says so.
///
/// # Safety
/// `model` is NULL or a handle from wlra_create not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn wlra_destroy(model: *mut wlra_model) {
    if model.is_null() {
        return;
    }
    let _ = guarded(std::ptr::null(), || {
        // SAFETY: a live handle (the contract); `handle` rejects NULL.
        unsafe { handle(model) }?.try_retire()?;
        // SAFETY: created by Box::into_raw in wlra_create, destroyed once,
        // and no lease is out (try_retire took the last one for good).
        drop(unsafe { Box::from_raw(model) });
        Ok(())
    });
}

/// Set one WLRA_OPTION_*. An unknown option, NaN, a value out of range or a
/// non-integer for an integer option is WLRA_ERROR_INVALID_ARGUMENT and
/// leaves the option as it was.
/// wlra_option_info gives each option's range and default.
///
/// # Safety
/// `model` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wlra_set_option(
    model: *mut wlra_model,
    option: i32,
    value: f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let mut target = unsafe { handle(model) }?.exclusive("wlra_set_option")?;
        target.set_option(option, value)
    })
}

/// Read one WLRA_OPTION_* into *out_value.
///
/// # Safety
/// `model` is NULL or a live handle; `out_value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_option(
    model: *const wlra_model,
    option: i32,
    out_value: *mut f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let m = unsafe { handle(model) }?.shared("wlra_get_option")?;
        write_out(out_value, "out_value", m.get_option(option))
    })
}

/// Fit U (n_rows x rank) and V (n_cols x rank) to M with weights W.
/// w may be NULL: all weights 1. Row-major: ld >= n_cols; column-major:
/// ld >= n_rows. A failed fit leaves the model as it was; a cancelled one
/// keeps the factors of its last completed iteration.
///
/// # Safety
/// `model` is NULL or a live handle; `m` (and `w` when not NULL) point to
/// matrices laid out as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_fit(
    model: *mut wlra_model,
    n_rows: usize,
    n_cols: usize,
    m: *const f64,
    ld_m: usize,
    w: *const f64,
    ld_w: usize,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL. The lease lasts the whole fit.
        let mut target = unsafe { handle(model) }?.exclusive("wlra_fit")?;
        // The documented order: pointers, dimensions, then the layout and
        // the leading dimensions (`MatrixArg::view`).
        non_null(m, "m")?;
        check_shape(n_rows, n_cols)?;
        check_layout(layout)?;
        let m_arg = MatrixArg {
            name: "m",
            ld_name: "ld_m",
            rows: n_rows,
            cols: n_cols,
            ld: ld_m,
            layout,
        };
        // SAFETY: the caller's contract on `m`; shape and ld checked by `view`.
        let m_view = unsafe { m_arg.view(m) }?;
        let w_view = if w.is_null() {
            None
        } else {
            let w_arg = MatrixArg {
                name: "w",
                ld_name: "ld_w",
                rows: n_rows,
                cols: n_cols,
                ld: ld_w,
                layout,
            };
            // SAFETY: as for `m`.
            Some(unsafe { w_arg.view(w) }?)
        };
        target.fit(DenseProblem::new(m_view, w_view))
    })
}

/// Fit a sparse problem (C ABI 1.1): inside the CSR pattern M = m_values[p]
/// and W = w_values[p] (w_values NULL: all 1); outside it M = m_default and
/// W = w_default. row_ptr has n_rows + 1 entries (row_ptr[0] = 0,
/// non-decreasing, row_ptr[n_rows] = nnz); col_idx has nnz entries, each
/// < n_cols and strictly increasing within a row. A malformed pattern is
/// WLRA_ERROR_INVALID_ARGUMENT naming the row. Nothing of size
/// n_rows x n_cols is ever allocated.
///
/// # Safety
/// `model` is NULL or a live handle; the arrays hold the sizes above.
#[no_mangle]
pub unsafe extern "C" fn wlra_fit_csr(
    model: *mut wlra_model,
    n_rows: usize,
    n_cols: usize,
    row_ptr: *const i64,
    col_idx: *const i64,
    m_values: *const f64,
    w_values: *const f64,
    m_default: f64,
    w_default: f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL. The lease lasts the whole fit.
        let mut target = unsafe { handle(model) }?.exclusive("wlra_fit_csr")?;
        non_null(row_ptr, "row_ptr")?;
        check_shape(n_rows, n_cols)?;
        check_pattern_dims(n_rows, n_cols)?;
        let ptr_len = n_rows + 1; // no overflow: check_pattern_dims
                                  // SAFETY: the caller's contract: row_ptr has n_rows + 1 entries,
                                  // and row_ptr[n_rows] = nnz fixes the other arrays' lengths.
        let row_ptr = unsafe { views::array(row_ptr, ptr_len, "row_ptr") }?;
        let nnz = check_row_ptr(row_ptr, n_cols)?;
        // SAFETY: the caller's contract gives col_idx nnz = row_ptr[n_rows]
        // entries, and check_row_ptr has checked that count.
        let col_idx = unsafe { views::array(col_idx, nnz, "col_idx") }?;
        // SAFETY: as for col_idx.
        let m_values = unsafe { views::array(m_values, nnz, "m_values") }?;
        let w_values = if w_values.is_null() {
            None
        } else {
            // SAFETY: as for col_idx (w_values is not NULL here).
            Some(unsafe { views::array(w_values, nnz, "w_values") }?)
        };
        let input = CsrInput {
            n_rows,
            n_cols,
            row_ptr,
            col_idx,
            m_values,
            w_values,
            m_default,
            w_default,
        };
        target.fit_csr(&input)
    })
}

/// Copy the fitted factors out: u is n_rows x rank, v is n_cols x rank;
/// either may be NULL (not copied).
///
/// # Safety
/// `model` is NULL or a live handle; `u`, `v` NULL or writable as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_factors(
    model: *const wlra_model,
    u: *mut f64,
    ld_u: usize,
    v: *mut f64,
    ld_v: usize,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let source = unsafe { handle(model) }?.shared("wlra_get_factors")?;
        check_layout(layout)?;
        let (fu, fv) = source.factors()?;
        let k = source.rank();
        let u_arg = MatrixArg {
            name: "u",
            ld_name: "ld_u",
            rows: fu.nrows(),
            cols: k,
            ld: ld_u,
            layout,
        };
        let v_arg = MatrixArg {
            name: "v",
            ld_name: "ld_v",
            rows: fv.nrows(),
            cols: k,
            ld: ld_v,
            layout,
        };
        // Check both destinations before writing either.
        let u_view = if u.is_null() {
            None
        } else {
            // SAFETY: the caller's contract: a non-NULL `u` is a writable
            // n_rows x rank matrix laid out as described; view_mut checks ld.
            Some(unsafe { u_arg.view_mut(u) }?)
        };
        let v_view = if v.is_null() {
            None
        } else {
            // SAFETY: as for `u`, with n_cols x rank.
            Some(unsafe { v_arg.view_mut(v) }?)
        };
        if let Some(mut dst) = u_view {
            dst.copy_from(fu);
        }
        if let Some(mut dst) = v_view {
            dst.copy_from(fv);
        }
        Ok(())
    })
}

/// Starting factors for WLRA_INIT_GIVEN (warm start); their shapes fix
/// n_rows and n_cols of the next fit.
///
/// # Safety
/// `model` is NULL or a live handle; `u`, `v` readable as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_set_factors(
    model: *mut wlra_model,
    n_rows: usize,
    n_cols: usize,
    u: *const f64,
    ld_u: usize,
    v: *const f64,
    ld_v: usize,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let mut target = unsafe { handle(model) }?.exclusive("wlra_set_factors")?;
        check_layout(layout)?;
        check_shape(n_rows, n_cols)?;
        let k = target.rank();
        let u_arg = MatrixArg {
            name: "u",
            ld_name: "ld_u",
            rows: n_rows,
            cols: k,
            ld: ld_u,
            layout,
        };
        let v_arg = MatrixArg {
            name: "v",
            ld_name: "ld_v",
            rows: n_cols,
            cols: k,
            ld: ld_v,
            layout,
        };
        // SAFETY: the caller's contract on `u` and `v` as described.
        let (u_view, v_view) = unsafe { (u_arg.view(u)?, v_arg.view(v)?) };
        target.set_start_factors(u_view, v_view)
    })
}

/// Read one WLRA_INFO_* item of the last fit into *out_value.
///
/// # Safety
/// `model` is NULL or a live handle; `out_value` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_info(
    model: *const wlra_model,
    item: i32,
    out_value: *mut f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let source = unsafe { handle(model) }?.shared("wlra_get_info")?;
        write_out(out_value, "out_value", source.info(item))
    })
}

/// Install (or, with callback NULL, remove) the progress callback. It runs
/// on the thread that called wlra_fit. While it runs the model is busy:
/// every call on this model except wlra_last_error returns
/// WLRA_ERROR_BUSY (calls on other models work).
///
/// # Safety
/// `model` is NULL or a live handle; `user_data` is passed back untouched.
#[no_mangle]
pub unsafe extern "C" fn wlra_set_progress(
    model: *mut wlra_model,
    callback: wlra_progress_fn,
    user_data: *mut c_void,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let mut target = unsafe { handle(model) }?.exclusive("wlra_set_progress")?;
        target.set_progress(callback.map(|f| {
            Box::new(move |iteration: usize, objective: f64| {
                // The callback is the host's code: a panic in it (a Rust
                // host's) is the host's to report.
                crate::panics::as_host(|| {
                    // SAFETY: the caller promised a valid callback for user_data.
                    unsafe { f(user_data, iteration, objective) == 0 }
                })
            }) as crate::model::ProgressCallback
        }));
        Ok(())
    })
}

/// Detail of the last failed call on this model (NULL model: the calling
/// thread's last failure). Never NULL; valid until the next call on the
/// same model or thread. Allowed while a fit runs on the model.
///
/// # Safety
/// `model` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn wlra_last_error(model: *const wlra_model) -> *const c_char {
    // SAFETY: NULL or a live handle, by the contract; last_error sits
    // outside the lease, behind its own Mutex.
    match unsafe { model.as_ref() } {
        Some(handle) => match handle.last_error.lock() {
            // The CString lives in the model until the next failure there.
            Ok(text) => text.as_ptr(),
            Err(_) => thread_last_error(),
        },
        None => thread_last_error(),
    }
}

/// Testing only (reached as `wlra::internals::boundary_panic_probe`; not
/// exported to C, not in the header): a panic inside a call on `model`,
/// on the calling thread or on a worker of the model's own pool, so tests
/// can check that it becomes WLRA_ERROR_INTERNAL with its text in
/// wlra_last_error, prints nothing, and releases the model's busy lease.
///
/// # Safety
/// `model` is NULL or a live handle.
#[doc(hidden)]
pub unsafe fn panic_probe(model: *mut wlra_model, on_pool_worker: bool) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let mut target = unsafe { handle(model) }?.exclusive("panic_probe")?;
        if on_pool_worker {
            target
                .pool()?
                .install(|| panic!("wlra panic probe on a pool worker"))
        } else {
            panic!("wlra panic probe on the calling thread")
        }
    })
}
