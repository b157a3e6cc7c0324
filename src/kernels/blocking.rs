//! How work is cut into blocks, and every block size with its reason. The
//! sizes are constants, never derived from the thread count or the machine:
//! each block's sums then run in one fixed order, which is what keeps the
//! results bitwise identical whatever the number of threads. Parallel loops
//! hand out whole blocks and collect them in block order.

use crate::error::Result;
use crate::memory::{try_collect, try_reserve, try_zeros};
use faer::{Mat, MatMut, Par};
use rayon::prelude::*;
use std::ops::Range;

/// Rows of the data per task of the dense products and half-steps: enough
/// rows that a task's GEMMs are well shaped, few enough that a block's
/// buffers (ROW_BLOCK x COL_BLOCK, ROW_BLOCK x m weights) stay small and
/// that n = 1000 still splits into eight tasks.
pub(crate) const ROW_BLOCK: usize = 128;
/// Columns of the data materialized at once within a row block: a
/// ROW_BLOCK x COL_BLOCK block of W o M is 256 KiB, inside L2 while the GEMM
/// that consumes it runs.
pub(crate) const COL_BLOCK: usize = 256;
/// Rows per task of tall-skinny products (a^T a, a b, triangular solves on
/// n x k factors): these are cheap per row, so tasks must be large for the
/// scheduling to pay.
pub(crate) const TALL_ROW_BLOCK: usize = 1024;
/// Rows per task of the layout copies of a factor (`rows_contiguous`): 64
/// rows of k doubles are written while the k source columns stay in L1.
pub(crate) const COPY_ROW_BLOCK: usize = 64;
/// Columns of W per operator chunk of the batched CG: the rb x CG_CHUNK
/// products (256 KiB at rb = 128) stay in L2 between the two GEMMs that
/// make and use them.
pub(crate) const CG_CHUNK: usize = 256;
/// Pattern entries per row block of the sparse loops (with at most
/// ROW_BLOCK rows): popular items hold most of the entries, and blocks of
/// equal row counts would leave one thread with most of the work.
pub(crate) const SPARSE_BLOCK_ENTRIES: usize = 8192;

/// Consecutive ranges of at most `size` covering 0..len, in order.
pub fn blocks(len: usize, size: usize) -> impl ExactSizeIterator<Item = Range<usize>> + Clone {
    let size = size.max(1);
    (0..len.div_ceil(size)).map(move |b| b * size..((b + 1) * size).min(len))
}

/// `blocks(len, size)` as a list, reserved fallibly.
pub fn block_list(len: usize, size: usize) -> Result<Vec<Range<usize>>> {
    try_collect(blocks(len, size), "the list of row blocks")
}

/// Stack row blocks (in order) into one n x width matrix.
pub fn stack_rows(parts: &[Mat<f64>], n: usize, width: usize) -> Result<Mat<f64>> {
    let mut out = try_zeros(n, width, "a half-step's solution")?;
    let mut start = 0;
    for part in parts {
        out.as_mut()
            .subrows_mut(start, part.nrows())
            .copy_from(part);
        start += part.nrows();
    }
    Ok(out)
}

/// `out` cut into consecutive blocks of `size` rows, each with its row
/// range, for `map_owned_with` to write in parallel (the list is reserved
/// fallibly; its length is the block count).
pub fn row_blocks_of(
    out: MatMut<'_, f64>,
    size: usize,
) -> Result<Vec<(Range<usize>, MatMut<'_, f64>)>> {
    let n = out.nrows();
    let mut parts = Vec::new();
    try_reserve(
        &mut parts,
        n.div_ceil(size.max(1)),
        "the list of row blocks",
    )?;
    let mut rest = out;
    for rows in blocks(n, size) {
        let (head, tail) = rest.split_at_row_mut(rows.len());
        parts.push((rows, head));
        rest = tail;
    }
    Ok(parts)
}

/// How many runs of consecutive items `map_blocks_with` and
/// `map_owned_with` split `items` items into at most: one per thread.
pub fn runs(par: Par, items: usize) -> usize {
    match par {
        Par::Seq => 1,
        Par::Rayon(threads) => threads.get().min(items),
    }
}

