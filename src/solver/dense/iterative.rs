//! The frame shared by the dense iterative half-steps: per row block, the
//! weights with rows contiguous, one right preconditioner per row (built by
//! the caller's rule), a warm start, then batched preconditioned CG
//! (`block_cgls`). Rows whose design may be singular (`rows::may_be_singular`,
//! or a preconditioner that comes out singular) take the exact minimum-norm
//! solve instead, so they never produce NaN.

use crate::error::Result;
use crate::kernels::blocking::{
    block_list, map_blocks_with, map_owned_with, row_blocks_of, runs, stack_rows, ROW_BLOCK,
};
use crate::kernels::spd_solve::SpdSolver;
use crate::kernels::workspaces::Workspaces;
use crate::memory::{checked_len, try_filled, try_reserve, try_zeros};
use crate::solver::block_cgls::{solve_block, BlockData, CglsWorkspace, Preconditioners};
use crate::solver::half_step::{finite, finite_in_place, HalfStep, MAX_INNER_ITERATIONS};
use crate::solver::rows::{may_be_singular, WeightedDesign};
use faer::{Mat, MatMut};
use std::ops::Range;

/// One row as a preconditioner rule sees it.
pub struct RowView<'a> {
    pub index: usize,
    /// The row's weights, length m.
    pub weights: &'a [f64],
    /// Number of non-zero weights.
    pub nonzeros: usize,
}

/// Per-task scratch for one row's weighted design and exact solve.
pub struct RowScratch {
    pub design: WeightedDesign,
    pub spd: SpdSolver,
}

