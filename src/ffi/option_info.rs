//! The option table through the C ABI (modelled on zstd's
//! ZSTD_cParam_getBounds): a caller or binding asks the library what an
//! option accepts instead of copying its bounds.

use super::boundary::guarded;
use crate::vocabulary::option_table::spec_of;
use crate::vocabulary::status::wlra_status;
use std::ffi::c_char;

/// `*out = value` unless `out` is NULL (not wanted).
///
/// # Safety
/// `out` is NULL or valid for one write of a `T`.
unsafe fn write_if_wanted<T>(out: *mut T, value: T) {
    // SAFETY: the caller's contract.
    if let Some(slot) = unsafe { out.as_mut() } {
        *slot = value;
    }
}

/// Describe one WLRA_OPTION_* (added in 1.2): its C name (static storage,
/// e.g. "WLRA_OPTION_SEED"), the smallest and the largest value
/// wlra_set_option accepts, and its default. Every value v with
/// min <= v <= max is accepted (a whole number for integer options),
/// except WLRA_OPTION_FOLDS = 1; a real option unbounded above has max =
/// DBL_MAX, one bounded by an open interval the nearest doubles inside it.
/// Any out-pointer may be NULL (not wanted). The ids run from 1 without
/// gaps: an unknown option is WLRA_ERROR_INVALID_ARGUMENT and writes
/// nothing.
///
/// # Safety
/// `name`, `min`, `max` and `default_value` are each NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn wlra_option_info(
    option: i32,
    name: *mut *const c_char,
    min: *mut f64,
    max: *mut f64,
    default_value: *mut f64,
) -> wlra_status {
    guarded(std::ptr::null(), || {
        let spec = spec_of(option)?;
        // SAFETY: each pointer is NULL or writable (this function's
        // contract); the name is a static, NUL-terminated string.
        unsafe {
            write_if_wanted(name, spec.c_name.as_ptr());
            write_if_wanted(min, spec.min());
            write_if_wanted(max, spec.max());
            write_if_wanted(default_value, spec.default);
        }
        Ok(())
    })
}
