//! Preconditioned CG on each sparse row's normal equations G_i x = b_i,
//! never forming G_i: a product G_i v is the base Gram times v (a scaling
//! when Y is orthonormal) plus sum_p c_p (y_j . v) y_j, 4 nnz_i k flops over
//! gathered rows of Y. The preconditioner is the base part's diagonal, or
//! G_i's own diagonal when there is no base part (completion).
//! With Y orthonormal (ridge = 0, the driver's default) the base part is
//! a multiple of I, G_i is I plus the pattern's corrections, and warm starts
//! from the previous iteration leave CG little to do. (Jacobi on all of
//! G_i costs a third more per setup pass and measured slower overall on the
//! implicit-feedback benchmark: 5.8 vs 6.8 inner iterations, 3.0 vs 3.5 s
//! for 10 outer iterations.)
//! While the driver's inner solves are loose, the passes may gather a
//! float32 copy of Y's rows instead (`NarrowRows`: half the bytes, the
//! same float64 sums).

use super::exact::ExactRowScratch;
use super::BaseSystem;
use crate::error::Result;
use crate::kernels::blocking::{fold_row_blocks_with, runs};
use crate::kernels::gathered::{
    add_projections, add_projections_narrow, add_row_sums, add_row_sums_narrow, add_squares, dot,
    narrow_rows_fast, RowSums,
};
use crate::kernels::transpose::{
    from_rows_contiguous_into, narrowed_into, resize_reusing, rows_contiguous_into,
};
use crate::kernels::workspaces::{Lent, Workspaces};
use crate::memory::{checked_len, try_filled, try_reserve};
use crate::problem::sparse::{SparseRow, SparseView};
use crate::solver::half_step::{
    finite_in_place, into_new_solution, HalfStep, InnerAccuracy, InnerMethod, Solved, SolverKind,
};
use crate::solver::half_step::{NarrowRows, MAX_INNER_ITERATIONS};
use faer::{MatMut, MatRef, Par};
use std::ops::Range;

/// SHARED_PCG on sparse input: Jacobi-preconditioned CG per row
/// (`solver::Iterative` adds the accuracy). It keeps its half-steps' large
/// buffers for the next half-step of the fit.
#[derive(Default)]
pub struct JacobiCg {
    buffers: HalfStepBuffers,
    /// Whether the last half-step read float32 rows of Y.
    read_narrow: bool,
}

/// The buffers of a half-step that scale with the problem, kept from one
/// half-step to the next: after the first iteration (one half-step per
/// side) each has the larger side's size, and a half-step allocates and
/// page-faults none of them again (issue 29: fresh ones cost about 10 % of
/// an iteration on the implicit-feedback benchmark). Every element a
/// half-step reads it has written first, so the results are bitwise those
/// of fresh buffers.
#[derive(Default)]
pub struct HalfStepBuffers {
    /// Y's rows (lent to `BaseSystem::y_rows` during a half-step).
    y_rows: Vec<f64>,
    /// The same rounded to float32, where a half-step reads them
    /// (`NarrowRows`); empty until one does.
    y_narrow: Vec<f32>,
    /// The warm start's rows.
    warm_rows: Vec<f64>,
    /// The solutions' rows.
    solutions: Vec<f64>,
    /// Each thread's CG scratch, for (k, the longest row).
    scratch: Workspaces<(usize, usize), RowWorkspace>,
}

/// One thread's scratch: for CG, and for the exact path once a row takes it.
type RowWorkspace = (CgScratch, Option<ExactRowScratch>);

impl InnerMethod for JacobiCg {
    const KIND: SolverKind = SolverKind::SharedPcg;

    fn solve_at(&mut self, step: &HalfStep<'_>, accuracy: InnerAccuracy) -> Solved {
        into_new_solution(step, |out| self.solve_at_into(step, accuracy, out))
    }

    fn solve_at_into(
        &mut self,
        step: &HalfStep<'_>,
        accuracy: InnerAccuracy,
        mut out: MatMut<'_, f64>,
    ) -> Result<usize> {
        let view = step.problem.sparse();
        let y_rows = std::mem::take(&mut self.buffers.y_rows);
        let base = BaseSystem::with_rows_buffer(view, step, y_rows)?;
        let stop = Stopping {
            tolerance: accuracy.tolerance,
            loose: accuracy.loose,
        };
        let mut y_narrow = std::mem::take(&mut self.buffers.y_narrow);
        let narrow = narrow_rows(&base, accuracy.narrow, step.par, &mut y_narrow);
        let solved = narrow.and_then(|narrow| {
            self.read_narrow = narrow.products.is_some();
            let buffers = &mut self.buffers;
            jacobi_cg_half_step(
                view,
                &base,
                step.warm_start,
                stop,
                step.par,
                buffers,
                narrow,
            )
        });
        self.buffers.y_narrow = y_narrow;
        self.buffers.y_rows = base.y_rows;
        let work = solved?;
        from_rows_contiguous_into(&self.buffers.solutions, out.as_mut(), step.par);
        finite_in_place(out.as_ref(), "an iterative half-step")?;
        Ok(work)
    }