/// The parallelism of the rayon pool installed now, as a faer `Par`: read
/// once by the entry points that the driver and init call without a `Par`
/// (`Problem`'s products, `thin_qr`, `tall_times_small`), which pass it
/// down explicitly from there.
pub fn current_par() -> Par {
    match rayon::current_num_threads() {
        0 | 1 => Par::Seq,
        n => Par::rayon(n),
    }
}

/// Storage for one result per item, reserved fallibly, so collecting a
/// parallel loop's results never allocates.
fn results_for<R>(len: usize) -> Result<Vec<R>> {
    let mut v = Vec::new();
    try_reserve(&mut v, len, "the results of a parallel loop")?;
    Ok(v)
}

/// The results in item order, or the first item's error.
fn first_error<R>(results: Vec<Result<R>>) -> Result<Vec<R>> {
    let mut out = results_for(results.len())?;
    for r in results {
        out.push(r?);
    }
    Ok(out)
}

/// `f` over `items`, collected in item order: on the current rayon pool
/// when `par` is `Par::Rayon`, else on this thread. Each item's work is
/// sequential, so the results are the same either way. The first error (in
/// item order) is returned instead.
pub fn map_blocks<T: Sync, R: Send>(
    par: Par,
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    let mut results = results_for(items.len())?;
    match par {
        Par::Seq => results.extend(items.iter().map(f)),
        Par::Rayon(_) => items.par_iter().map(f).collect_into_vec(&mut results),
    }
    first_error(results)
}

