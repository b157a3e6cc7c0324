//! Offsets and predictions through the C ABI (WLRA_OPTION_OFFSETS).

use super::boundary::guarded;
use super::views::{array, array_mut};
use super::{handle, wlra_model};
use crate::error::{invalid, Result};
use crate::memory::try_filled;
use crate::vocabulary::status::wlra_status;
use faer::ColRef;

/// `dst` <- the offsets `src`, or 0 for a side the fit did not have.
pub(super) fn copy_offsets(dst: &mut [f64], src: Option<ColRef<'_, f64>>) {
    match src {
        Some(src) => dst.iter_mut().zip(src.iter()).for_each(|(d, s)| *d = *s),
        None => dst.fill(0.0),
    }
}

/// Copy the last fit's offsets out (added in 1.2): `a` (n_rows doubles,
/// the row offsets) and `b` (n_cols, the column offsets); either may be
/// NULL (not copied). A side the fit did not have (WLRA_OPTION_OFFSETS)
/// reads as zeros, which is what the model holds there.
///
/// # Safety
/// `model` is NULL or a live handle; `a`, `b` NULL or writable as described.
#[no_mangle]
pub unsafe extern "C" fn wlra_get_offsets(
    model: *const wlra_model,
    a: *mut f64,
    b: *mut f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: `model` is NULL or a live handle (this function's
        // contract); `handle` rejects NULL. A shared lease: BUSY during a fit.
        let source = unsafe { handle(model) }?.shared("wlra_get_offsets")?;
        let (u, v) = source.factors()?;
        let (rows, cols) = source.offsets()?;
        if !a.is_null() {
            // SAFETY: the caller's contract: n_rows writable doubles.
            copy_offsets(unsafe { array_mut(a, u.nrows(), "a") }?, rows);
        }
        if !b.is_null() {
            // SAFETY: as for `a`, with n_cols.
            copy_offsets(unsafe { array_mut(b, v.nrows(), "b") }?, cols);
        }
        Ok(())
    })
}

/// The indices as usize, each checked non-negative.
fn indices(name: &str, index: &[i64]) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    crate::memory::try_reserve(&mut out, index.len(), name)?;
    for (p, &x) in index.iter().enumerate() {
        if x < 0 {
            return Err(invalid(format!("{name}[{p}] = {x} is negative")));
        }
        out.push(x as usize);
    }
    Ok(out)
}

/// The model's values at `count` entries (added in 1.2): out[p] =
/// a[rows[p]] + b[cols[p]] + u_rows[p] . v_cols[p], offsets included
/// where the fit has them. Every index must be below the fit's n_rows
/// (rows) or n_cols (cols); `out` is written only on success.
///
/// # Safety
/// `model` is NULL or a live handle; `rows`, `cols` readable and `out`
/// writable, `count` elements each.
#[no_mangle]
pub unsafe extern "C" fn wlra_predict(
    model: *const wlra_model,
    count: usize,
    rows: *const i64,
    cols: *const i64,
    out: *mut f64,
) -> wlra_status {
    guarded(model, || {
        // SAFETY: as in wlra_get_offsets.
        let source = unsafe { handle(model) }?.shared("wlra_predict")?;
        // SAFETY: the caller's contract: `count` elements each.
        let (rows, cols) = unsafe { (array(rows, count, "rows")?, array(cols, count, "cols")?) };
        let (rows, cols) = (indices("rows", rows)?, indices("cols", cols)?);
        let mut values = try_filled(count, 0.0, "the predictions")?;
        source.predict(&rows, &cols, &mut values)?;
        // SAFETY: the caller's contract: `count` writable doubles.
        unsafe { array_mut(out, count, "out") }?.copy_from_slice(&values);
        Ok(())
    })
}