/// A rule that builds a row block's preconditioners, and says which rows
/// must take the exact path instead (sets `usable[i] = false`).
pub trait PreconditionerRule: Sync {
    /// Scratch each task owns for building preconditioners.
    type Scratch;
    fn scratch(&self, m: usize, k: usize) -> Result<Self::Scratch>;
    fn build(
        &self,
        step: &HalfStep<'_>,
        rows: &[RowView<'_>],
        row_scratch: &mut RowScratch,
        scratch: &mut Self::Scratch,
        usable: &mut [bool],
    ) -> Result<Preconditioners>;

    /// `build` into `out`, which holds the last block's preconditioners
    /// (kept across blocks, so a rule may reuse their storage); the
    /// default replaces them.
    fn build_into(
        &self,
        step: &HalfStep<'_>,
        (rows, row_scratch): (&[RowView<'_>], &mut RowScratch),
        scratch: &mut Self::Scratch,
        usable: &mut [bool],
        out: &mut Preconditioners,
    ) -> Result<()> {
        *out = self.build(step, rows, row_scratch, scratch, usable)?;
        Ok(())
    }
}

/// Gather the row's weighted design (`rows::WeightedDesign`) into
/// `scratch`; returns A's row count.
pub fn gather_design(step: &HalfStep<'_>, row: &RowView<'_>, scratch: &mut RowScratch) -> usize {
    let dense = step.problem.dense();
    let entries = row.weights.iter().enumerate();
    let entries = entries
        .filter(|(_, w)| **w > 0.0)
        .map(|(j, w)| (j, *w, dense.value(row.index, j)));
    scratch.design.gather(entries, step.fixed, step.ridge)
}

/// The per-task buffers of `iterative_half_step`, one set per thread.
pub struct BlockScratch<S> {
    cgls: CglsWorkspace,
    row: RowScratch,
    rule: S,
    weights: Vec<f64>,
    /// The block's rows (`RowView`s, emptied between blocks: see
    /// `recycled`), which rows CG solves, which it started with, a row's
    /// exact solution and the block's preconditioners, kept across blocks.
    views: Vec<RowView<'static>>,
    active: Vec<bool>,
    usable: Vec<bool>,
    solution: Vec<f64>,
    preconditioners: Preconditioners,
}

/// `v` emptied, as a vector of views of another lifetime: the same
/// allocation (the in-place collect of a vector into one of the same
/// layout), so a block's row views need no allocation of their own.
fn recycled<'b>(mut v: Vec<RowView<'_>>) -> Vec<RowView<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| -> RowView<'b> { unreachable!("emptied") })
        .collect()
}

impl<S> BlockScratch<S> {
    /// Reserved fallibly: ROW_BLOCK x m weights, the CG's ROW_BLOCK x k
    /// blocks, an (m + k) x k design and the k x k row solve, per thread.
    fn new<R: PreconditionerRule<Scratch = S>>(step: &HalfStep<'_>, rule: &R) -> Result<Self> {
        let (n, (m, k)) = (step.problem.n_rows(), step.fixed.shape());
        let max_rows = m + if step.ridge > 0.0 { k } else { 0 };
        let what = "a row block's weights";
        Ok(BlockScratch {
            cgls: CglsWorkspace::new(ROW_BLOCK.min(n), m, k)?,
            row: RowScratch {
                design: WeightedDesign::new(max_rows, k)?,
                spd: SpdSolver::new(k)?,
            },
            rule: rule.scratch(m, k)?,
            weights: try_filled(checked_len(ROW_BLOCK.min(n), m, what)?, 0.0, what)?,
            views: Vec::new(),
            active: Vec::new(),
            usable: Vec::new(),
            solution: try_filled(k, 0.0, "a row's solution")?,
            preconditioners: Preconditioners::PerRow(Vec::new()),
        })
    }
}

/// A row block's preconditioners and which rows used them.
pub type BlockPreconditioners = (Preconditioners, Vec<bool>);

/// What an iterative half-step produced.
pub struct IterativeOutcome {
    pub x: Mat<f64>,
    /// Row-iterations spent, summed over rows.
    pub work: usize,
    /// Per row block (in order): the preconditioners used and which rows
    /// used them (the others took the exact path).
    pub preconditioners: Vec<BlockPreconditioners>,
}

/// Solve a half-step with batched CG under `rule`'s preconditioners to
/// relative tolerance `tol`.
pub fn iterative_half_step<R: PreconditionerRule>(
    step: &HalfStep<'_>,
    rule: &R,
    tol: f64,
) -> Result<IterativeOutcome> {
    let (n, k) = (step.problem.n_rows(), step.fixed.ncols());
    let row_blocks = block_list(n, ROW_BLOCK)?;
    // One workspace per thread's run of row blocks, reused across them:
    // fresh rb x m buffers per block cost page faults (10 % of a fit at
    // k = 16). Every buffer is overwritten before it is read.
    let parts = map_blocks_with(
        step.par,
        &row_blocks,
        || BlockScratch::new(step, rule),
        |scratch, rows| {
            let mut x = try_zeros(rows.len(), k, "a row block's solution")?;
            let work = solve_row_block(step, rule, tol, rows, scratch, x.as_mut())?;
            let empty = Preconditioners::PerRow(Vec::new());
            let used = std::mem::replace(&mut scratch.preconditioners, empty);
            Ok((x, work, (used, scratch.usable.clone())))
        },
    )?;
    let work = parts.iter().map(|(_, w, _)| w).sum();
    let (mut mats, mut preconditioners) = (Vec::new(), Vec::new());
    try_reserve(&mut mats, parts.len(), "the row blocks' solutions")?;
    try_reserve(
        &mut preconditioners,
        parts.len(),
        "the row blocks' preconditioners",
    )?;
    for (x, _, p) in parts {
        mats.push(x);
        preconditioners.push(p);
    }
    let x = stack_rows(&mats, n, k)?;
    Ok(IterativeOutcome {
        x: finite(x, "an iterative half-step")?,
        work,
        preconditioners,
    })
}

/// What a `BlockScratch` was made for: (rows, m, k, ridge > 0).
pub type ScratchShape = (usize, usize, usize, bool);

/// `iterative_half_step` into `out` (n x k), the per-thread scratch lent
/// by `workspaces` (kept across half-steps) and the preconditioners
/// dropped; returns the row-iterations spent.
pub fn iterative_half_step_into<R: PreconditionerRule>(
    step: &HalfStep<'_>,
    rule: &R,
    tol: f64,
    mut out: MatMut<'_, f64>,
    workspaces: &Workspaces<ScratchShape, BlockScratch<R::Scratch>>,
) -> Result<usize>
where
    R::Scratch: Send,
{
    let (n, (m, k)) = (step.problem.n_rows(), step.fixed.shape());
    let shape = (ROW_BLOCK.min(n), m, k, step.ridge > 0.0);
    let make = || BlockScratch::new(step, rule);
    let parts = row_blocks_of(out.as_mut(), ROW_BLOCK)?;
    workspaces.stock(shape, runs(step.par, parts.len()), make)?;
    let lend = || workspaces.lend(shape, make);
    let work = map_owned_with(step.par, parts, lend, |scratch, (rows, x)| {
        solve_row_block(step, rule, tol, &rows, scratch, x)
    })?;
    finite_in_place(out.as_ref(), "an iterative half-step")?;
    Ok(work.iter().sum())
}

/// One row block of `iterative_half_step`: its solutions into `x` (the
/// block's rows); the row-iterations spent. The preconditioners it used
/// and the rows that used them are left in `scratch`.
fn solve_row_block<R: PreconditionerRule>(
    step: &HalfStep<'_>,
    rule: &R,
    tol: f64,
    rows: &Range<usize>,
    scratch: &mut BlockScratch<R::Scratch>,
    mut x: MatMut<'_, f64>,
) -> Result<usize> {
    let (rb, (m, k)) = (rows.len(), step.fixed.shape());
    let BlockScratch {
        cgls,
        row: row_scratch,
        rule: rule_scratch,
        weights,
        views: kept_views,
        active,
        usable,
        solution,
        preconditioners,
    } = scratch;
    // The block's weights with rows contiguous (a deliberate copy: the rules
    // and every CG pass walk rows).
    let weights = &mut weights[..rb * m];
    step.problem
        .dense()
        .weights_rows_into(rows.clone(), 0..m, weights);
    let weights = &*weights;
    match step.warm_start {
        Some(warm) => x.copy_from(warm.subrows(rows.start, rb)),
        None => x.fill(0.0),
    }
    let mut views = recycled(std::mem::take(kept_views));
    views.extend((0..rb).map(|r| {
        let row_weights = &weights[r * m..(r + 1) * m];
        RowView {
            index: rows.start + r,
            weights: row_weights,
            nonzeros: row_weights.iter().filter(|v| **v != 0.0).count(),
        }
    }));
    active.clear();
    active.extend(
        views
            .iter()
            .map(|v| !may_be_singular(v.nonzeros, k, step.ridge > 0.0)),
    );
    let with_rows = (&views[..], &mut *row_scratch);
    rule.build_into(step, with_rows, rule_scratch, active, preconditioners)?;
    for (r, view) in views.iter().enumerate() {
        if !active[r] {
            let count = gather_design(step, view, row_scratch);
            let RowScratch { design, spd } = row_scratch;
            design.solve_exactly(count, spd, solution);
            (0..k).for_each(|d| x[(r, d)] = solution[d]);
        }
    }
    *kept_views = recycled(views);
    let (values, values_multiplier) = step.problem.dense().values_block(rows.clone(), 0..m);
    let data = BlockData {
        weights,
        values,
        values_multiplier,
        shift: step.problem.dense().column_shift(),
        fixed: step.fixed,
        ridge: step.ridge,
    };
    usable.clear();
    usable.extend_from_slice(active);
    let work = solve_block(
        &data,
        preconditioners,
        active,
        x.as_mut(),
        tol,
        MAX_INNER_ITERATIONS,
        cgls,
    );
    Ok(work)
}
