//! The distributed alternating fit. Each rank holds a block of rows of M
//! and W; the columns are split evenly and each rank receives its column
//! block once per fit. A U half-step solves the local rows against the
//! full V, a V half-step the local columns against the full U, and each
//! ends with an allgatherv of the new rows, so every rank holds both
//! factors whole (every row of a dense problem touches every column).
//!
//! Determinism: every rank runs the single-process alternation on identical
//! bits. The factors are whole everywhere, so the start (the global random
//! factors), the thin QR of the fixed factor (ridge = 0) and the ridge
//! penalty are computed redundantly; each row is solved by the library's
//! own exact solver against the same fixed factor; and the objective's
//! per-row partial sums are gathered and added in global row order. The
//! rank count changes none of these.

use super::comm::{Comm, Phase};
use crate::error::{fmt_g, invalid, Error, Result};
use crate::init::{random_factors, Factors};
use crate::kernels::blocking::current_par;
use crate::kernels::gram::gram;
use crate::memory::{checked_len, try_filled, try_from_fn};
use crate::options::{InitChoice, MethodChoice, Options, SolverChoice};
use crate::outer::alternating::{alternate, prepare_fixed, relax, warm_start};
use crate::outer::sides::{Sides, StepSettings};
use crate::outer::{FitOutcome, Method, Progress};
use crate::problem::sparse::{CsrInput, SparseProblem, SparseView};
use crate::problem::{DenseProblem, Problem};
use crate::solver::{HalfStep, HalfStepSolver, SolverKind};
use crate::vocabulary::status::{error_with_status, status_of};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;
use std::ops::Range;

/// What the distributed fit supports, checked on every rank before the
/// status agreement: plain alternation with the exact solver, from the
/// seeded random start; no clipping, over-relaxation, per-row ridge
/// scaling, folds or restarts.
pub fn check_options(options: &Options) -> Result<()> {
    let unsupported = |what: &str| {
        Err(invalid(format!(
            "the distributed fit supports WLRA_METHOD_ALTERNATING with WLRA_SOLVER_EXACT \
             and WLRA_INIT_RANDOM only (docs/mpi.md): {what}"
        )))
    };
    if options.method != MethodChoice::Alternating {
        return unsupported("set WLRA_OPTION_METHOD to WLRA_METHOD_ALTERNATING");
    }
    if options.solver != SolverChoice::Exact {
        return unsupported("set WLRA_OPTION_SOLVER to WLRA_SOLVER_EXACT");
    }
    if options.init != InitChoice::Random {
        return unsupported("set WLRA_OPTION_INIT to WLRA_INIT_RANDOM");
    }
    if options.clip != 0.0 {
        return unsupported("WLRA_OPTION_CLIP must be 0");
    }
    if options.overrelaxation != 1.0 {
        return unsupported("WLRA_OPTION_OVERRELAXATION must be 1");
    }
    if options.ridge_by_weight_sums && options.ridge > 0.0 {
        return unsupported("WLRA_OPTION_RIDGE_SCALING must be WLRA_RIDGE_UNIFORM");
    }
    if options.folds != 0 {
        return unsupported("WLRA_OPTION_FOLDS must be 0");
    }
    if options.offsets.any() {
        return unsupported("WLRA_OPTION_OFFSETS must be WLRA_OFFSETS_NONE");
    }
    if options.restarts.is_some_and(|r| r > 0) {
        return unsupported("WLRA_OPTION_RESTARTS must be -1 or 0");
    }
    Ok(())
}

/// Where this rank's rows sit in the global problem.
#[derive(Clone, Copy, Debug)]
pub struct RowBlock {
    pub n_rows: usize,
    pub n_cols: usize,
    pub offset: usize,
    pub n_local: usize,
}