    fn release_kept(&mut self) {
        self.buffers = HalfStepBuffers::default();
    }

    fn read_narrow(&self) -> bool {
        self.read_narrow
    }
}

/// What the passes of a half-step asked to read `narrow` read: Y's rows
/// rounded into `y_narrow`, where their kernels run at speed
/// (`narrow_rows_fast`) and every entry is within float32's range; else
/// the float64 rows.
fn narrow_rows<'a>(
    base: &BaseSystem,
    narrow: NarrowRows,
    par: Par,
    y_narrow: &'a mut Vec<f32>,
) -> Result<NarrowView<'a>> {
    if !narrow.products || !narrow_rows_fast(base.rank()) {
        return Ok(NarrowView::default());
    }
    Ok(match narrowed_into(&base.y_rows, par, y_narrow)? {
        true => NarrowView::of(narrow, y_narrow),
        false => NarrowView::default(),
    })
}

/// The float32 rows of Y each pass of a half-step reads, where it reads
/// them (`NarrowRows`); None: the pass reads `BaseSystem::y_rows`. The
/// default: every pass in float64.
#[derive(Clone, Copy, Default)]
pub(crate) struct NarrowView<'a> {
    products: Option<&'a [f32]>,
    residual: Option<&'a [f32]>,
}

impl<'a> NarrowView<'a> {
    fn of(narrow: NarrowRows, rows: &'a [f32]) -> Self {
        NarrowView {
            products: narrow.products.then_some(rows),
            residual: narrow.residual.then_some(rows),
        }
    }
}

/// Per-task buffers of one row's CG.
struct CgScratch {
    x: Vec<f64>,
    residual: Vec<f64>,
    direction: Vec<f64>,
    product: Vec<f64>,
    preconditioned: Vec<f64>,
    diagonal: Vec<f64>,
    /// 1 / the preconditioner's diagonal.
    inverse: Vec<f64>,
    rhs: Vec<f64>,
    c: Vec<f64>,
    t: Vec<f64>,
}

impl CgScratch {
    /// Reserved for rows of up to `longest` entries.
    fn new(k: usize, longest: usize) -> Result<Self> {
        let zeros = || try_filled(k, 0.0, "a row's CG vectors");
        Ok(CgScratch {
            x: zeros()?,
            residual: zeros()?,
            direction: zeros()?,
            product: zeros()?,
            preconditioned: zeros()?,
            diagonal: zeros()?,
            inverse: zeros()?,
            rhs: zeros()?,
            c: try_reserved(longest)?,
            t: try_reserved(longest)?,
        })
    }
}

/// An empty vector with room for `len` coefficients.
fn try_reserved(len: usize) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    try_reserve(&mut v, len, "a row's coefficients")?;
    Ok(v)
}

/// `out` = G_i v, with `c` the row's c_p.
fn apply_normal_matrix(
    base: &BaseSystem,
    row: &SparseRow<'_>,
    c: &[f64],
    v: &[f64],
    out: &mut [f64],
    narrow: Option<&[f32]>,
) {
    apply_base_gram(base, v, out);
    match narrow {
        Some(rows) => add_projections_narrow(out, c, row.cols, rows, v),
        None => add_projections(out, c, row.cols, &base.y_rows, v),
    }
}

/// `out` = (w_default Y^T Y + ridge I) v.
fn apply_base_gram(base: &BaseSystem, v: &[f64], out: &mut [f64]) {
    match base.gram_scale {
        Some(s) => out.iter_mut().zip(v).for_each(|(o, x)| *o = s * x),
        None => {
            for (a, o) in out.iter_mut().enumerate() {
                // The Gram is symmetric: column a dotted with v is entry a.
                *o = base.gram.col(a).iter().zip(v).map(|(g, x)| g * x).sum();
            }
        }
    }
}

/// While the driver's iterations are loose, each warm-started row stops
/// once its residual is this fraction of the warm start's: every half-step
/// then removes a fixed share of each row's error, which keeps alternation
/// descending, and rows whose warm start is already good cost one pass.
/// (Measured with benches/implicit_profile.rs, random start, omega 1.5:
/// 0.3, 0.4 and 0.5 reach implicit's objective in 7, 8 and 9 iterations
/// at 1.78, 1.57 and 1.31 inner iterations per row; stopping relative to
/// b_i instead stalled the objective at 4.01e6, once warm starts met that
/// bound with no iteration at all.)
pub(crate) const LOOSE_REDUCTION: f64 = 0.3;

