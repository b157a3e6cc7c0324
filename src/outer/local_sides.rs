//! One process's sides of a fit (`Sides`): the whole problem, its
//! solvers, the progress callback and the buffers kept across iterations.
//! Alternation and accelerated alternation run on them; a distributed fit
//! runs the same loops on `distributed::sides`.

use super::alternating::half_step;
use super::sides::{Sides, Spares, StepSettings};
use super::{Context, FitOutcome, Progress};
use crate::error::Result;
use crate::init::Factors;
use crate::options::Options;
use crate::problem::ResidualScratch;
use crate::solver::{HalfStepSolver, SolverKind};
use faer::Mat;

/// One process's sides: the whole problem, and one solver for both
/// half-steps (alternation) or one per side (accelerated alternation).
pub(super) struct LocalSides<'c, 'a> {
    ctx: &'c Context<'a>,
    /// The same context without clipping (`alternate` turns it off for an
    /// iteration that clipping made rise).
    unclipped: Context<'a>,
    rows_solver: Box<dyn HalfStepSolver + Send>,
    /// The V half-step's own solver, when each side has one.
    cols_solver: Option<Box<dyn HalfStepSolver + Send>>,
    progress: Progress<'c>,
    inner_work: f64,
    half_steps: usize,
    /// Half-steps that read float32 rows (`NarrowRows`).
    narrow_half_steps: usize,
    last_kind: SolverKind, // the solver of the last half-step (AUTO's choice)
    spares: Spares,
    /// The objective's buffers, kept across iterations.
    residual: ResidualScratch,
}

impl Sides for LocalSides<'_, '_> {
    fn half_step(
        &mut self,
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
        settings: StepSettings,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        let ctx = if settings.clip {
            self.ctx
        } else {
            &self.unclipped
        };
        let solver = match (rows, self.cols_solver.as_mut()) {
            (false, Some(solver)) => solver,
            _ => &mut self.rows_solver,
        };
        solver.set_accuracy(settings.accuracy);
        solver.set_side(usize::from(!rows), None); // AUTO's estimates are per side
        let sides = (rows, moving, fixed);
        let spares = &mut self.spares;
        let solved = half_step(ctx, solver.as_mut(), sides, settings.omega, spares)?;
        let (n, m) = (ctx.problem.n_rows(), ctx.problem.n_cols());
        let side_rows = if rows { n } else { m };
        self.inner_work += solver.inner_iterations() as f64 / side_rows as f64;
        self.last_kind = solver.kind();
        self.half_steps += 1;
        self.narrow_half_steps += usize::from(solver.read_narrow());
        Ok(solved)
    }

    fn objective(&mut self, factors: &Factors) -> Result<f64> {
        self.ctx.objective_kept(factors, &mut self.residual)
    }

    fn proceed(&mut self, iterations: usize, value: f64) -> bool {
        (self.progress)(iterations, value)
    }

    fn pool(&self) -> &rayon::ThreadPool {
        self.ctx.pool
    }

    fn orthonormalizes(&self) -> bool {
        self.ctx.orthonormalizes()
    }

    fn iterative(&self) -> bool {
        self.rows_solver.is_iterative()
    }

    fn solver_kind(&self) -> SolverKind {
        self.last_kind
    }

    fn mean_inner_iterations(&self) -> f64 {
        self.inner_work / self.half_steps.max(1) as f64
    }

    fn narrow_half_steps(&self) -> usize {
        self.narrow_half_steps
    }

    fn keep_spare(&mut self, matrix: Mat<f64>) {
        self.spares.keep(matrix);
    }

    fn take_spare(&mut self, rows: usize, cols: usize) -> Result<Mat<f64>> {
        self.spares.take(rows, cols)
    }
}

/// `body` over one process's sides of `ctx`, with a solver per side when
/// `per_side` (else one for both).
pub(super) fn with_local_sides<T>(
    ctx: &Context<'_>,
    per_side: bool,
    progress: Progress<'_>,
    body: impl FnOnce(&mut LocalSides<'_, '_>) -> Result<T>,
) -> Result<T> {
    let options = ctx.options;
    // Clipping (LLR16) changes the fixed factor, so a clipped iteration may
    // raise the objective: it is then redone without clipping.
    let unclipped_options = Options {
        clip: 0.0,
        ..options.clone()
    };
    let transposed = ctx.problem.transposed();
    let rows_solver = crate::solver::for_options(options, ctx.problem);
    let mut sides = LocalSides {
        ctx,
        unclipped: Context {
            options: &unclipped_options,
            ..*ctx
        },
        last_kind: rows_solver.kind(),
        rows_solver,
        cols_solver: per_side.then(|| crate::solver::for_options(options, &transposed)),
        progress,
        inner_work: 0.0,
        half_steps: 0,
        narrow_half_steps: 0,
        spares: Spares::default(),
        residual: ResidualScratch::default(),
    };
    body(&mut sides)
}

/// Alternate from `start` until the tolerance, the iteration budget or the
/// callback stops it.
pub fn run_alternating(
    ctx: &Context<'_>,
    start: Factors,
    progress: Progress<'_>,
) -> Result<FitOutcome> {
    with_local_sides(ctx, false, progress, |sides| {
        super::alternating::alternate(sides, start, ctx.options)
    })
}

/// Accelerated alternation from `start` until the tolerance, the iteration
/// budget or the callback stops it. The factors and objective after each
/// iteration are those of its V half-step, as alternation's are; without
/// an extrapolation (the first two iterations, after a restart) the
/// iteration is alternation's.
pub fn run_accelerated(
    ctx: &Context<'_>,
    start: Factors,
    progress: Progress<'_>,
) -> Result<FitOutcome> {
    // One solver per side: AUTO's solver keeps per-side estimates by the
    // parity of its half-steps, which a rejected extrapolation would break.
    with_local_sides(ctx, true, progress, |sides| {
        super::accelerated::accelerate(sides, start, ctx.options)
    })
}
