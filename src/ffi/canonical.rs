//! The canonical form of the fitted product through the C ABI (added in
//! 1.4): orthonormal U, descending s, orthonormal V (`crate::canonical`).

use super::boundary::guarded;
use super::views::{array_mut, check_layout, MatrixArg};
use super::{handle, wlra_model};
use crate::canonical::canonical_form;
use crate::error::invalid;
use crate::vocabulary::status::wlra_status;

/// The canonical form of the last fit's (or loaded factors') U V^T (added
/// in 1.4): u (n_rows x rank) and v (n_cols x rank) with orthonormal
/// columns, s (rank doubles) descending and >= 0, u diag(s) v^T = U V^T
/// (offsets not included). Sign convention: in each column of v the entry
/// of largest magnitude is positive (the first such entry on ties). Any of
/// u, s, v may be NULL (not copied). Before a fit WLRA_ERROR_NOT_FITTED;
/// after a distributed fit over several ranks (the model holds only its
/// rank's rows of U) WLRA_ERROR_INVALID_ARGUMENT.
///
/// # Safety
/// `model` is NULL or a live handle; `u`, `s`, `v` NULL or writable as
/// described.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_canonical(
    model: *const wlra_model,
    u: *mut f64,
    ld_u: usize,
    s: *mut f64,
    v: *mut f64,
    ld_v: usize,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL. A shared lease: BUSY during a fit.
        let source = unsafe { handle(model) }?.shared("wlra_get_canonical")?;
        check_layout(layout)?;
        let (fu, fv) = source.factors()?;
        // Orthonormal U and its s need every row of U.
        if let Some(n_rows) = source.fitted()?.whole_u.map(|w| w.n_rows) {
            return Err(invalid(format!(
                "the model holds {} of the {n_rows} rows of U (a distributed fit): the \
                 canonical form needs all of them; gather U's rows (wlra_get_factors on every \
                 rank) and load them into a model with wlra_set_fitted",
                fu.nrows()
            )));
        }
        let k = source.rank();
        let arg = |name, ld_name, rows, ld| MatrixArg {
            name,
            ld_name,
            rows,
            cols: k,
            ld,
            layout,
        };
        // Check every destination before computing or writing anything.
        let u_view = match u.is_null() {
            true => None,
            // SAFETY: the caller's contract: a non-NULL `u` is a writable
            // n_rows x rank matrix laid out as described; view_mut checks ld.
            false => Some(unsafe { arg("u", "ld_u", fu.nrows(), ld_u).view_mut(u) }?),
        };
        let v_view = match v.is_null() {
            true => None,
            // SAFETY: as for `u`, with n_cols x rank.
            false => Some(unsafe { arg("v", "ld_v", fv.nrows(), ld_v).view_mut(v) }?),
        };
        let s_out = match s.is_null() {
            true => None,
            // SAFETY: the caller's contract: a non-NULL `s` holds rank
            // writable doubles.
            false => Some(unsafe { array_mut(s, k, "s") }?),
        };
        let canonical = canonical_form(fu, fv)?;
        if let Some(mut dst) = u_view {
            dst.copy_from(&canonical.u);
        }
        if let Some(mut dst) = v_view {
            dst.copy_from(&canonical.v);
        }
        if let Some(dst) = s_out {
            dst.copy_from_slice(&canonical.s);
        }
        Ok(())
    })
}
