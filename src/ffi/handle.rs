//! The handle C holds, and its busy guard. While a fit runs, the model is
//! leased to it: every other call that reads or changes the model (from
//! the progress callback or from another thread) gets WLRA_ERROR_BUSY
//! before any reference to the model is made, so a `&mut Model` never
//! aliases another reference, and nothing a fit uses (its callback, its
//! thread pool, its options) can be freed or changed under it.

use crate::error::{Error, Result};
use crate::model::Model;
use std::cell::UnsafeCell;
use std::ffi::CString;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Opaque handle: one per fit problem, created by wlra_create and freed by
/// wlra_destroy.
#[allow(non_camel_case_types)]
pub struct wlra_model {
    /// Reached only through a lease (`exclusive`, `shared`).
    model: UnsafeCell<Model>,
    /// IDLE, EXCLUSIVE, or how many shared leases are out.
    lease: AtomicUsize,
    /// Outside the lease: wlra_last_error works while the model is busy.
    pub(super) last_error: Mutex<CString>,
}

const IDLE: usize = 0;
const EXCLUSIVE: usize = usize::MAX;

fn busy(call: &str) -> Error {
    Error::Busy(format!(
        "{call}: the model is busy (a fit is running on it, called from its progress \
         callback or from another thread); nothing was changed, call it again after \
         wlra_fit returns"
    ))
}

impl wlra_model {
    pub(super) fn new(model: Model) -> wlra_model {
        wlra_model {
            model: UnsafeCell::new(model),
            lease: AtomicUsize::new(IDLE),
            last_error: Mutex::new(CString::default()),
        }
    }

    /// The model alone, for a call that changes it (a fit holds this lease
    /// until it returns). `call` names the function in the BUSY message.
    pub(super) fn exclusive(&self, call: &str) -> Result<Exclusive<'_>> {
        self.lease
            .compare_exchange(IDLE, EXCLUSIVE, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| busy(call))?;
        Ok(Exclusive { handle: self })
    }

    /// The model for reading: any number of readers at once, none while an
    /// exclusive lease (a fit) is out.
    pub(super) fn shared(&self, call: &str) -> Result<Shared<'_>> {
        self.lease
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| {
                // Lazily: n + 1 would overflow when n is EXCLUSIVE.
                (n < EXCLUSIVE - 1).then(|| n + 1)
            })
            .map_err(|_| busy(call))?;
        Ok(Shared { handle: self })
    }

    /// Take the model for good (wlra_destroy): only when no lease is out.
    pub(super) fn try_retire(&self) -> Result<()> {
        self.lease
            .compare_exchange(IDLE, EXCLUSIVE, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| ())
            .map_err(|_| {
                Error::Busy(
                    "wlra_destroy: the model is busy (a fit is running on it); it was not \
                     destroyed, destroy it after wlra_fit returns"
                        .into(),
                )
            })
    }
}

/// The only reference to the model while it lives; released on drop, so on
/// every path out of a call (error, cancel, panic unwinding to `guarded`).
pub(super) struct Exclusive<'h> {
    handle: &'h wlra_model,
}

impl Deref for Exclusive<'_> {
    type Target = Model;
    fn deref(&self) -> &Model {
        // SAFETY: the exclusive lease is held: no other reference exists.
        unsafe { &*self.handle.model.get() }
    }
}

impl DerefMut for Exclusive<'_> {
    fn deref_mut(&mut self) -> &mut Model {
        // SAFETY: the exclusive lease is held: no other reference exists,
        // and `&mut self` makes this one unique while it lives.
        unsafe { &mut *self.handle.model.get() }
    }
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        self.handle.lease.store(IDLE, Ordering::Release);
    }
}

/// A reader's reference to the model; released on drop.
pub(super) struct Shared<'h> {
    handle: &'h wlra_model,
}

impl Deref for Shared<'_> {
    type Target = Model;
    fn deref(&self) -> &Model {
        // SAFETY: a shared lease is held: no exclusive one (and so no
        // `&mut Model`) exists until every shared lease is dropped.
        unsafe { &*self.handle.model.get() }
    }
}

impl Drop for Shared<'_> {
    fn drop(&mut self) {
        self.handle.lease.fetch_sub(1, Ordering::Release);
    }
}