/// `map_blocks` with one workspace per thread: `init` runs once per
/// thread's run of consecutive items (at most as many runs as threads), and
/// `f` reuses it across them. `f` must overwrite whatever of the workspace
/// it reads, so results do not depend on the grouping. A workspace that
/// could not be had fails each item it would have served.
pub fn map_blocks_with<T: Sync, W, R: Send>(
    par: Par,
    items: &[T],
    init: impl Fn() -> Result<W> + Sync + Send,
    f: impl Fn(&mut W, &T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    let mut results = Vec::new();
    map_blocks_with_into(par, items, init, f, &mut results)?;
    first_error(results)
}

/// `map_blocks_with`, each item's result (or error) left in `results` in
/// item order: a list the caller keeps from one loop to the next, so a
/// loop run again over as many items allocates none (issue 29). Errs only
/// when `results` cannot grow; read it with `ordered`.
pub fn map_blocks_with_into<T: Sync, W, R: Send>(
    par: Par,
    items: &[T],
    init: impl Fn() -> Result<W> + Sync + Send,
    f: impl Fn(&mut W, &T) -> Result<R> + Sync + Send,
    results: &mut Vec<Result<R>>,
) -> Result<()> {
    results.clear();
    // Reserved here, so collect_into_vec's own reserve never allocates.
    try_reserve(results, items.len(), "the results of a parallel loop")?;
    let f = |ws: &mut Result<W>, item: &T| match ws {
        Ok(ws) => f(ws, item),
        Err(error) => Err(error.clone()),
    };
    match par {
        Par::Seq => {
            let mut workspace = init();
            results.extend(items.iter().map(|item| f(&mut workspace, item)));
        }
        Par::Rayon(threads) => items
            .par_iter()
            .with_min_len(items.len().div_ceil(threads.get()))
            .map_init(init, f)
            .collect_into_vec(results),
    }
    Ok(())
}

/// The results `map_blocks_with_into` left, in item order, or a copy of
/// the first item's error.
pub fn ordered<R>(results: &[Result<R>]) -> Result<impl Iterator<Item = &R>> {
    if let Some(Err(error)) = results.iter().find(|r| r.is_err()) {
        return Err(error.clone());
    }
    Ok(results.iter().flatten())
}

/// `f(workspace, rows, out's rows)` for each of `blocks` (consecutive row
/// ranges covering `out`, in order), the results folded with `combine`
/// from `R::default()`. Like `map_owned_with` over `out` cut at `blocks`,
/// but neither the cut nor the results make a list (issue 29): the blocks
/// are split into `runs(par, blocks.len())` runs of consecutive blocks, by
/// halving the runs with `rayon::join`, and each run works through its
/// blocks in order with one workspace from `init`. `combine` must not
/// depend on the grouping (as a sum of counts). The first error in block
/// order is returned.
pub fn fold_row_blocks_with<W, R: Send + Default>(
    par: Par,
    blocks: &[Range<usize>],
    out: MatMut<'_, f64>,
    init: impl Fn() -> Result<W> + Sync,
    f: impl Fn(&mut W, Range<usize>, MatMut<'_, f64>) -> Result<R> + Sync,
    combine: impl Fn(R, R) -> R + Sync,
) -> Result<R> {
    let fold = RowBlockFold {
        init: &init,
        f: &f,
        combine: &combine,
    };
    fold.in_runs(blocks, out, runs(par, blocks.len()))
}

/// The closures of one `fold_row_blocks_with`.
struct RowBlockFold<'c, I, F, C> {
    init: &'c I,
    f: &'c F,
    combine: &'c C,
}

impl<I, F, C> RowBlockFold<'_, I, F, C> {
    /// `blocks` (covering `out`) in `count` runs: the first half's runs
    /// on this thread, the second half's offered to the pool.
    fn in_runs<W, R: Send + Default>(
        &self,
        blocks: &[Range<usize>],
        out: MatMut<'_, f64>,
        count: usize,
    ) -> Result<R>
    where
        I: Fn() -> Result<W> + Sync,
        F: Fn(&mut W, Range<usize>, MatMut<'_, f64>) -> Result<R> + Sync,
        C: Fn(R, R) -> R + Sync,
    {
        if count <= 1 {
            return self.one_run(blocks, out);
        }
        // Each half keeps at least one block per run: count <= blocks.len().
        let first_runs = count / 2;
        let (first, second) = blocks.split_at(blocks.len() * first_runs / count);
        let first_rows = first.iter().map(|rows| rows.len()).sum();
        let (top, bottom) = out.split_at_row_mut(first_rows);
        let (a, b) = rayon::join(
            || self.in_runs(first, top, first_runs),
            || self.in_runs(second, bottom, count - first_runs),
        );
        Ok((self.combine)(a?, b?))
    }

    /// `blocks` in order on this thread, with one workspace.
    fn one_run<W, R: Default>(&self, blocks: &[Range<usize>], out: MatMut<'_, f64>) -> Result<R>
    where
        I: Fn() -> Result<W>,
        F: Fn(&mut W, Range<usize>, MatMut<'_, f64>) -> Result<R>,
        C: Fn(R, R) -> R,
    {
        let mut workspace = (self.init)()?;
        let (mut folded, mut rest) = (R::default(), out);
        for rows in blocks {
            let (head, tail) = rest.split_at_row_mut(rows.len());
            folded = (self.combine)(folded, (self.f)(&mut workspace, rows.clone(), head)?);
            rest = tail;
        }
        Ok(folded)
    }
}

/// `f(block index, rows)` for consecutive blocks of `size` rows of `out`,
/// in parallel on the current rayon pool when `par` is `Par::Rayon`.
pub fn for_each_row_block(
    par: Par,
    out: MatMut<'_, f64>,
    size: usize,
    f: impl Fn(usize, MatMut<'_, f64>) + Sync + Send,
) {
    match par {
        Par::Seq => {
            let mut out = out;
            for (b, rows) in blocks(out.nrows(), size).enumerate() {
                f(b, out.as_mut().subrows_mut(rows.start, rows.len()));
            }
        }
        Par::Rayon(_) => out
            .par_row_chunks_mut(size)
            .enumerate()
            .for_each(|(b, rows)| f(b, rows)),
    }
}

/// `map_blocks_with` over owned items (such as disjoint output slices).
pub fn map_owned_with<T: Send, W, R: Send>(
    par: Par,
    items: Vec<T>,
    init: impl Fn() -> Result<W> + Sync + Send,
    f: impl Fn(&mut W, T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    let mut results = results_for(items.len())?;
    let f = |ws: &mut Result<W>, item: T| match ws {
        Ok(ws) => f(ws, item),
        Err(error) => Err(error.clone()),
    };
    match par {
        Par::Seq => {
            let mut workspace = init();
            results.extend(items.into_iter().map(|item| f(&mut workspace, item)));
        }
        Par::Rayon(threads) => {
            let min_len = items.len().div_ceil(threads.get());
            items
                .into_par_iter()
                .with_min_len(min_len)
                .map_init(init, f)
                .collect_into_vec(&mut results)
        }
    }
    first_error(results)
}
