//! The exact half-step: for each row, the weighted normal equations
//! G_i x = b_i with G_i = Y^T diag(w_i) Y + ridge I and b_i = Y^T (w_i o m_i),
//! solved by Cholesky (minimum norm when G_i is singular).
//!
//! Cost per half-step: n m k(k+1) flops for the Grams (one GEMM per block
//! pair below PER_ROW_SYRK_MIN_RANK, a weighted SYRK per row from there, see
//! `kernels::gram`), 2 n m k for the right-hand sides (in the same pass over
//! W), n k^3 / 3 for the factorizations. Extra memory per task: up to 1 MiB
//! of packed Grams and COL_BLOCK x k(k+1)/2 outer products, or one k x k
//! Gram for the per-row form.

use crate::error::Result;
use crate::kernels::blocking::{
    block_list, blocks, map_blocks_with, map_owned_with, row_blocks_of, runs, stack_rows,
    COL_BLOCK, ROW_BLOCK,
};
use crate::kernels::gram::{
    accumulate_packed_grams, mirror_lower, packed_len, packed_outer_products, unpack_symmetric,
    weighted_gram_lower,
};
use crate::kernels::spd_solve::SpdSolver;
use crate::kernels::workspaces::Workspaces;
use crate::memory::{try_filled, try_zeros};
use crate::problem::DenseProblem;
use crate::solver::half_step::{
    finite_in_place, into_new_solution, HalfStep, HalfStepSolver, SolverKind,
};
use crate::solver::rows::solve_normal_equations;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// EXACT on dense input, its workspaces made afresh for each half-step
/// (fold-in, tests and benchmarks: one half-step at a time).
#[derive(Default)]
pub struct ExactSolver;

impl HalfStepSolver for ExactSolver {
    fn kind(&self) -> SolverKind {
        SolverKind::Exact
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        KeptExactSolver::default().solve(step)
    }
}

/// EXACT as the outer methods run it: the per-thread workspaces are kept
/// across half-steps (`kernels::workspaces`), and the solution is written
/// into the caller's factor matrix.
#[derive(Default)]
pub struct KeptExactSolver {
    workspaces: Workspaces<WorkspaceShape, Workspace>,
}

impl HalfStepSolver for KeptExactSolver {
    fn kind(&self) -> SolverKind {
        SolverKind::Exact
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        Ok(into_new_solution(step, |out| self.solve_into(step, out))?.0)
    }

    fn solve_into(&mut self, step: &HalfStep<'_>, mut out: MatMut<'_, f64>) -> Result<()> {
        let dense = step.problem.dense();
        if dense.has_unit_weights() {
            let rhs = dense.weighted_data_times(step.fixed, step.par)?;
            // Unit weights give every row the same weight sum, so the
            // same ridge even when it is scaled by them.
            out.copy_from(solve_shared_gram(step, step.row_ridge(0), rhs)?);
        } else {
            let form = gram_form(step.fixed.ncols());
            solve_row_grams(dense, step, form, out.as_mut(), &self.workspaces)?;
        }
        finite_in_place(
            out.as_ref(),
            "the exact half-step (data too large for f64?)",
        )
    }
}

/// Unit weights: every row shares G = Y^T Y + ridge I; one factorization.
fn solve_shared_gram(step: &HalfStep<'_>, ridge: f64, mut rhs: Mat<f64>) -> Result<Mat<f64>> {
    let y = step.fixed;
    let k = y.ncols();
    let mut spd = SpdSolver::new(k)?;
    let mut g = spd.gram_mut();
    matmul(g.as_mut(), Accum::Replace, y.transpose(), y, 1.0, Par::Seq);
    for d in (0..k).filter(|&d| step.penalizes(d)) {
        g[(d, d)] += ridge;
    }
    spd.factor();
    let mut x = try_filled(k, 0.0, "a row's solution")?;
    for i in 0..rhs.nrows() {
        for (d, xd) in x.iter_mut().enumerate() {
            *xd = rhs[(i, d)];
        }
        spd.solve(&mut x);
        for (d, xd) in x.iter().enumerate() {
            rhs[(i, d)] = *xd;
        }
    }
    Ok(rhs)
}

