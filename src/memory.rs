//! Large buffers reserved fallibly, so that running out of memory (an
//! address-space limit, strict overcommit) becomes `Error::OutOfMemory` and
//! never aborts the host process.
//!
//! A fit's own allocations whose size depends on the input go through the
//! helpers here (`try_zeros`, `try_filled`, `try_copy`, `try_from_fn`,
//! `try_buffer`, `try_collect`, `checked_len`), so a failure is an `Err` that
//! the caller propagates with `?`; none of them ever calls the global
//! allocation error handler (which aborts the process). The GEMM
//! that faer calls on x86-64 keeps a packing buffer per thread; the vendored
//! patch (vendor/README.md) bounds it to `gemm_workspace_bytes_per_thread()`
//! and lets `reserve_gemm_workspaces` reserve it fallibly on every pool thread
//! before a fit, so the GEMM itself never allocates.

use crate::error::{Error, Result};
use faer::dyn_stack::{MemBuffer, StackReq};
use faer::{Mat, MatRef};

pub(crate) fn out_of_memory(what: &str, bytes: usize) -> Error {
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

/// A `rows x cols` matrix with entries `f(i, j)` (filled column by column,
/// as `Mat::from_fn`), or `OutOfMemory` naming `what`.
pub fn try_from_fn(
    rows: usize,
    cols: usize,
    f: impl FnMut(usize, usize) -> f64,
    what: &str,
) -> Result<Mat<f64>> {
    let mut mat = Mat::new();
    mat.try_reserve(rows, cols)
        .map_err(|_| out_of_memory(what, f64_bytes(rows.saturating_mul(cols))))?;
    // Within the capacity just reserved: no further allocation.
    mat.resize_with(rows, cols, f);
    Ok(mat)
}

/// An owned copy of `a` (what `to_owned` gives), or `OutOfMemory`.
pub fn try_copy(a: MatRef<'_, f64>, what: &str) -> Result<Mat<f64>> {
    try_from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)], what)
}

/// The first `cols` columns of the `rows x rows` identity (`Mat::identity`).
pub fn try_identity(rows: usize, cols: usize, what: &str) -> Result<Mat<f64>> {
    try_from_fn(rows, cols, |i, j| if i == j { 1.0 } else { 0.0 }, what)
}

/// faer's scratch for `req`, or `OutOfMemory` (faer's `MemBuffer::new`
/// unwraps the same failure).
pub fn try_buffer(req: StackReq, what: &str) -> Result<MemBuffer> {
    MemBuffer::try_new(req).map_err(|_| out_of_memory(what, req.size_bytes()))
}

/// The items of an iterator of known length, collected into storage
/// reserved fallibly first.
pub fn try_collect<T>(items: impl ExactSizeIterator<Item = T>, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    let len = items.len();
    v.try_reserve_exact(len)
        .map_err(|_| out_of_memory(what, len.saturating_mul(size_of::<T>())))?;
    v.extend(items);
    Ok(v)
}

/// Reserve room for `additional` more items in `v`, or `OutOfMemory`.
pub fn try_reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Result<()> {
    v.try_reserve(additional)
        .map_err(|_| out_of_memory(what, additional.saturating_mul(size_of::<T>())))
}

/// `a * b` elements, or `OutOfMemory` when the product does not fit in a
/// `usize` (no buffer of that size could ever be allocated).
pub fn checked_len(a: usize, b: usize, what: &str) -> Result<usize> {
    a.checked_mul(b)
        .ok_or_else(|| out_of_memory(what, usize::MAX))
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
