//! Each rank's column block, the V half-step's rows: sent once per fit from
//! the ranks' row blocks (dense: M and W in the caller's layout; sparse:
//! the pattern's entries by owning column).

use super::comm::Comm;
use super::layout::Layout;
use crate::error::Result;
use crate::memory::{checked_len, try_filled};
use crate::problem::sparse::{CsrInput, SparseProblem, SparseView};
use crate::problem::{DenseProblem, Problem};
use faer::MatRef;

/// This rank's column block, seen as rows (the V half-step's problem).
pub enum ColumnBlock {
    /// n_rows x cols, in the caller's layout: M, then W if given.
    Dense {
        m: Vec<f64>,
        w: Option<Vec<f64>>,
        n: usize,
        cols: usize,
        row_major: bool,
    },
    Sparse(Box<SparseProblem>),
    /// One rank: the columns are the local rows' own, read through them.
    Local,
    /// None received: the V half-steps sum normal equations (`reduced`).
    None,
}

impl ColumnBlock {
    pub fn problem(&self) -> Option<Problem<'_>> {
        match self {
            ColumnBlock::Dense {
                m,
                w,
                n,
                cols,
                row_major,
            } => {
                if *cols == 0 {
                    return None;
                }
                let (n, cols, row_major) = (*n, *cols, *row_major);
                fn view(data: &[f64], n: usize, cols: usize, row_major: bool) -> MatRef<'_, f64> {
                    if row_major {
                        MatRef::from_row_major_slice(data, n, cols)
                    } else {
                        MatRef::from_column_major_slice(data, n, cols)
                    }
                }
                let weights = w.as_deref().map(|w| view(w, n, cols, row_major));
                let dense = DenseProblem::new(view(m, n, cols, row_major), weights);
                Some(Problem::Dense(dense.transposed()))
            }
            ColumnBlock::Sparse(p) => Some(Problem::Sparse(p.view())),
            ColumnBlock::Local | ColumnBlock::None => None,
        }
    }
}

/// Send every rank its columns of M and W (dense): rank q receives the
/// n_rows x |cols[q]| block, in the caller's layout.
pub fn redistribute_dense(
    comm: &mut Comm<'_>,
    layout: &Layout,
    m: MatRef<'_, f64>,
    w: Option<MatRef<'_, f64>>,
    row_major: bool,
) -> Result<ColumnBlock> {
    let parts = 1 + usize::from(w.is_some());
    let n_local = m.nrows();
    let what = "the column blocks to send";
    let mut send = Vec::new();
    crate::memory::try_reserve(
        &mut send,
        checked_len(n_local, m.ncols() * parts, what)?,
        what,
    )?;
    let mut send_counts = Vec::with_capacity(comm.size);
    for cols in &layout.cols {
        for matrix in std::iter::once(m).chain(w) {
            for i in 0..n_local {
                send.extend(cols.clone().map(|j| matrix[(i, j)]));
            }
        }
        send_counts.push(n_local * cols.len() * parts);
    }
    let mine = layout.cols[comm.rank].clone();
    let width = mine.len();
    let recv_counts: Vec<usize> = layout.counts.iter().map(|c| c * width * parts).collect();
    let recv = comm.alltoallv(&send, &send_counts, &recv_counts)?;
    drop(send);
    let n: usize = layout.counts.iter().sum();
    let len = checked_len(n, width, "a column block")?;
    let mut blocks = vec![try_filled(len, 0.0, "a column block of M")?];
    if w.is_some() {
        blocks.push(try_filled(len, 0.0, "a column block of W")?);
    }
    let mut at = 0;
    for r in 0..comm.size {
        let (offset, rows) = (layout.offsets[r], layout.counts[r]);
        for block in blocks.iter_mut() {
            for i in 0..rows {
                for jl in 0..width {
                    let gi = offset + i;
                    let index = if row_major {
                        gi * width + jl
                    } else {
                        jl * n + gi
                    };
                    block[index] = recv[at];
                    at += 1;
                }
            }
        }
    }
    let w_block = if w.is_some() { blocks.pop() } else { None };
    Ok(ColumnBlock::Dense {
        m: blocks.pop().expect("M's block"),
        w: w_block,
        n,
        cols: width,
        row_major,
    })
}

/// A pattern entry on its way: global row, column, m, w.
const FIELDS: usize = 4;

