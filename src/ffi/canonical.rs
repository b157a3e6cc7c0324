//! The canonical form of the fitted product through the C ABI (added in
//! 1.4): orthonormal U, descending s, orthonormal V (`crate::canonical`).

use super::boundary::guarded;
use super::views::{array_mut, check_layout, MatrixArg};
use super::{handle, wlra_model};
use crate::canonical::canonical_form;
use crate::canonical::Canonical;
use crate::error::invalid;
use crate::error::Result;
use crate::vocabulary::status::wlra_status;
use faer::MatMut;

/// The canonical form of the last fit's (or loaded factors') U V^T (added
/// in 1.4): u (n_rows x rank) and v (n_cols x rank) with orthonormal
/// columns, s (rank doubles) descending and >= 0, u diag(s) v^T = U V^T
/// (offsets not included). Sign convention: in each column of v the entry
/// of largest magnitude is positive (the first such entry on ties). Any of
/// u, s, v may be NULL (not copied). Before a fit WLRA_ERROR_NOT_FITTED;
/// after a distributed fit over several ranks (the model holds only its
/// rank's rows of U) WLRA_ERROR_INVALID_ARGUMENT: wlra_get_canonical_mpi
/// (wlra_mpi.h) is the collective that answers there.
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
                 canonical form needs all of them; call the collective wlra_get_canonical_mpi \
                 on every rank (wlra_mpi.h)",
                fu.nrows()
            )));
        }
        // Check every destination before computing or writing anything.
        let shape = (fu.nrows(), fv.nrows(), source.rank());
        // SAFETY: the caller's contract on u, s, v (this function's).
        let mut out = unsafe { Destinations::check((u, ld_u), s, (v, ld_v), layout, shape) }?;
        out.write(&canonical_form(fu, fv)?);
        Ok(())
    })
}

/// Where the caller wants U_c (or its rows), s and V_c; None: not copied.
/// Every destination is checked before anything is computed or written.
pub(super) struct Destinations<'a> {
    u: Option<MatMut<'a, f64>>,
    s: Option<&'a mut [f64]>,
    v: Option<MatMut<'a, f64>>,
}

impl Destinations<'_> {
    /// `u` (u_rows x k), `s` (k) and `v` (v_rows x k), each NULL or checked
    /// against its leading dimension and `layout`.
    ///
    /// # Safety
    /// Each non-NULL pointer is writable as described.
    pub(super) unsafe fn check(
        (u, ld_u): (*mut f64, usize),
        s: *mut f64,
        (v, ld_v): (*mut f64, usize),
        layout: i32,
        (u_rows, v_rows, k): (usize, usize, usize),
    ) -> Result<Self> {
        let arg = |name, ld_name, rows, ld| MatrixArg {
            name,
            ld_name,
            rows,
            cols: k,
            ld,
            layout,
        };
        // SAFETY: the caller's contract; view_mut checks ld, array_mut the
        // pointer.
        unsafe {
            Ok(Destinations {
                u: match u.is_null() {
                    true => None,
                    false => Some(arg("u", "ld_u", u_rows, ld_u).view_mut(u)?),
                },
                s: match s.is_null() {
                    true => None,
                    false => Some(array_mut(s, k, "s")?),
                },
                v: match v.is_null() {
                    true => None,
                    false => Some(arg("v", "ld_v", v_rows, ld_v).view_mut(v)?),
                },
            })
        }
    }

    /// Copy the canonical form into the destinations asked for.
    pub(super) fn write(&mut self, canonical: &Canonical) {
        if let Some(dst) = self.u.as_mut() {
            dst.copy_from(&canonical.u);
        }
        if let Some(dst) = self.v.as_mut() {
            dst.copy_from(&canonical.v);
        }
        if let Some(dst) = self.s.as_mut() {
            dst.copy_from_slice(&canonical.s);
        }
    }
}
