//! A model's own thread pool, joined when it is dropped. rayon's pool lets
//! its threads wind down after the pool is gone; a host that unloads the
//! library (dlclose) right after wlra_destroy would then pull the code from
//! under them. Here the pool's threads are spawned by this module, which
//! keeps their join handles, and dropping the pool waits until every one
//! has exited, thread-local destructors included.
//!
//! A forked child inherits the pool but not its threads (fork copies only
//! the calling thread): work sent there would wait forever. The pool
//! remembers the process that started it; in any other process it is
//! `stale`, and its owner replaces it (`Model::pool`) and leaks the old one
//! (its threads cannot be told to exit or joined: they do not exist here).

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

pub struct JoinedPool {
    pool: Option<rayon::ThreadPool>,
    threads: Vec<JoinHandle<()>>,
    /// The process whose threads these are.
    process: u32,
}

impl JoinedPool {
    /// `threads` threads named wlra-0, wlra-1, ..., each marked as running
    /// library code only (`crate::panics`). When some thread cannot start,
    /// those that did are joined before the error returns.
    pub fn new(threads: usize) -> Result<JoinedPool> {
        let handles = Arc::new(Mutex::new(Vec::new()));
        let spawned = Arc::clone(&handles);
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("wlra-{i}"))
            .start_handler(|_| crate::panics::mark_library_thread())
            .spawn_handler(move |thread| {
                let mut builder = std::thread::Builder::new();
                if let Some(name) = thread.name() {
                    builder = builder.name(name.to_owned());
                }
                if let Some(size) = thread.stack_size() {
                    builder = builder.stack_size(size);
                }
                let handle = builder.spawn(|| thread.run())?;
                spawned
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(handle);
                Ok(())
            })
            .build();
        let started = std::mem::take(&mut *handles.lock().unwrap_or_else(PoisonError::into_inner));
        match built {
            Ok(pool) => Ok(JoinedPool {
                pool: Some(pool),
                threads: started,
                process: std::process::id(),
            }),
            Err(e) => {
                // rayon has told the threads that started to terminate;
                // wait until they have, so none outlives the failed call.
                for thread in started {
                    let _ = thread.join();
                }
                Err(Error::OutOfMemory(format!(
                    "could not start {threads} threads: {e}"
                )))
            }
        }
    }

    /// Whether the pool was started by another process (this one is a
    /// forked child): its threads are not here.
    pub fn stale(&self) -> bool {
        self.process != std::process::id()
    }
}

impl std::ops::Deref for JoinedPool {
    type Target = rayon::ThreadPool;

    fn deref(&self) -> &rayon::ThreadPool {
        self.pool.as_ref().expect("present until dropped")
    }
}

impl Drop for JoinedPool {
    fn drop(&mut self) {
        if self.stale() {
            // In a forked child: the threads (and the locks rayon would
            // take to wake them) belong to the parent. Leak the pool.
            std::mem::forget(self.pool.take());
            std::mem::forget(std::mem::take(&mut self.threads));
            return;
        }
        // Dropping the pool tells its idle threads to exit; joining waits
        // until they have. Never called from a pool thread: models are
        // dropped by their owner's thread, outside any fit.
        drop(self.pool.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