impl RowBlock {
    /// The checks one rank can make alone.
    pub fn check(&self, rank: usize) -> Result<()> {
        let RowBlock {
            n_rows,
            n_cols,
            offset,
            n_local,
        } = *self;
        if n_rows == 0 || n_cols == 0 {
            return Err(invalid(format!(
                "n_rows = {n_rows} and n_cols = {n_cols} must both be at least 1"
            )));
        }
        if n_local == 0 {
            return Err(invalid(
                "n_local_rows = 0: every rank must hold at least one row",
            ));
        }
        if offset.checked_add(n_local).is_none_or(|end| end > n_rows) {
            return Err(invalid(format!(
                "row_offset = {offset} + n_local_rows = {n_local} exceeds n_rows = {n_rows}"
            )));
        }
        if rank > n_rows.min(n_cols) {
            return Err(invalid(format!(
                "rank = {rank} exceeds min(n_rows, n_cols) = {}",
                n_rows.min(n_cols)
            )));
        }
        Ok(())
    }
}

/// This rank's rows, validated.
pub enum LocalData<'a> {
    /// Views of the caller's memory (n_local x n_cols).
    Dense {
        m: MatRef<'a, f64>,
        w: Option<MatRef<'a, f64>>,
        row_major: bool,
    },
    /// The local CSR block, copied (row_ptr local, col_idx global).
    Sparse(SparseProblem),
}

/// The local checks of dense input after the views: finite values,
/// non-negative weights, magnitudes the fit reads unscaled.
pub fn check_dense(m: MatRef<'_, f64>, w: Option<MatRef<'_, f64>>, offset: usize) -> Result<()> {
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            if !m[(i, j)].is_finite() {
                return Err(Error::NonFiniteInput(format!(
                    "M[{}, {j}] = {} (local row {i}) is not finite",
                    offset + i,
                    fmt_g(m[(i, j)])
                )));
            }
            if let Some(w) = w {
                let x = w[(i, j)];
                if !x.is_finite() {
                    return Err(Error::NonFiniteInput(format!(
                        "W[{}, {j}] = {} (local row {i}) is not finite",
                        offset + i,
                        fmt_g(x)
                    )));
                }
                if x < 0.0 {
                    return Err(Error::NegativeWeight(format!(
                        "W[{}, {j}] = {} (local row {i}) is negative",
                        offset + i,
                        fmt_g(x)
                    )));
                }
            }
        }
    }
    check_unscaled(DenseProblem::new(m, w).normalized().scale().is_unit())
}

/// The fit reads the values as given: every rank must see the unit scale
/// (`crate::scaling`), or the ranks' solves would not match.
pub fn check_unscaled(unit: bool) -> Result<()> {
    if unit {
        Ok(())
    } else {
        Err(invalid(
            "the largest weight or |M| (where W > 0) of this rank's rows lies outside \
             [2^-32, 2^34): the distributed fit reads values unscaled; multiply W or M \
             by a power of two (docs/mpi.md)",
        ))
    }
}

/// The sparse local block, validated and copied.
pub fn sparse_block(input: &CsrInput<'_>) -> Result<SparseProblem> {
    let problem = SparseProblem::new(input)?;
    check_unscaled(problem.view().scale().is_unit())?;
    Ok(problem)
}

/// Every rank learns whether any rank's `local` failed, with one allreduce;
/// all return the largest status code any rank had.
pub fn agreed<T>(comm: &mut Comm<'_>, local: Result<T>) -> Result<T> {
    let code = local.as_ref().err().map_or(0, status_of);
    let all = comm.agree(code)?;
    match local {
        Ok(value) if all == 0 => Ok(value),
        Ok(_) => Err(error_with_status(
            all,
            format!(
                "another rank failed with status {all} (its wlra_last_error says why); \
                 this rank's part was valid"
            ),
        )),
        Err(e) if code == all => Err(e),
        Err(e) => Err(error_with_status(
            all,
            format!(
                "{} (status {code} here; another rank failed with status {all})",
                e.message()
            ),
        )),
    }
}