/// When a row's CG stops.
#[derive(Clone, Copy)]
pub struct Stopping {
    /// Relative accuracy: the preconditioned residual against the
    /// preconditioned right-hand side.
    pub tolerance: f64,
    /// Whether the driver is in its loose phase: then a warm-started row
    /// may stop once its residual is LOOSE_REDUCTION of its first one.
    pub loose: bool,
}

/// Solve every row of `view` as `stop` says, starting from `warm` when
/// given, in `buffers` (the warm start's and the solutions' rows; the
/// base system holds Y's, `narrow` their float32 copy where passes read
/// it). Leaves the solutions' rows in `buffers.solutions`; returns the
/// iterations summed over rows.
pub(crate) fn jacobi_cg_half_step(
    view: &SparseView<'_>,
    base: &BaseSystem,
    warm: Option<MatRef<'_, f64>>,
    stop: Stopping,
    par: Par,
    buffers: &mut HalfStepBuffers,
    narrow: NarrowView<'_>,
) -> Result<usize> {
    let (n, k, blocks) = (view.n_rows(), base.rank(), view.blocks());
    // Rows of the warm start and of the solutions are read and written
    // whole: contiguous, not k strided accesses each.
    let warm_rows = match warm {
        Some(w) => {
            rows_contiguous_into(w, par, &mut buffers.warm_rows)?;
            Some(buffers.warm_rows.as_slice())
        }
        None => None,
    };
    let reduction = if stop.loose && warm.is_some() {
        LOOSE_REDUCTION
    } else {
        0.0
    };
    let what = "a half-step's solution";
    // Every row of it is written below (by CG or the exact path).
    resize_reusing(&mut buffers.solutions, checked_len(n, k, what)?, what)?;
    let solutions = MatMut::from_row_major_slice_mut(buffers.solutions.as_mut_slice(), n, k);
    // One CG scratch per thread; few rows take the exact path, so its
    // scratch is made only when one does. Every buffer is overwritten
    // before it is read.
    let longest = view.longest_row();
    let new_scratch = || Ok((CgScratch::new(k, longest)?, None::<ExactRowScratch>));
    let pool = &buffers.scratch;
    pool.stock((k, longest), runs(par, blocks.len()), new_scratch)?;
    let workspace = || pool.lend((k, longest), new_scratch);
    let solve_rows =
        |scratch: &mut Lent<'_, _, _>, rows: Range<usize>, mut out: MatMut<'_, f64>| {
            let (cg, exact): &mut RowWorkspace = scratch;
            let mut exact_solve = |i: usize, x: MatMut<'_, f64>| -> Result<()> {
                let scratch = match exact {
                    Some(scratch) => scratch,
                    None => exact.insert(ExactRowScratch::for_rows(k, longest)?),
                };
                scratch.solve(view, base, i, x)
            };
            let mut work = 0;
            for (r, i) in rows.enumerate() {
                let row = view.row(i);
                let mut x = out.as_mut().subrows_mut(r, 1);
                if base.maybe_singular(&row) {
                    exact_solve(i, x)?;
                    continue;
                }
                match &warm_rows {
                    Some(w) => cg.x.copy_from_slice(&w[i * k..(i + 1) * k]),
                    None => cg.x.fill(0.0),
                }
                base.coefficients(&row, &mut cg.c, &mut cg.t)?;
                match solve_row(base, &row, stop.tolerance, reduction, cg, narrow) {
                    Some(iterations) => {
                        work += iterations;
                        x.copy_from(MatRef::from_row_major_slice(&cg.x, 1, k));
                    }
                    None => exact_solve(i, x)?,
                }
            }
            Ok(work)
        };
    fold_row_blocks_with(par, blocks, solutions, workspace, solve_rows, |a, b| a + b)
}

/// sqrt(sum_d b_d^2 w_d).
fn weighted_norm(b: &[f64], w: &[f64]) -> f64 {
    b.iter().zip(w).map(|(b, w)| b * b * w).sum::<f64>().sqrt()
}