/// Per-thread scratch of the row-Gram half-step, allocated once per
/// thread's run of row blocks and reused across them (every buffer is
/// overwritten before it is read).
pub(crate) struct Workspace {
    /// Packed Grams of a block's rows, stored so each row's entries are
    /// contiguous (k(k+1)/2 x the block's rows, read transposed).
    grams: Mat<f64>,
    outer: Mat<f64>,
    /// W o M for one (row block, column block).
    wm: Vec<f64>,
    /// W for one (row block, column block), or one row, in the solver's
    /// units; empty when those are the caller's (`crate::scaling`).
    scaled_w: Vec<f64>,
    /// The right-hand sides of a block's rows (rows x k).
    rhs: Mat<f64>,
    spd: SpdSolver,
    x: Vec<f64>,
    correction: Vec<f64>,
}

/// What a `Workspace` was made for: (rows, m, k, form, unit weights).
type WorkspaceShape = (usize, usize, usize, GramForm, bool);

/// One step of iterative refinement for an ill-conditioned row: solve
/// G dx = Y^T diag(w_i) (m_i - Y x) - ridge x and add dx. Normal equations
/// lose accuracy as cond(A)^2; this step restores it to about cond(A) eps.
/// Flops: 4 m k + the solve.
fn refine_row(problem: &DenseProblem<'_>, step: &HalfStep<'_>, row: usize, ws: &mut Workspace) {
    let y = step.fixed;
    let (m, k) = (y.nrows(), y.ncols());
    let ridge = step.row_ridge(row);
    for (d, (c, x)) in ws.correction.iter_mut().zip(&ws.x).enumerate() {
        *c = if step.penalizes(d) { -ridge * x } else { 0.0 };
    }
    for j in 0..m {
        let w = problem.weight(row, j);
        if w == 0.0 {
            continue;
        }
        let fitted: f64 = (0..k).map(|d| y[(j, d)] * ws.x[d]).sum();
        let r = w * (problem.value(row, j) - fitted);
        for (d, c) in ws.correction.iter_mut().enumerate() {
            *c += r * y[(j, d)];
        }
    }
    ws.spd.solve(&mut ws.correction);
    ws.x.iter_mut()
        .zip(&ws.correction)
        .for_each(|(x, c)| *x += c);
}

/// How a row block's Grams are formed. Packed outer products share one GEMM
/// across the block's rows but move an m x k(k+1)/2 panel; a weighted SYRK
/// per row moves only Y (m x k) and wins once that panel outgrows the caches.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum GramForm {
    PackedOuterProducts,
    WeightedSyrkPerRow,
}

/// Smallest rank at which the per-row weighted SYRK is the faster form
/// (measured by `cargo bench --bench halfstep`, docs/performance.md).
const PER_ROW_SYRK_MIN_RANK: usize = 192;

/// A row block's packed Grams stay within this many bytes (in L2).
const PACKED_GRAMS_BYTES: usize = 1 << 20;
/// The Gram pass takes at most this many ROW_BLOCKs per task, so that even
/// at small k a half-step still splits into many tasks for the threads.
const MAX_GRAM_ROW_BLOCKS: usize = 4;

/// Rows per task of the Gram pass: at small k more rows, so each column of a
/// column-major W block is a longer contiguous run (the hardware prefetcher
/// streams it) while the block's packed Grams stay within PACKED_GRAMS_BYTES.
/// A multiple of ROW_BLOCK fixed by k alone (never by the threads).
fn gram_row_block(k: usize) -> usize {
    let by_cache = PACKED_GRAMS_BYTES / (8 * packed_len(k).max(1));
    by_cache.clamp(ROW_BLOCK, MAX_GRAM_ROW_BLOCKS * ROW_BLOCK) / ROW_BLOCK * ROW_BLOCK
}

fn gram_form(k: usize) -> GramForm {
    if k >= PER_ROW_SYRK_MIN_RANK {
        GramForm::WeightedSyrkPerRow
    } else {
        GramForm::PackedOuterProducts
    }
}

