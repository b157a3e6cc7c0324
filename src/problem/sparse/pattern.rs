//! One orientation of a sparse pattern (CSR): rows, their columns and
//! values, and the row blocks the parallel loops hand out. The blocks and
//! the longest row depend on the row pointers alone, so they are found
//! once, when the pattern is built: a half-step then makes no list of
//! them (issue 29: after the first iteration an iteration allocates
//! nothing that scales with the problem).

use crate::error::Result;
use crate::kernels::blocking::{ROW_BLOCK, SPARSE_BLOCK_ENTRIES};
use crate::memory::{try_collect, try_filled, try_reserve};
use std::ops::Range;

/// One orientation of the pattern: rows, their columns and values.
pub(crate) struct Pattern {
    pub(super) ptr: Vec<usize>,
    pub(super) idx: Vec<usize>,
    pub(super) m: Vec<f64>,
    pub(super) w: Vec<f64>,
    /// `entry_balanced_blocks` of `ptr`, kept: 16 bytes a block.
    pub(super) blocks: Vec<Range<usize>>,
    /// The most entries in one row (0 without rows).
    pub(super) longest: usize,
}

impl Pattern {
    /// The pattern of these CSR arrays (`ptr` has one more entry than
    /// there are rows), with its row blocks.
    pub(super) fn new(ptr: Vec<usize>, idx: Vec<usize>, m: Vec<f64>, w: Vec<f64>) -> Result<Self> {
        let blocks = block_list(&ptr)?;
        let longest = ptr.windows(2).map(|p| p[1] - p[0]).max().unwrap_or(0);
        Ok(Pattern {
            ptr,
            idx,
            m,
            w,
            blocks,
            longest,
        })
    }

    pub(super) fn row(&self, i: usize) -> Range<usize> {
        self.ptr[i]..self.ptr[i + 1]
    }

    /// The same entries seen by columns (a counting sort, O(nnz + n_cols)).
    pub(super) fn transposed(&self, n_cols: usize) -> Result<Pattern> {
        let nnz = self.idx.len();
        let what = "the pattern by columns";
        let mut ptr = try_filled(n_cols.saturating_add(1), 0usize, what)?;
        for &j in &self.idx {
            ptr[j + 1] += 1;
        }
        for j in 0..n_cols {
            ptr[j + 1] += ptr[j];
        }
        let mut next = try_collect(ptr.iter().copied(), what)?;
        let mut idx = try_filled(nnz, 0, what)?;
        let (mut m, mut w) = (try_filled(nnz, 0.0, what)?, try_filled(nnz, 0.0, what)?);
        for i in 0..self.ptr.len() - 1 {
            for p in self.row(i) {
                let j = self.idx[p];
                let q = next[j];
                next[j] += 1;
                idx[q] = i;
                m[q] = self.m[p];
                w[q] = self.w[p];
            }
        }
        Pattern::new(ptr, idx, m, w)
    }
}

/// `entry_balanced_blocks(ptr)` as a list, reserved fallibly at its
/// length (counted first).
fn block_list(ptr: &[usize]) -> Result<Vec<Range<usize>>> {
    let mut out = Vec::new();
    let count = entry_balanced_blocks(ptr).count();
    try_reserve(&mut out, count, "the list of row blocks")?;
    out.extend(entry_balanced_blocks(ptr));
    Ok(out)
}

/// Consecutive row ranges of at most ROW_BLOCK rows and about
/// SPARSE_BLOCK_ENTRIES pattern entries each, for the rows of CSR row
/// pointers `ptr`: popular items hold most of the entries, and blocks of
/// equal row counts would leave one thread with most of the work. Fixed by
/// the pattern alone, never by the threads. A block ends before the row
/// that would take it past SPARSE_BLOCK_ENTRIES, so each two consecutive
/// blocks hold more than that many entries, or the first is ROW_BLOCK rows
/// long: there are at most n_rows / ROW_BLOCK + 2 nnz /
/// SPARSE_BLOCK_ENTRIES + 1 blocks.
fn entry_balanced_blocks(ptr: &[usize]) -> impl Iterator<Item = Range<usize>> + '_ {
    let n_rows = ptr.len().saturating_sub(1);
    let mut start = 0;
    std::iter::from_fn(move || {
        let first = (start < n_rows).then_some(start)?;
        let mut end = first + 1;
        while end < n_rows
            && end - first < ROW_BLOCK
            && ptr[end + 1] - ptr[first] <= SPARSE_BLOCK_ENTRIES
        {
            end += 1;
        }
        start = end;
        Some(first..end)
    })
}