/// Send every pattern entry to the rank that owns its column (sparse); each
/// rank builds its columns as the rows of a CSR problem (columns' entries in
/// increasing row order, senders taken in the order of their rows).
pub fn redistribute_sparse(
    comm: &mut Comm<'_>,
    layout: &Layout,
    local: &SparseView<'_>,
    offset: usize,
    n_rows: usize,
) -> Result<ColumnBlock> {
    let owner = |j: usize| layout.cols.partition_point(|c| c.end <= j);
    let mut counts = vec![0usize; comm.size];
    for i in 0..local.n_rows() {
        for &j in local.row(i).cols {
            counts[owner(j)] += 1;
        }
    }
    let mut starts = vec![0usize; comm.size];
    for q in 1..comm.size {
        starts[q] = starts[q - 1] + counts[q - 1] * FIELDS;
    }
    let total = checked_len(local.nnz(), FIELDS, "the pattern to send")?;
    let mut send = try_filled(total, 0.0, "the pattern to send")?;
    for i in 0..local.n_rows() {
        let row = local.row(i);
        for ((&j, &m), &w) in row.cols.iter().zip(row.values).zip(row.weights) {
            let q = owner(j);
            let s = starts[q];
            // Indices below 2^53 are exact as doubles.
            send[s..s + FIELDS].copy_from_slice(&[(offset + i) as f64, j as f64, m, w]);
            starts[q] += FIELDS;
        }
    }
    let ones = vec![1usize; comm.size];
    let counts_f: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let recv_entries = comm.alltoallv(&counts_f, &ones, &ones)?;
    let recv_counts: Vec<usize> = recv_entries.iter().map(|&c| c as usize * FIELDS).collect();
    let send_counts: Vec<usize> = counts.iter().map(|&c| c * FIELDS).collect();
    let recv = comm.alltoallv(&send, &send_counts, &recv_counts)?;
    drop(send);
    let mine = layout.cols[comm.rank].clone();
    let width = mine.len();
    if width == 0 {
        return Ok(ColumnBlock::Dense {
            m: Vec::new(),
            w: None,
            n: n_rows,
            cols: 0,
            row_major: true,
        });
    }
    let received = Received {
        entries: &recv,
        counts: &recv_counts,
        first_col: mine.start,
    };
    let (row_ptr, col_idx, m_values, w_values) = received.columns(width, &layout.by_offset);
    let input = CsrInput {
        n_rows: width,
        n_cols: n_rows,
        row_ptr: &row_ptr,
        col_idx: &col_idx,
        m_values: &m_values,
        w_values: Some(&w_values),
        m_default: local.m_default(),
        w_default: local.w_default(),
    };
    // Entries whose M was NaN arrive with weight 0 (`sparse_block`), every
    // value in the units the ranks agreed on.
    let block = SparseProblem::new_in_units(&input, false, local.scale())?;
    Ok(ColumnBlock::Sparse(Box::new(block)))
}

/// The pattern entries a rank received (FIELDS doubles each, `counts[r]`
/// doubles from rank r), for its columns from `first_col` on.
struct Received<'a> {
    entries: &'a [f64],
    counts: &'a [usize],
    first_col: usize,
}

/// One column's CSR arrays: row_ptr, col_idx (global rows), m and w values.
type CsrArrays = (Vec<i64>, Vec<i64>, Vec<f64>, Vec<f64>);

impl Received<'_> {
    /// The `width` columns as CSR rows, each column's entries in the order
    /// of their rows: senders taken in `by_offset` order, each sender's in
    /// its row order.
    fn columns(&self, width: usize, by_offset: &[usize]) -> CsrArrays {
        let (recv, first) = (self.entries, self.first_col);
        let nnz = recv.len() / FIELDS;
        let mut displs = vec![0usize; self.counts.len()];
        for r in 1..self.counts.len() {
            displs[r] = displs[r - 1] + self.counts[r - 1];
        }
        let mut row_ptr = vec![0i64; width + 1];
        for e in 0..nnz {
            row_ptr[recv[e * FIELDS + 1] as usize - first + 1] += 1;
        }
        for j in 0..width {
            row_ptr[j + 1] += row_ptr[j];
        }
        let mut next: Vec<usize> = row_ptr[..width].iter().map(|&p| p as usize).collect();
        let (mut col_idx, mut m_values, mut w_values) =
            (vec![0i64; nnz], vec![0.0; nnz], vec![0.0; nnz]);
        for &r in by_offset {
            let entries = &recv[displs[r]..displs[r] + self.counts[r]];
            for e in entries.chunks_exact(FIELDS) {
                let jl = e[1] as usize - first;
                let p = next[jl];
                next[jl] += 1;
                col_idx[p] = e[0] as i64;
                m_values[p] = e[2];
                w_values[p] = e[3];
            }
        }
        (row_ptr, col_idx, m_values, w_values)
    }
}