/// What every rank tells the others about its part (exchanged once).
const LAYOUT_FIELDS: usize = 12;

fn layout_fields(block: &RowBlock, k: usize, options: &Options, data: &LocalData<'_>) -> Vec<f64> {
    let (kind, has_w, defaults) = match data {
        LocalData::Dense { w, .. } => (0u64, w.is_some(), (0.0, 0.0)),
        LocalData::Sparse(p) => {
            let v = p.view();
            (1u64, true, (v.m_default(), v.w_default()))
        }
    };
    let ints = [
        block.n_rows as u64,
        block.n_cols as u64,
        k as u64,
        block.offset as u64,
        block.n_local as u64,
        kind,
        u64::from(has_w),
        options.seed,
        options.max_iterations as u64,
        options.tolerance.to_bits(),
        options.ridge.to_bits(),
        // The sparse defaults must agree too (m_default, w_default).
        defaults.0.to_bits() ^ defaults.1.to_bits().rotate_left(17),
    ];
    // Bit patterns travel as doubles: allgatherv only copies them.
    ints.iter().map(|&b| f64::from_bits(b)).collect()
}

/// Every rank's rows: offsets and counts by rank, and the ranks in the
/// order of their rows.
pub struct Layout {
    pub offsets: Vec<usize>,
    pub counts: Vec<usize>,
    pub by_offset: Vec<usize>,
    /// The even column split: rank q solves columns cols[q], which start
    /// at col_starts[q] and number col_counts[q].
    pub cols: Vec<Range<usize>>,
    pub col_starts: Vec<usize>,
    pub col_counts: Vec<usize>,
}

/// Exchange the ranks' layouts and check them the same way on every rank
/// (identical data, identical verdict: no further agreement needed).
fn exchange_layout(
    comm: &mut Comm<'_>,
    block: &RowBlock,
    k: usize,
    options: &Options,
    data: &LocalData<'_>,
) -> Result<Layout> {
    let mine = layout_fields(block, k, options, data);
    let all = comm.allgatherv(&mine, &vec![LAYOUT_FIELDS; comm.size])?;
    let field = |r: usize, f: usize| all[r * LAYOUT_FIELDS + f].to_bits();
    const NAMES: [&str; LAYOUT_FIELDS] = [
        "n_rows",
        "n_cols",
        "the model's rank",
        "",
        "",
        "the input kind (dense or CSR)",
        "whether W is given",
        "WLRA_OPTION_SEED",
        "WLRA_OPTION_MAX_ITERATIONS",
        "WLRA_OPTION_TOLERANCE",
        "WLRA_OPTION_RIDGE",
        "m_default or w_default",
    ];
    for r in 1..comm.size {
        for (f, name) in NAMES.iter().enumerate() {
            if !name.is_empty() && field(r, f) != field(0, f) {
                return Err(invalid(format!(
                    "rank {r}'s {name} differs from rank 0's: every rank must pass the same"
                )));
            }
        }
    }
    let offsets: Vec<usize> = (0..comm.size).map(|r| field(r, 3) as usize).collect();
    let counts: Vec<usize> = (0..comm.size).map(|r| field(r, 4) as usize).collect();
    let mut by_offset: Vec<usize> = (0..comm.size).collect();
    by_offset.sort_by_key(|&r| offsets[r]);
    let mut next = 0usize;
    for &r in &by_offset {
        if offsets[r] != next {
            return Err(invalid(format!(
                "rank {r}'s rows start at row_offset = {}, but the rows before it end at {next}: \
                 the ranks' row blocks must tile 0..n_rows without gaps or overlaps",
                offsets[r]
            )));
        }
        next += counts[r];
    }
    if next != block.n_rows {
        return Err(invalid(format!(
            "the ranks' row blocks cover {next} rows, n_rows = {}",
            block.n_rows
        )));
    }
    let (m, p) = (block.n_cols as u128, comm.size as u128);
    let cols: Vec<Range<usize>> = (0..comm.size as u128)
        .map(|q| (q * m / p) as usize..((q + 1) * m / p) as usize)
        .collect();
    Ok(Layout {
        offsets,
        counts,
        by_offset,
        col_starts: cols.iter().map(|c| c.start).collect(),
        col_counts: cols.iter().map(|c| c.len()).collect(),
        cols,
    })
}