impl Workspace {
    /// For row blocks of at most `rows` rows. The packed blocks grow as k^2
    /// (37 MiB of outer products per thread just below
    /// PER_ROW_SYRK_MIN_RANK): reserved fallibly.
    fn new(rows: usize, m: usize, k: usize, form: GramForm, unit: bool) -> Result<Self> {
        let t = packed_len(k);
        let (gram_rows, outer_rows) = match form {
            GramForm::PackedOuterProducts => (t, COL_BLOCK.min(m)),
            GramForm::WeightedSyrkPerRow => (0, 0),
        };
        Ok(Workspace {
            grams: try_zeros(gram_rows, rows, "the packed row Grams of a row block")?,
            outer: try_zeros(outer_rows, t, "the packed outer products of a column block")?,
            wm: try_filled(rows * COL_BLOCK.min(m), 0.0, "a block of W o M")?,
            scaled_w: match (unit, form) {
                (true, _) => Vec::new(),
                (false, GramForm::PackedOuterProducts) => {
                    try_filled(rows * COL_BLOCK.min(m), 0.0, "a block of scaled W")?
                }
                (false, GramForm::WeightedSyrkPerRow) => try_filled(m, 0.0, "a row of scaled W")?,
            },
            rhs: try_zeros(rows, k, "a row block's right-hand sides")?,
            spd: SpdSolver::new(k)?,
            x: try_filled(k, 0.0, "a row's solution")?,
            correction: try_filled(k, 0.0, "a row's correction")?,
        })
    }
}

/// Packed Grams of a row block's rows (`ws.grams`, one column per row) from
/// one GEMM per column block, and their right-hand sides (`rhs`).
fn packed_block_grams(
    problem: &DenseProblem<'_>,
    y: MatRef<'_, f64>,
    rows: std::ops::Range<usize>,
    ws: &mut Workspace,
    mut rhs: MatMut<'_, f64>,
) {
    let m = y.nrows();
    let mut grams = ws.grams.as_mut().subcols_mut(0, rows.len());
    for (c, cols) in blocks(m, COL_BLOCK).enumerate() {
        let mut outer = ws.outer.as_mut().subrows_mut(0, cols.len());
        packed_outer_products(y.subrows(cols.start, cols.len()), outer.as_mut());
        let w = problem
            .scaled_weights_block(rows.clone(), cols.clone(), &mut ws.scaled_w)
            .expect("row Grams are only formed for non-unit weights");
        accumulate_packed_grams(grams.as_mut().transpose_mut(), w, outer.as_ref(), c == 0);
        // The right-hand sides while this W block is still in cache: at
        // small k a separate pass over W and M costs as much as the Grams.
        problem.weighted_data_block_times(&rows, cols, y, &mut ws.wm, rhs.as_mut(), c == 0);
    }
}

fn solve_row_grams(
    problem: &DenseProblem<'_>,
    step: &HalfStep<'_>,
    form: GramForm,
    out: MatMut<'_, f64>,
    workspaces: &Workspaces<WorkspaceShape, Workspace>,
) -> Result<()> {
    let (n, m, k) = (problem.n_rows(), problem.n_cols(), step.fixed.ncols());
    let block = gram_row_block(k);
    // NaN read as missing needs scratch for every weight block too.
    let unit = problem.scale().weights().is_one() && !problem.missing_nan();
    let shape = (block.min(n), m, k, form, unit);
    let make = || Workspace::new(block.min(n), m, k, form, unit);
    let parts = row_blocks_of(out, block)?;
    workspaces.stock(shape, runs(step.par, parts.len()), make)?;
    let workspace = || workspaces.lend(shape, make);
    map_owned_with(step.par, parts, workspace, |ws, (rows, out)| {
        solve_row_block(problem, step, form, &rows, ws, out)
    })?;
    Ok(())
}

/// A block's right-hand sides in `rhs` (rows x k), and its packed Grams
/// in `ws.grams` where they are formed packed (`row_gram` reads them).
fn block_normal_equations(
    problem: &DenseProblem<'_>,
    y: MatRef<'_, f64>,
    form: GramForm,
    rows: &std::ops::Range<usize>,
    ws: &mut Workspace,
    mut rhs: MatMut<'_, f64>,
) {
    if form == GramForm::PackedOuterProducts {
        packed_block_grams(problem, y, rows.clone(), ws, rhs.as_mut());
    } else {
        for (c, cols) in blocks(y.nrows(), COL_BLOCK).enumerate() {
            let out = rhs.as_mut();
            problem.weighted_data_block_times(rows, cols, y, &mut ws.wm, out, c == 0);
        }
    }
}

