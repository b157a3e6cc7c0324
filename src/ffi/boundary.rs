//! The boundary helper every exported function runs its body in: panics
//! become WLRA_ERROR_INTERNAL (printing nothing, `crate::panics`), errors
//! become status codes, and the message is kept for `wlra_last_error` (on
//! the model and on the calling thread).

use super::wlra_model;
use crate::error::{Error, Result};
use crate::panics;
use crate::vocabulary::status::{status_of, wlra_status, WLRA_OK};
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static THREAD_LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn to_cstring(message: &str) -> CString {
    CString::new(message.replace('\0', " ")).unwrap_or_default()
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error (please report): {detail}")
}

/// Run `body`; on failure record its message on `model` (when not NULL)
/// and on this thread. `model` is only read after `body` has returned, so
/// `body` may hold the model mutably.
pub(crate) fn guarded(model: *const wlra_model, body: impl FnOnce() -> Result<()>) -> wlra_status {
    let inside = panics::enter();
    let result = catch_unwind(AssertUnwindSafe(body))
        .unwrap_or_else(|payload| Err(Error::Internal(panic_message(payload))));
    drop(inside);
    match result {
        Ok(()) => WLRA_OK,
        Err(error) => {
            let text = to_cstring(error.message());
            // SAFETY: a non-NULL `model` is a live handle from wlra_create
            // (the caller's contract), and `body`'s borrows have ended.
            if let Some(model) = unsafe { model.as_ref() } {
                if let Ok(mut slot) = model.last_error.lock() {
                    *slot = text.clone();
                }
            }
            set_thread_last_error(text);
            status_of(&error)
        }
    }
}

/// The calling thread's last failure message; valid until its next call.
pub fn thread_last_error() -> *const c_char {
    THREAD_LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

fn set_thread_last_error(text: CString) {
    let _ = THREAD_LAST_ERROR.try_with(|slot| *slot.borrow_mut() = text);
}
