//! A model's own thread pool, joined when it is dropped. rayon's pool lets
//! its threads wind down after the pool is gone; a host that unloads the
//! library (dlclose) right after wlra_destroy would then pull the code from
//! under them. Here the pool's threads are spawned by this module, which
//! keeps their join handles, and dropping the pool waits until every one
//! has exited, thread-local destructors included.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

pub struct JoinedPool {
    pool: Option<rayon::ThreadPool>,
    threads: Vec<JoinHandle<()>>,
}

impl JoinedPool {
    /// `threads` threads named wlra-0, wlra-1, ..., each marked as running
    /// library code only (`crate::panics`).
    pub fn new(threads: usize) -> Result<JoinedPool> {
        let handles = Arc::new(Mutex::new(Vec::new()));
        let spawned = Arc::clone(&handles);
        let pool = rayon::ThreadPoolBuilder::new()
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
            .build()
            .map_err(|e| Error::OutOfMemory(format!("could not start {threads} threads: {e}")))?;
        let threads = std::mem::take(&mut *handles.lock().unwrap_or_else(PoisonError::into_inner));
        Ok(JoinedPool {
            pool: Some(pool),
            threads,
        })
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
        // Dropping the pool tells its idle threads to exit; joining waits
        // until they have. Never called from a pool thread: models are
        // dropped by their owner's thread, outside any fit.
        drop(self.pool.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