/// Row `row` (the block's `r`-th) of the block's Grams, whole, in
/// `ws.spd.gram_mut()`, without the ridge.
fn row_gram(
    problem: &DenseProblem<'_>,
    y: MatRef<'_, f64>,
    form: GramForm,
    (r, row): (usize, usize),
    ws: &mut Workspace,
) {
    let mut g = ws.spd.gram_mut();
    if form == GramForm::PackedOuterProducts {
        let packed = ws.grams.col(r);
        unpack_symmetric(|idx| packed[idx], g.as_mut());
    } else {
        let w = problem
            .scaled_weights_block(row..row + 1, 0..y.nrows(), &mut ws.scaled_w)
            .expect("row Grams are only formed for non-unit weights");
        weighted_gram_lower(y, w.row(0).transpose(), g.as_mut());
        mirror_lower(g.as_mut());
    }
}

/// The rows of one row block: their Grams and right-hand sides, then one
/// exact solve each (refined when ill-conditioned), into `out` (the
/// block's rows of the solution).
fn solve_row_block(
    problem: &DenseProblem<'_>,
    step: &HalfStep<'_>,
    form: GramForm,
    rows: &std::ops::Range<usize>,
    ws: &mut Workspace,
    mut out: MatMut<'_, f64>,
) -> Result<()> {
    let y = step.fixed;
    let (rb, k) = (rows.len(), y.ncols());
    let mut rhs = std::mem::replace(&mut ws.rhs, Mat::new());
    block_normal_equations(problem, y, form, rows, ws, rhs.as_mut().subrows_mut(0, rb));
    for r in 0..rb {
        let row = rows.start + r;
        row_gram(problem, y, form, (r, row), ws);
        let mut g = ws.spd.gram_mut();
        let ridge = step.row_ridge(row);
        for d in (0..k).filter(|&d| step.penalizes(d)) {
            g[(d, d)] += ridge;
        }
        for (d, xd) in ws.x.iter_mut().enumerate() {
            *xd = rhs[(r, d)];
        }
        if solve_normal_equations(&mut ws.spd, &mut ws.x) && ws.spd.needs_refinement() {
            refine_row(problem, step, row, ws);
        }
        for (d, xd) in ws.x.iter().enumerate() {
            out[(r, d)] = *xd;
        }
    }
    ws.rhs = rhs;
    Ok(())
}

/// Every row's normal equations, formed as the solve forms them but left
/// unsolved and without the ridge: the packed Grams (n x k(k+1)/2, row i
/// holding G_i's entries (a, b), a <= b, at b(b+1)/2 + a; with unit weights
/// one row, the Gram every row shares) and the right-hand sides (n x k).
/// A distributed fit whose ranks each hold part of every row (tall dense
/// input) sums them across ranks (`distributed::reduced`). Flops and memory
/// as the solve's, plus the n x k(k+1)/2 result.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn row_normal_equations(
    problem: &DenseProblem<'_>,
    y: MatRef<'_, f64>,
    par: Par,
) -> Result<(Mat<f64>, Mat<f64>)> {
    let (n, m, k) = (problem.n_rows(), problem.n_cols(), y.ncols());
    let t = packed_len(k);
    if problem.has_unit_weights() {
        let rhs = problem.weighted_data_times(y, par)?;
        let g = crate::kernels::gram::gram(y, par)?;
        let packed = try_zeros(1, t, "the shared Gram")?;
        let packed = pack(packed, 0, g.as_ref());
        return Ok((packed, rhs));
    }
    let form = gram_form(k);
    let block = gram_row_block(k);
    let row_blocks = block_list(n, block)?;
    let unit = problem.scale().weights().is_one();
    let workspace = || Workspace::new(block.min(n), m, k, form, unit);
    let parts = map_blocks_with(par, &row_blocks, workspace, |ws, rows| {
        let mut rhs = try_zeros(rows.len(), k, "a row block's right-hand sides")?;
        block_normal_equations(problem, y, form, rows, ws, rhs.as_mut());
        let mut grams = try_zeros(rows.len(), t, "a row block's packed Grams")?;
        for r in 0..rows.len() {
            row_gram(problem, y, form, (r, rows.start + r), ws);
            grams = pack(grams, r, ws.spd.gram_mut().as_ref());
        }
        Ok((grams, rhs))
    })?;
    let (grams, rhs): (Vec<Mat<f64>>, Vec<Mat<f64>>) = parts.into_iter().unzip();
    Ok((stack_rows(&grams, n, t)?, stack_rows(&rhs, n, k)?))
}

