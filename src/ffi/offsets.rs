//! Offsets and predictions through the C ABI (WLRA_OPTION_OFFSETS).

use super::boundary::guarded;
use super::status::wlra_status;
use super::views::{array, array_mut, check_layout, MatrixArg};
use super::{handle, wlra_model};
use crate::error::{invalid, Result};
use crate::memory::try_filled;
use faer::ColRef;

/// `dst` <- the offsets `src`, or 0 for a side the fit did not have.
fn copy_offsets(dst: &mut [f64], src: Option<ColRef<'_, f64>>) {
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
    guarded(model, || {
        // SAFETY: as in wlra_get_offsets.
        let source = unsafe { handle(model) }?.shared("wlra_transform_with_offsets")?;
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
        let a = if a_out.is_null() {
            None
        } else {
            // SAFETY: the caller's contract: n_new writable doubles.
            Some(unsafe { array_mut(a_out, n_new, "a_out") }?)
        };
        let solved = source.transform(m_view, w_view)?;
        out.copy_from(solved.as_ref().subcols(0, k));
        if let Some(a) = a {
            let rows = source.offsets()?.0.map(|_| solved.col(k));
            copy_offsets(a, rows);
        }
        Ok(())
    })
}