/// Replace the start x0 by the best multiple of it, (b.x0 / x0.G x0) x0,
/// given b in `cg.rhs` and G x0 in `cg.product`: free, and never worse than
/// x0 or 0. It matters when the start is far off in scale, as the SVD start
/// is on weights far from 1: it halves the objective after the first
/// iteration on benches/implicit_profile.rs.
fn rescale_start(cg: &mut CgScratch) {
    let curvature = dot(&cg.x, &cg.product);
    if !(curvature > 0.0 && curvature.is_finite()) {
        return;
    }
    let scale = dot(&cg.rhs, &cg.x) / curvature;
    cg.x.iter_mut().for_each(|v| *v *= scale);
    cg.product.iter_mut().for_each(|v| *v *= scale);
}

/// b_i into `cg.rhs` and G_i x0 into `cg.product`, x0 = `cg.x`: one pass
/// over the row's gathered rows, float32 ones where `narrow` holds them.
fn row_sums(base: &BaseSystem, row: &SparseRow<'_>, cg: &mut CgScratch, narrow: Option<&[f32]>) {
    cg.rhs.copy_from_slice(&base.rhs);
    apply_base_gram(base, &cg.x, &mut cg.product);
    let sums = RowSums {
        rhs: &mut cg.rhs,
        product: &mut cg.product,
    };
    match narrow {
        Some(rows) => add_row_sums_narrow(sums, &cg.c, &cg.t, row.cols, rows, &cg.x),
        None => add_row_sums(sums, &cg.c, &cg.t, row.cols, &base.y_rows, &cg.x),
    }
}

/// CG from `cg.x` on G_i x = b_i, preconditioned by a diagonal, until the
/// residual is within `tol` of b_i or `reduction` of the first residual:
/// the iterations taken, or None if G_i's diagonal is not positive (the row
/// then takes the exact path). The row's c_p and t_p are in `cg.c`, `cg.t`
/// (`BaseSystem::coefficients`).
fn solve_row(
    base: &BaseSystem,
    row: &SparseRow<'_>,
    tol: f64,
    reduction: f64,
    cg: &mut CgScratch,
    narrow: NarrowView<'_>,
) -> Option<usize> {
    row_sums(base, row, cg, narrow.residual);
    // The preconditioner's inverse: multiplies in the loop, not divisions.
    match &base.inverse_diagonal {
        Some(inverse) => cg.inverse.copy_from_slice(inverse),
        None => {
            // No base part (w_default = ridge = 0, completion): G_i's own
            // diagonal (one more pass).
            for (d, v) in cg.diagonal.iter_mut().enumerate() {
                *v = base.gram[(d, d)];
            }
            add_squares(&mut cg.diagonal, &cg.c, row.cols, &base.y_rows);
            if !cg.diagonal.iter().all(|v| *v > 0.0 && v.is_finite()) {
                return None;
            }
            let pairs = cg.inverse.iter_mut().zip(&cg.diagonal);
            pairs.for_each(|(v, d)| *v = 1.0 / d);
        }
    }
    let reference = weighted_norm(&cg.rhs, &cg.inverse);
    if reference == 0.0 {
        cg.x.fill(0.0);
        return Some(0);
    }
    rescale_start(cg);
    let vectors = cg.residual.iter_mut().zip(&mut cg.preconditioned);
    for (((r, z), b), (p, inv)) in vectors.zip(&cg.rhs).zip(cg.product.iter().zip(&cg.inverse)) {
        *r = b - p;
        *z = *r * inv;
    }
    cg.direction.copy_from_slice(&cg.preconditioned);
    let mut gamma = dot(&cg.residual, &cg.preconditioned);
    let target = (tol * reference).max(reduction * gamma.sqrt());
    let mut iterations = 0;
    while iterations < MAX_INNER_ITERATIONS && gamma.sqrt() > target {
        apply_normal_matrix(
            base,
            row,
            &cg.c,
            &cg.direction,
            &mut cg.product,
            narrow.products,
        );
        let curvature = dot(&cg.direction, &cg.product);
        // Exact arithmetic keeps this positive; rounding at convergence may not.
        if curvature.is_nan() || curvature <= 0.0 {
            break;
        }
        let alpha = gamma / curvature;
        let solution = cg.x.iter_mut().zip(&cg.direction);
        for ((x, p), ((r, z), (q, inv))) in solution.zip(
            cg.residual
                .iter_mut()
                .zip(&mut cg.preconditioned)
                .zip(cg.product.iter().zip(&cg.inverse)),
        ) {
            *x += alpha * p;
            *r -= alpha * q;
            *z = *r * inv;
        }
        let next = dot(&cg.residual, &cg.preconditioned);
        let beta = next / gamma;
        gamma = next;
        for (p, z) in cg.direction.iter_mut().zip(&cg.preconditioned) {
            *p = z + beta * *p;
        }
        iterations += 1;
    }
    Some(iterations)
}