/// Row `r` of `packed` set to the symmetric `g`'s packed entries.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
fn pack(mut packed: Mat<f64>, r: usize, g: MatRef<'_, f64>) -> Mat<f64> {
    for b in 0..g.ncols() {
        for a in 0..=b {
            packed[(r, b * (b + 1) / 2 + a)] = g[(a, b)];
        }
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::orthonormal::orthonormal_basis;

    /// The unsolved normal equations, solved, give the half-step (to
    /// rounding: the solve refines ill-conditioned rows), in both Gram forms
    /// and with unit weights.
    #[test]
    fn row_normal_equations_solve_to_the_half_step() {
        let (n, m, k) = (150, 300, 6);
        let value =
            |i: usize, j: usize, s: usize| ((i * 7919 + j * 104729 + s) % 1000) as f64 / 1000.0;
        let data = Mat::from_fn(n, m, |i, j| value(i, j, 1) - 0.5);
        let weights = Mat::from_fn(n, m, |i, j| 0.1 + value(i, j, 2));
        let y = Mat::from_fn(m, k, |i, j| value(i, j, 3) - 0.5);
        for w in [Some(weights.as_ref()), None] {
            let problem = DenseProblem::new(data.as_ref(), w);
            let (grams, rhs) = row_normal_equations(&problem, y.as_ref(), Par::Seq).unwrap();
            let step = HalfStep {
                problem: problem.into(),
                fixed: y.as_ref(),
                ridge: 0.0,
                ridge_scale: None,
                unpenalized: None,
                warm_start: None,
                fixed_orthonormal: false,
                par: Par::Seq,
            };
            let solved = ExactSolver.solve(&step).unwrap();
            let mut spd = SpdSolver::new(k).unwrap();
            for i in 0..n {
                let g_row = if grams.nrows() == 1 { 0 } else { i };
                unpack_symmetric(|idx| grams[(g_row, idx)], spd.gram_mut());
                let mut x: Vec<f64> = (0..k).map(|d| rhs[(i, d)]).collect();
                assert!(solve_normal_equations(&mut spd, &mut x));
                for d in 0..k {
                    let gap = (x[d] - solved[(i, d)]).abs();
                    assert!(
                        gap <= 1e-10 * (1.0 + solved[(i, d)].abs()),
                        "row {i}: {gap}"
                    );
                }
            }
        }
    }

    /// Both ways of forming the Grams solve the same normal equations; with W
    /// row-major (the C caller's usual layout) and column-major.
    #[test]
    fn packed_and_per_row_grams_give_the_same_half_step() {
        let (n, m, k) = (150, 300, 20);
        let value =
            |i: usize, j: usize, s: usize| ((i * 7919 + j * 104729 + s) % 1000) as f64 / 1000.0;
        let data = Mat::from_fn(n, m, |i, j| value(i, j, 1) - 0.5);
        let weights = Mat::from_fn(n, m, |i, j| 0.1 + value(i, j, 2));
        let (data_t, weights_t) = (data.transpose().to_owned(), weights.transpose().to_owned());
        let y =
            orthonormal_basis(Mat::from_fn(m, k, |i, j| value(i, j, 3) - 0.5).as_ref()).unwrap();
        for row_major in [false, true] {
            let problem = if row_major {
                DenseProblem::new(data_t.transpose(), Some(weights_t.transpose()))
            } else {
                DenseProblem::new(data.as_ref(), Some(weights.as_ref()))
            };
            let step = HalfStep {
                problem: problem.into(),
                fixed: y.as_ref(),
                ridge: 0.1,
                ridge_scale: None,
                unpenalized: None,
                warm_start: None,
                fixed_orthonormal: true,
                par: Par::rayon(0),
            };
            let solve = |form| {
                let mut x = Mat::zeros(n, k);
                let workspaces = Workspaces::default();
                solve_row_grams(&problem, &step, form, x.as_mut(), &workspaces).unwrap();
                x
            };
            let packed = solve(GramForm::PackedOuterProducts);
            let per_row = solve(GramForm::WeightedSyrkPerRow);
            let scale = packed.norm_max();
            let gap = (&packed - &per_row).norm_max();
            assert!(
                gap <= 1e-12 * scale,
                "row_major {row_major}: gap {gap}, scale {scale}"
            );
        }
    }
}
