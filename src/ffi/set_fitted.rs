//! Loading a fit through the C ABI: factors and offsets saved from an
//! earlier fit (in this process or another) put back into a model, so that
//! fold-in, predictions and the getters work as after that fit.

use super::boundary::guarded;
use super::views::{array, check_layout, non_null, MatrixArg};
use super::{handle, wlra_model};
use crate::problem::checks::check_shape;
use crate::vocabulary::status::wlra_status;

/// Load U (n_rows x rank) and V (n_cols x rank), both in `layout`, and the
/// row offsets `a` (n_rows doubles) and column offsets `b` (n_cols) into
/// the model as if a fit had produced them (added in 1.3); `a` or `b` NULL:
/// the model has no offsets on that side. Afterwards wlra_get_factors,
/// wlra_get_offsets, wlra_predict, wlra_transform and
/// wlra_transform_with_offsets work as after that fit (fold-in with the
/// model's ridge options), and WLRA_INIT_WARM starts from these factors.
/// wlra_get_info: iterations, inner iterations, starts 0, converged 0,
/// elapsed 0; objective, method and solver WLRA_ERROR_INVALID_ARGUMENT (no
/// fit ran). Everything is checked first (NULL u or v, dimensions, rank,
/// layout, leading dimensions, finite values); a failure changes nothing.
///
/// # Safety
/// `model` is NULL or a live handle; `u`, `v` readable as described, `a`
/// and `b` NULL or readable for n_rows and n_cols doubles.
#[no_mangle]
pub unsafe extern "C" fn wlra_set_fitted(
    model: *mut wlra_model,
    n_rows: usize,
    n_cols: usize,
    u: *const f64,
    ld_u: usize,
    v: *const f64,
    ld_v: usize,
    a: *const f64,
    b: *const f64,
    layout: i32,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL.
        let mut target = unsafe { handle(model) }?.exclusive("wlra_set_fitted")?;
        // The documented order: pointers, dimensions, then the layout and
        // the leading dimensions (`MatrixArg::view`), then the values.
        non_null(u, "u")?;
        non_null(v, "v")?;
        check_shape(n_rows, n_cols)?;
        check_layout(layout)?;
        let k = target.rank();
        let arg = |name, ld_name, rows, ld| MatrixArg {
            name,
            ld_name,
            rows,
            cols: k,
            ld,
            layout,
        };
        // SAFETY: the caller's contract on `u` and `v` as described; the
        // views check the leading dimensions and the span.
        let (u, v) = unsafe {
            (
                arg("u", "ld_u", n_rows, ld_u).view(u)?,
                arg("v", "ld_v", n_cols, ld_v).view(v)?,
            )
        };
        let offsets = |x: *const f64, len, name| match x.is_null() {
            true => Ok(None),
            // SAFETY: the caller's contract: a non-NULL offsets pointer
            // holds `len` readable doubles.
            false => unsafe { array(x, len, name) }.map(Some),
        };
        let (a, b) = (offsets(a, n_rows, "a")?, offsets(b, n_cols, "b")?);
        target.set_fitted(u, v, a, b)
    })
}
