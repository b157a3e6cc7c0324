//! Panics inside the library are bugs the C boundary reports as
//! WLRA_ERROR_INTERNAL; they must print nothing on the host's stderr. One
//! panic hook, installed once, stays silent while this thread runs library
//! code (a depth counter) and hands every other panic to the hook it found.

use std::cell::Cell;
use std::panic;
use std::sync::Once;

thread_local! {
    /// How many library calls this thread is inside (the progress callback
    /// sets it to 0 while it runs: that is the host's code).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// The thread runs library code while this lives.
pub(crate) struct Inside(());

impl Drop for Inside {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Enter library code on this thread; the first call installs the hook.
pub(crate) fn enter() -> Inside {
    install_quiet_hook();
    let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
    Inside(())
}

/// Run the host's code (the progress callback) as the host's: a panic in
/// it goes to the host's hook.
pub(crate) fn as_host<R>(host_code: impl FnOnce() -> R) -> R {
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = DEPTH.try_with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DEPTH.try_with(|d| d.replace(0)).unwrap_or(0));
    host_code()
}

/// For the threads of the library's own pools: they only ever run library
/// code, so they count as inside for good.
pub(crate) fn mark_library_thread() {
    let _ = DEPTH.try_with(|d| d.set(1));
}

fn inside() -> bool {
    DEPTH.try_with(|d| d.get() > 0).unwrap_or(false)
}

fn install_quiet_hook() {
    static INSTALL: Once = Once::new();
    // set_hook panics on a panicking thread (a host calling wlra from a
    // Drop during unwinding): install on a later call instead.
    if std::thread::panicking() {
        return;
    }
    INSTALL.call_once(|| {
        let host_hook = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !inside() {
                host_hook(info);
            }
        }));
    });
}
