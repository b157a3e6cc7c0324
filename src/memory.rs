//! Large buffers reserved fallibly, so that running out of memory (an
//! address-space limit, strict overcommit) becomes `Error::OutOfMemory` and
//! never aborts the host process.
//!
//! A fit's own allocations go through `try_zeros` / `try_filled`. The GEMM
//! that faer calls on x86-64 keeps a packing buffer per thread; the vendored
//! patch (vendor/README.md) bounds it to `gemm_workspace_bytes_per_thread()`
//! and lets `reserve_gemm_workspaces` reserve it fallibly on every pool thread
//! before a fit, so the GEMM itself never allocates.

use crate::error::{Error, Result};
use faer::Mat;

fn out_of_memory(what: &str, bytes: usize) -> Error {
    Error::OutOfMemory(format!(
        "could not allocate {:.1} MiB for {what}",
        bytes as f64 / 1048576.0
    ))
}

/// Bytes of `count` f64 values, saturating so absurd sizes fail to allocate
/// instead of wrapping.
fn f64_bytes(count: usize) -> usize {
    count.saturating_mul(size_of::<f64>())
}

/// A zero `rows x cols` matrix, or `OutOfMemory` naming `what`.
pub fn try_zeros(rows: usize, cols: usize, what: &str) -> Result<Mat<f64>> {
    let mut mat = Mat::new();
    mat.try_reserve(rows, cols)
        .map_err(|_| out_of_memory(what, f64_bytes(rows.saturating_mul(cols))))?;
    // Within the capacity just reserved: no further allocation.
    mat.resize_with(rows, cols, |_, _| 0.0);
    Ok(mat)
}

/// `len` copies of `value`, or `OutOfMemory` naming `what`.
pub fn try_filled<T: Clone>(len: usize, value: T, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| out_of_memory(what, len.saturating_mul(size_of::<T>())))?;
    v.resize(len, value);
    Ok(v)
}

/// The packing buffer faer's GEMM keeps on each thread that calls it.
pub fn gemm_workspace_bytes_per_thread() -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        private_gemm_x86::thread_workspace_bytes()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Reserve the GEMM packing buffer on every thread of `pool` (a no-op where
/// it is already there).
pub fn reserve_gemm_workspaces(pool: &rayon::ThreadPool) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    {
        let failed = pool
            .broadcast(|_| private_gemm_x86::try_reserve_thread_workspace().is_err())
            .into_iter()
            .filter(|&f| f)
            .count();
        if failed > 0 {
            return Err(out_of_memory(
                &format!("the GEMM packing buffers of {failed} threads"),
                failed * gemm_workspace_bytes_per_thread(),
            ));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = pool;
    Ok(())
}
