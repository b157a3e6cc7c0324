//! Fold-in through the C ABI: new rows solved against a fitted model.

use super::boundary::guarded;
use super::status::wlra_status;
use super::views::{check_layout, MatrixArg};
use super::{handle, wlra_model};
use crate::error::invalid;

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
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL. A shared lease: BUSY during a fit.
        let source = unsafe { handle(model) }?.shared("wlra_transform")?;
        check_layout(layout)?;
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
            layout,
        };
        // SAFETY: the caller's contract on each matrix as described; the
        // views check NULL, ld and the span.
        let m_view = unsafe { arg("m_rows", "ld_m", ld_m, n_cols).view(m_rows) }?;
        let w_view = if w_rows.is_null() {
            None
        } else {
            // SAFETY: as for `m_rows`.
            Some(unsafe { arg("w_rows", "ld_w", ld_w, n_cols).view(w_rows) }?)
        };
        // SAFETY: as above, writable; checked before anything is computed.
        let mut out = unsafe { arg("u_out", "ld_u", ld_u, k).view_mut(u_out) }?;
        let solved = source.transform(m_view, w_view)?;
        // With row offsets the rows' own offset is the last column
        // (wlra_transform_with_offsets returns it).
        out.copy_from(solved.as_ref().subcols(0, k));
        Ok(())
    })
}