/// This rank's column block, seen as rows (the V half-step's problem).
enum ColumnBlock {
    /// n_rows x cols, in the caller's layout: M, then W if given.
    Dense {
        m: Vec<f64>,
        w: Option<Vec<f64>>,
        n: usize,
        cols: usize,
        row_major: bool,
    },
    Sparse(SparseProblem),
    /// One rank: the columns are the local rows' own, read through them.
    Local,
}

impl ColumnBlock {
    fn problem(&self) -> Option<Problem<'_>> {
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
            ColumnBlock::Local => None,
        }
    }
}

/// Send every rank its columns of M and W (dense): rank q receives the
/// n_rows x |cols[q]| block, in the caller's layout.
fn redistribute_dense(
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

/// Send every pattern entry to the rank that owns its column (sparse); each
/// rank builds its columns as the rows of a CSR problem (columns' entries in
/// increasing row order, senders taken in the order of their rows).
fn redistribute_sparse(
    comm: &mut Comm<'_>,
    layout: &Layout,
    local: &SparseView<'_>,
    offset: usize,
    n_rows: usize,
) -> Result<ColumnBlock> {
    const FIELDS: usize = 4; // global row, column, m, w
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
    let nnz = recv.len() / FIELDS;
    let mut displs = vec![0usize; comm.size];
    for r in 1..comm.size {
        displs[r] = displs[r - 1] + recv_counts[r - 1];
    }
    let mut row_ptr = vec![0i64; width + 1];
    for e in 0..nnz {
        row_ptr[recv[e * FIELDS + 1] as usize - mine.start + 1] += 1;
    }
    for j in 0..width {
        row_ptr[j + 1] += row_ptr[j];
    }
    let mut next: Vec<usize> = row_ptr[..width].iter().map(|&p| p as usize).collect();
    let (mut col_idx, mut m_values, mut w_values) =
        (vec![0i64; nnz], vec![0.0; nnz], vec![0.0; nnz]);
    for &r in &layout.by_offset {
        let entries = &recv[displs[r]..displs[r] + recv_counts[r]];
        for e in entries.chunks_exact(FIELDS) {
            let jl = e[1] as usize - mine.start;
            let p = next[jl];
            next[jl] += 1;
            col_idx[p] = e[0] as i64;
            m_values[p] = e[2];
            w_values[p] = e[3];
        }
    }
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
    Ok(ColumnBlock::Sparse(sparse_block(&input)?))
}

/// The whole factor from every rank's rows: `starts[r]`, `counts[r]` place
/// rank r's rows.
fn gather_rows(
    comm: &mut Comm<'_>,
    local: &Mat<f64>,
    starts: &[usize],
    counts: &[usize],
) -> Result<Mat<f64>> {
    let k = local.ncols();
    let send: Vec<f64> = (0..local.nrows())
        .flat_map(|i| (0..k).map(move |d| (i, d)))
        .map(|(i, d)| local[(i, d)])
        .collect();
    let sizes: Vec<usize> = counts.iter().map(|c| c * k).collect();
    let all = comm.allgatherv(&send, &sizes)?;
    let rows: usize = counts.iter().sum();
    let mut owner_start = vec![0usize; rows];
    let mut at = 0;
    for r in 0..comm.size {
        for i in 0..counts[r] {
            owner_start[starts[r] + i] = at + i * k;
        }
        at += sizes[r];
    }
    try_from_fn(rows, k, |i, d| all[owner_start[i] + d], "a gathered factor")
}

/// Rows of `x` contiguous: x_rows[i k .. (i + 1) k] = x[i, :].
fn row_major(x: MatRef<'_, f64>) -> Vec<f64> {
    let k = x.ncols();
    (0..x.nrows() * k).map(|e| x[(e / k, e % k)]).collect()
}

/// sum_d a[d] b[d], left to right.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

/// Each local row's share of sum W (M - U V^T)^2, in the same fixed order
/// on every rank count.
fn row_residuals(
    data: &LocalData<'_>,
    offset: usize,
    u: &Mat<f64>,
    v: &Mat<f64>,
    par: Par,
) -> Result<Vec<f64>> {
    let k = u.ncols();
    match data {
        LocalData::Dense { m, w, .. } => {
            // Row by row (a 1 x k by k x m product each, the same shape on
            // every rank count), rows in parallel, the sum along the row in
            // column order.
            let (m, w) = (*m, *w);
            let cols = m.ncols();
            Ok((0..m.nrows())
                .into_par_iter()
                .map_init(
                    || Mat::<f64>::zeros(1, cols),
                    |fitted, i| {
                        let ui = u.as_ref().subrows(offset + i, 1);
                        matmul(
                            fitted.as_mut(),
                            Accum::Replace,
                            ui,
                            v.transpose(),
                            1.0,
                            Par::Seq,
                        );
                        let f = fitted.row(0);
                        let (mi, wi) = (m.row(i), w.map(|w| w.row(i)));
                        let mut sum = 0.0;
                        // Contiguous rows (row-major input) as slices; the
                        // same sum, in the same order, either way.
                        match (mi.try_as_row_major(), wi.map(|w| w.try_as_row_major())) {
                            (Some(mi), Some(Some(wi))) => {
                                let (mi, wi) = (mi.as_slice(), wi.as_slice());
                                for j in 0..cols {
                                    if wi[j] != 0.0 {
                                        let e = mi[j] - f[j];
                                        sum += wi[j] * e * e;
                                    }
                                }
                            }
                            _ => {
                                for j in 0..cols {
                                    let wij = wi.map_or(1.0, |w| w[j]);
                                    if wij != 0.0 {
                                        let e = mi[j] - f[j];
                                        sum += wij * e * e;
                                    }
                                }
                            }
                        }
                        sum
                    },
                )
                .collect())
        }
        LocalData::Sparse(p) => {
            let (ur, vr) = (row_major(u.as_ref()), row_major(v.as_ref()));
            let u_row = |i: usize| &ur[(offset + i) * k..(offset + i + 1) * k];
            let view = p.view();
            let (wd, md) = (view.w_default(), view.m_default());
            let ncols = view.n_cols() as f64;
            // sum_j v_j and V^T V, the constant part's k-dimensional sums
            // (the Gram in fixed row blocks: the same bits on every rank).
            let mut sv = vec![0.0; k];
            for j in 0..v.nrows() {
                for (a, s) in sv.iter_mut().enumerate() {
                    *s += vr[j * k + a];
                }
            }
            let g = gram(v.as_ref(), par)?;
            let gv: Vec<f64> = (0..k * k).map(|e| g[(e / k, e % k)]).collect();
            Ok((0..view.n_rows())
                .map(|i| {
                    let ui = u_row(i);
                    let mut sum = 0.0;
                    if wd > 0.0 {
                        let quad: f64 = (0..k)
                            .map(|a| ui[a] * dot(&gv[a * k..(a + 1) * k], ui))
                            .sum();
                        sum += wd * (ncols * md * md - 2.0 * md * dot(ui, &sv) + quad);
                    }
                    let row = view.row(i);
                    for ((&j, &mv), &wv) in row.cols.iter().zip(row.values).zip(row.weights) {
                        let f = dot(ui, &vr[j * k..(j + 1) * k]);
                        let (e, e0) = (mv - f, md - f);
                        sum += wv * e * e - wd * e0 * e0;
                    }
                    sum
                })
                .collect())
        }
    }
}

/// f(U, V): the rows' partial sums gathered and added in global row order,
/// plus the ridge penalty (computed whole on every rank).
fn objective(
    comm: &mut Comm<'_>,
    layout: &Layout,
    data: &LocalData<'_>,
    offset: usize,
    factors: &Factors,
    ridge: f64,
    pool: &rayon::ThreadPool,
) -> Result<f64> {
    comm.set_phase(Phase::Objective);
    comm.traffic.objectives += 1.0;
    let partial =
        pool.install(|| row_residuals(data, offset, &factors.u, &factors.v, current_par()));
    let partial = agreed(comm, partial)?;
    let all = comm.allgatherv(&partial, &layout.counts)?;
    let mut displs = vec![0usize; comm.size];
    for r in 1..comm.size {
        displs[r] = displs[r - 1] + layout.counts[r - 1];
    }
    // One running sum over the rows in global order, never per rank: the
    // grouping would change with the rank count.
    let mut sum = 0.0;
    for &r in &layout.by_offset {
        for x in &all[displs[r]..displs[r] + layout.counts[r]] {
            sum += x;
        }
    }
    let penalty = if ridge > 0.0 {
        ridge * (factors.u.squared_norm_l2() + factors.v.squared_norm_l2())
    } else {
        0.0
    };
    Ok(sum + penalty)
}

/// A distributed fit's sides: this rank's rows and column block, each
/// solved by its own solver against the whole fixed factor, the new rows
/// then gathered by every rank; the objective's row sums in global order.
struct DistributedSides<'c, 'a> {
    comm: &'c mut Comm<'a>,
    layout: Layout,
    data: &'c LocalData<'c>,
    rows_problem: Problem<'c>,
    /// None where this rank holds no columns.
    cols_problem: Option<Problem<'c>>,
    offset: usize,
    options: &'c Options,
    pool: &'c rayon::ThreadPool,
    rows_solver: Box<dyn HalfStepSolver + Send>,
    cols_solver: Option<Box<dyn HalfStepSolver + Send>>,
    progress: Progress<'c>,
    failure: Option<Error>,
}

impl Sides for DistributedSides<'_, '_> {
    fn half_step(
        &mut self,
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
        settings: StepSettings,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        let (pool, options) = (self.pool, self.options);
        // The fixed factor and the warm start are whole on every rank and
        // prepared there the same way, so their bits agree.
        let orthonormalize = options.ridge == 0.0;
        let clip = if settings.clip { options.clip } else { 0.0 };
        let (fixed, r) = pool.install(|| prepare_fixed(fixed, orthonormalize, clip))?;
        let warm = pool.install(|| warm_start(moving, r.as_ref()))?;
        let (problem, solver, starts, counts) = if rows {
            self.comm.traffic.half_steps += 1.0;
            self.comm.set_phase(Phase::UHalfStep);
            let solver = Some(self.rows_solver.as_mut());
            (
                Some(self.rows_problem),
                solver,
                &self.layout.offsets,
                &self.layout.counts,
            )
        } else {
            self.comm.set_phase(Phase::VHalfStep);
            let solver = self.cols_solver.as_deref_mut();
            let (starts, counts) = (&self.layout.col_starts, &self.layout.col_counts);
            (self.cols_problem, solver, starts, counts)
        };
        let mine = starts[self.comm.rank]..starts[self.comm.rank] + counts[self.comm.rank];
        // This rank's rows solved against the whole fixed factor.
        let local = match (problem, solver) {
            (Some(problem), Some(solver)) => {
                solver.set_accuracy(settings.accuracy);
                let step = HalfStep {
                    problem,
                    fixed: fixed.as_ref(),
                    ridge: options.ridge,
                    ridge_scale: None,
                    unpenalized: None,
                    warm_start: Some(warm.as_ref().subrows(mine.start, mine.len())),
                    fixed_orthonormal: r.is_some(),
                    par: Par::rayon(pool.current_num_threads()),
                };
                pool.install(|| solver.solve(&step))
            }
            _ => Ok(Mat::zeros(0, fixed.ncols())),
        };
        let local = agreed(self.comm, local)?;
        let (starts, counts) = (starts.clone(), counts.clone());
        let solved = gather_rows(self.comm, &local, &starts, &counts)?;
        Ok((fixed, relax(&warm, solved, settings.omega)))
    }

    fn objective(&mut self, factors: &Factors) -> Result<f64> {
        let (layout, data, offset) = (&self.layout, self.data, self.offset);
        objective(
            self.comm,
            layout,
            data,
            offset,
            factors,
            self.options.ridge,
            self.pool,
        )
    }

    /// Every rank's callback runs; one allreduce tells all whether any
    /// said stop.
    fn proceed(&mut self, iterations: usize, value: f64) -> bool {
        let stop = !(self.progress)(iterations, value);
        self.comm.set_phase(Phase::Objective);
        match self.comm.agree(i32::from(stop)) {
            Ok(any) => any == 0,
            Err(e) => {
                self.failure = Some(e);
                false
            }
        }
    }

    fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    fn iterative(&self) -> bool {
        self.rows_solver.is_iterative()
    }

    fn solver_kind(&self) -> SolverKind {
        self.rows_solver.kind()
    }

    fn mean_inner_iterations(&self) -> f64 {
        // Exact solves only (`check_options`): no inner iterations.
        0.0
    }
}

/// The distributed alternation (after the status agreement on the local
/// checks): `outer::alternating::alternate` over this rank's sides, with
/// the progress callback agreed once per iteration. Returns the outcome
/// with U's local rows and V whole.
pub fn run(
    comm: &mut Comm<'_>,
    block: RowBlock,
    k: usize,
    options: &Options,
    pool: &rayon::ThreadPool,
    data: LocalData<'_>,
    progress: Progress<'_>,
) -> Result<FitOutcome> {
    comm.set_phase(Phase::Setup);
    let layout = exchange_layout(comm, &block, k, options, &data)?;
    comm.set_phase(Phase::Redistribution);
    let columns = match &data {
        _ if comm.size == 1 => Ok(ColumnBlock::Local),
        LocalData::Dense { m, w, row_major } => {
            redistribute_dense(comm, &layout, *m, *w, *row_major)
        }
        LocalData::Sparse(p) => {
            redistribute_sparse(comm, &layout, &p.view(), block.offset, block.n_rows)
        }
    };
    let columns = agreed(comm, columns)?;
    let rows_problem = match &data {
        LocalData::Dense { m, w, .. } => Problem::Dense(DenseProblem::new(*m, *w)),
        LocalData::Sparse(p) => Problem::Sparse(p.view()),
    };
    let cols_problem = match columns {
        // The single-process fit's own transposed view: no copy.
        ColumnBlock::Local => Some(rows_problem.transposed()),
        _ => columns.problem(),
    };
    let (n, m, offset) = (block.n_rows, block.n_cols, block.offset);
    let start = agreed(comm, random_factors(n, m, k, options.seed))?;
    let mut sides = DistributedSides {
        comm,
        layout,
        data: &data,
        rows_problem,
        cols_problem,
        offset,
        options,
        pool,
        rows_solver: crate::solver::for_options(options, &rows_problem),
        cols_solver: cols_problem.map(|p| crate::solver::for_options(options, &p)),
        progress,
        failure: None,
    };
    let mut run = alternate(&mut sides, start, options)?;
    run.method_used = Method::Alternating;
    let u = &run.factors.u;
    let local_u = try_from_fn(
        block.n_local,
        k,
        |i, d| u[(offset + i, d)],
        "the local factor rows",
    )?;
    run.factors.u = local_u;
    Ok(run)
}
