//! A 200,000 x 100,000 sparse problem with 2 million entries fits without
//! anything of size n x m: dense W alone would be 160 GB; the peak heap of
//! the whole fit is measured by a counting allocator (issue 7) against a
//! limit computed from nnz, n, m and k (issue 12).

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use wlra::problem::sparse::{CsrInput, SparseProblem};
use wlra::vocabulary::*;
use wlra::Model;

#[test]
fn huge_sparse_problem_fits_in_memory_proportional_to_its_entries() {
    let (n, m, per_row) = (200_000usize, 100_000usize, 10usize);
    let mut state = 7u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut row_ptr = Vec::with_capacity(n + 1);
    let mut col_idx = Vec::with_capacity(n * per_row);
    let mut values = Vec::with_capacity(n * per_row);
    row_ptr.push(0i64);
    for _ in 0..n {
        let mut cols: Vec<i64> = (0..per_row).map(|_| (next() % m as u64) as i64).collect();
        cols.sort_unstable();
        cols.dedup();
        for c in cols {
            col_idx.push(c);
            values.push(1.0 + (next() % 5) as f64);
        }
        row_ptr.push(col_idx.len() as i64);
    }
    let nnz = col_idx.len();
    let weights: Vec<f64> = values.iter().map(|c| 1.0 + 10.0 * c).collect();
    let before = counting_alloc::reset_peak();
    let problem = SparseProblem::new(&CsrInput {
        n_rows: n,
        n_cols: m,
        row_ptr: &row_ptr,
        col_idx: &col_idx,
        m_values: &vec![1.0; nnz],
        w_values: Some(&weights),
        m_default: 0.0,
        w_default: 1.0,
    })
    .unwrap();
    let mut model = Model::new(4).unwrap();
    model.set_option(WLRA_OPTION_MAX_ITERATIONS, 2.0).unwrap();
    model.fit(problem.view()).unwrap();
    let peak = counting_alloc::peak_since(before) as f64;
    let limit = sparse_fit_heap_limit(nnz, n, m, 4) as f64;
    let dense = (n * m * 8) as f64;
    println!(
        "nnz {nnz}: peak extra heap {:.0} MiB (limit {:.0} MiB), against {:.0} GiB for one \
         dense n x m matrix",
        peak / 1048576.0,
        limit / 1048576.0,
        dense / 1073741824.0
    );
    assert!(model.info(WLRA_INFO_OBJECTIVE).unwrap().is_finite());
    assert!(
        peak <= limit,
        "peak {peak} bytes for {nnz} entries, limit {limit}"
    );
}

/// The heap a sparse fit may use, from the problem alone: the pattern in
/// both orientations (index, M and W values: 48 bytes an entry, plus the row
/// and column pointers), five live (n + m) x (k + 10) blocks of factors and
/// range-finder work, and the GEMM packing buffer of each pool thread.
fn sparse_fit_heap_limit(nnz: usize, n: usize, m: usize, k: usize) -> usize {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    48 * nnz
        + 8 * (n + m + 2)
        + 5 * 8 * (n + m) * (k + 10)
        + threads * wlra::internals::gemm_workspace_bytes_per_thread()
}
