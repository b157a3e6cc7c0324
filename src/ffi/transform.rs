//! Fold-in through the C ABI: new rows solved against a fitted model.

use super::boundary::guarded;
use super::offsets::copy_offsets;
use super::views::{array_mut, check_layout, MatrixArg};
use super::{handle, wlra_model};
use crate::error::invalid;
use crate::vocabulary::status::wlra_status;

/// Fold-in: the factor of `n_new` rows the fit has not seen, solved against
/// its fitted column factor V with the model's ridge (the fit's U half-step
/// for those rows; V does not change). `m_rows` and `w_rows` are
/// n_new x n_cols (n_cols of the fit), `w_rows` NULL meaning every weight 1;
/// `u_out` (n_new x rank) receives the rows' factors, so that
/// `u_out V^T` predicts them. A row with no positive weight gets 0. With
/// offsets (WLRA_OPTION_OFFSETS) the column offsets come off the rows'
/// data first and their own row offsets are solved too:
/// wlra_transform_with_offsets returns those.
/// `u_out` is written only on success.
///
/// # Safety
/// `model` is NULL or a live handle; the matrices readable (`u_out`
/// writable) as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_transform(
    model: *const wlra_model,
    n_new: usize,
    m_rows: *const f64,
    ld_m: usize,
    w_rows: *const f64,
    ld_w: usize,
    u_out: *mut f64,
    ld_u: usize,
    layout: i32,
) -> wlra_status {
    let rows = NewRows {
        n_new,
        m_rows,
        ld_m,
        w_rows,
        ld_w,
        layout,
    };
    // SAFETY: this function's contract is fold_in's, with no a_out.
    unsafe {
        fold_in(
            "wlra_transform",
            model,
            &rows,
            u_out,
            ld_u,
            std::ptr::null_mut(),
        )
    }
}

/// Fold-in with offsets (added in 1.2): wlra_transform's factor rows into
/// `u_out` (n_new x rank), and the rows' own offsets, solved with them,
/// into `a_out` (n_new doubles; NULL: not copied; zeros when the model
/// fits no row offsets). The fitted column offsets come off the rows'
/// data first, so `a_out[r] + b[j] + u_out[r] . v_j` predicts M[r, j]. A
/// row with no positive weight gets u = 0 and a = 0: the column offsets
/// alone. Nothing is written unless the call succeeds.
///
/// # Safety
/// `model` is NULL or a live handle; the matrices readable (`u_out`,
/// `a_out` writable) as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_transform_with_offsets(
    model: *const wlra_model,
    n_new: usize,
    m_rows: *const f64,
    ld_m: usize,
    w_rows: *const f64,
    ld_w: usize,
    u_out: *mut f64,
    ld_u: usize,
    a_out: *mut f64,
    layout: i32,
) -> wlra_status {
    let rows = NewRows {
        n_new,
        m_rows,
        ld_m,
        w_rows,
        ld_w,
        layout,
    };
    // SAFETY: this function's contract is fold_in's.
    unsafe {
        fold_in(
            "wlra_transform_with_offsets",
            model,
            &rows,
            u_out,
            ld_u,
            a_out,
        )
    }
}

/// The new rows as the caller passes them.
struct NewRows {
    n_new: usize,
    m_rows: *const f64,
    ld_m: usize,
    w_rows: *const f64,
    ld_w: usize,
    layout: i32,
}

/// Both fold-ins: the rows' factor into `u_out`, their offsets into
/// `a_out` unless it is NULL; every pointer checked before anything is
/// computed, nothing written unless it succeeds.
///
/// # Safety
/// `model` is NULL or a live handle; `rows`' matrices readable, `u_out`
/// and a non-NULL `a_out` writable, as the exported functions describe.
unsafe fn fold_in(
    function: &str,
    model: *const wlra_model,
    rows: &NewRows,
    u_out: *mut f64,
    ld_u: usize,
    a_out: *mut f64,
) -> wlra_status {
    let n_new = rows.n_new;
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL. A shared lease: BUSY during a fit.
        let source = unsafe { handle(model) }?.shared(function)?;
        check_layout(rows.layout)?;
        if n_new == 0 {
            return Err(invalid("n_new = 0: there are no rows to fold in"));
        }
        let (_, v) = source.factors()?;
        let (n_cols, k) = (v.nrows(), source.rank());
        let arg = |name, ld_name, ld, cols| MatrixArg {
            name,
            ld_name,
            rows: n_new,
            cols,
            ld,
            layout: rows.layout,
        };
        // SAFETY: the caller's contract on each matrix as described; the
        // views check NULL, ld and the span.
        let m_view = unsafe { arg("m_rows", "ld_m", rows.ld_m, n_cols).view(rows.m_rows) }?;
        let w_view = if rows.w_rows.is_null() {
            None
        } else {
            // SAFETY: as for `m_rows`.
            Some(unsafe { arg("w_rows", "ld_w", rows.ld_w, n_cols).view(rows.w_rows) }?)
        };
        // SAFETY: as above, writable; checked before anything is computed.
        let mut out = unsafe { arg("u_out", "ld_u", ld_u, k).view_mut(u_out) }?;
        let a = if a_out.is_null() {
            None
        } else {
            // SAFETY: the caller's contract: n_new writable doubles.
            Some(unsafe { array_mut(a_out, n_new, "a_out") }?)
        };
        let solved = source.transform(m_view, w_view)?;
        // With row offsets the rows' own offset is the column after the
        // rank's.
        out.copy_from(solved.as_ref().subcols(0, k));
        if let Some(a) = a {
            let own = source.offsets()?.0.map(|_| solved.col(k));
            copy_offsets(a, own);
        }
        Ok(())
    })
}
