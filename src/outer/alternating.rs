//! Alternating minimization: U <- argmin, V <- argmin, each half-step one
//! regression per row through the chosen solver.
//!
//! With ridge = 0 the fixed factor is orthonormalized before each half-step
//! (LLR16's ALT). That leaves the product U V^T of the exact argmin
//! unchanged while keeping each row's Gram as well conditioned as its
//! weights allow. With ridge > 0 the penalty is not invariant under that
//! change of basis, so plain alternation runs.

use super::offsets_step::OffsetsStep;
use super::sides::{relax, Sides, Spares, StepSettings};
use super::{Context, FitOutcome, Progress};
use crate::error::{Error, Result};
use crate::init::Factors;
use crate::kernels::blocking::current_par;
use crate::kernels::orthonormal::{orthonormal_basis, thin_qr_into};
use crate::memory::try_copy;
use crate::options::Options;
use crate::problem::Problem;
use crate::products::tall_times_small_into;
use crate::solver::{HalfStep, HalfStepSolver};
use faer::Mat;

/// Inner accuracy of the first iteration when it adapts.
const LOOSE_ACCURACY: f64 = 1e-4;
/// Inner accuracy = this * the last relative objective decrease, so the
/// inner error stays well below the outer progress (measured: looser rules,
/// such as 0.1 sqrt(decrease), multiplied the outer iterations by 7).
const ACCURACY_PER_DECREASE: f64 = 1e-2;

/// The inner accuracy of iterative solvers: loose at first, tightened as
/// the objective settles, never below the final one.
pub(super) struct AccuracySchedule {
    pub(super) now: f64,
    target: f64,
    iterative: bool,
}

impl AccuracySchedule {
    pub(super) fn new(options: &Options, iterative: bool) -> Self {
        let target = options.regression_tolerance;
        let now = if options.adaptive_accuracy && iterative {
            LOOSE_ACCURACY.max(target)
        } else {
            target
        };
        AccuracySchedule {
            now,
            target,
            iterative,
        }
    }

    /// Whether this iteration's inner solves are looser than asked for.
    pub(super) fn loose(&self) -> bool {
        self.now > self.target && self.iterative
    }

    pub(super) fn tighten_fully(&mut self) {
        self.now = self.target;
    }

    /// After an accepted iteration that lowered the objective from `last` to
    /// `value` (relative decrease `decrease`), or settled it.
    pub(super) fn follow(&mut self, decrease: f64, settled: bool) {
        let wanted = if settled {
            0.0
        } else {
            ACCURACY_PER_DECREASE * decrease
        };
        self.now = wanted.clamp(self.target, self.now);
    }
}

/// What one iteration's objective means for the loop.
#[derive(PartialEq)]
pub(super) enum Verdict {
    /// It rose at full accuracy: rounding at the optimum; keep the old
    /// factors and stop.
    RoseAtOptimum,
    /// It rose with loose inner solves: redo the iteration at full accuracy.
    RoseRetry,
    Accept,
}

/// `previous` is the last accepted objective, infinite before the first.
/// (Not an `Option`: optimised code may compare `None`'s uninitialised
/// payload before testing the tag, which valgrind reports as a jump on
/// uninitialised memory.)
pub(super) fn verdict(previous: f64, value: f64, loose: bool) -> Verdict {
    if value > previous {
        if loose {
            Verdict::RoseRetry
        } else {
            Verdict::RoseAtOptimum
        }
    } else {
        Verdict::Accept
    }
}

/// Zero the rows of an orthonormal basis whose norm exceeds
/// clip * sqrt(k / rows) (LLR16's incoherence step), then re-orthonormalize.
fn clip_rows(q: Mat<f64>, clip: f64) -> Result<Mat<f64>> {
    let (rows, k) = q.shape();
    let limit = clip * (k as f64 / rows as f64).sqrt();
    let mut clipped = q;
    let mut any = false;
    for i in 0..rows {
        let norm = (0..k)
            .map(|j| clipped[(i, j)] * clipped[(i, j)])
            .sum::<f64>()
            .sqrt();
        if norm > limit {
            any = true;
            (0..k).for_each(|j| clipped[(i, j)] = 0.0);
        }
    }
    if any {
        orthonormal_basis(clipped.as_ref())
    } else {
        Ok(clipped)
    }
}

/// The fixed factor as the half-step will see it, and the R with y = Q R
/// when it was orthonormalized (`Context::orthonormalizes`), LLR16's
/// clipping applied where `clip` > 0.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn prepare_fixed(
    y: &Mat<f64>,
    orthonormalize: bool,
    clip: f64,
) -> Result<(Mat<f64>, Option<Mat<f64>>)> {
    prepare_fixed_with(y, orthonormalize, clip, &mut Spares::default())
}

/// `prepare_fixed` in matrices taken from `spares` (its scratch kept there).
fn prepare_fixed_with(
    y: &Mat<f64>,
    orthonormalize: bool,
    clip: f64,
    spares: &mut Spares,
) -> Result<(Mat<f64>, Option<Mat<f64>>)> {
    let (rows, k) = y.shape();
    let mut q = spares.take(rows, k)?;
    if !orthonormalize {
        q.copy_from(y);
        return Ok((q, None));
    }
    let mut scratch = spares.take(rows, k)?;
    let r = thin_qr_into(y.as_ref(), q.as_mut(), scratch.as_mut(), current_par())?;
    spares.keep(scratch);
    let q = if clip > 0.0 { clip_rows(q, clip)? } else { q };
    Ok((q, Some(r)))
}

/// The other factor expressed against the new fixed basis: if the product
/// was X Y^T and Y = Q R, it is (X R^T) Q^T. The iterative solver starts
/// there. Flops: 2 rows k^2.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) fn warm_start(x: &Mat<f64>, r: Option<&Mat<f64>>) -> Result<Mat<f64>> {
    warm_start_with(x, r, &mut Spares::default())
}

/// `warm_start` in a matrix taken from `spares`.
fn warm_start_with(x: &Mat<f64>, r: Option<&Mat<f64>>, spares: &mut Spares) -> Result<Mat<f64>> {
    let mut warm = spares.take(x.nrows(), x.ncols())?;
    match r {
        Some(r) => tall_times_small_into(x.as_ref(), r.transpose(), warm.as_mut()),
        None => warm.copy_from(x),
    }
    Ok(warm)
}

/// One half-step: the U half-step (`rows`) or the V half-step, `moving`
/// the factor solved for, `fixed` the other. Returns the fixed factor as
/// the step saw it (orthonormalized when ridge = 0 without offsets) and the
/// solved factor, relaxed by `omega`, in matrices taken from `spares`.
pub(super) fn half_step(
    ctx: &Context<'_>,
    solver: &mut (dyn HalfStepSolver + Send),
    (rows, moving, fixed): (bool, &Mat<f64>, &Mat<f64>),
    omega: f64,
    spares: &mut Spares,
) -> Result<(Mat<f64>, Mat<f64>)> {
    let side = if rows {
        *ctx.problem
    } else {
        ctx.problem.transposed()
    };
    if ctx.offsets.any() {
        return offsets_half_step(ctx, solver, rows, side, moving, fixed, omega);
    }
    let pool = ctx.pool;
    let clip = ctx.options.clip;
    let orthonormalize = ctx.orthonormalizes();
    let (fixed, r) = pool.install(|| prepare_fixed_with(fixed, orthonormalize, clip, spares))?;
    let warm = pool.install(|| warm_start_with(moving, r.as_ref(), spares))?;
    let step = HalfStep {
        problem: side,
        fixed: fixed.as_ref(),
        ridge: ctx.options.ridge,
        ridge_scale: ctx.ridge_scale(rows),
        unpenalized: None,
        warm_start: Some(warm.as_ref()),
        fixed_orthonormal: r.is_some(),
        par: faer::Par::rayon(pool.current_num_threads()),
    };
    let mut solved = spares.take(moving.nrows(), moving.ncols())?;
    pool.install(|| solver.solve_into(&step, solved.as_mut()))?;
    let relaxed = relax(&warm, solved, omega);
    spares.keep(warm);
    Ok((fixed, relaxed))
}

/// The half-step of augmented factors (`offsets_step`): the fixed factor
/// is not rotated.
fn offsets_half_step(
    ctx: &Context<'_>,
    solver: &mut (dyn HalfStepSolver + Send),
    rows: bool,
    side: Problem<'_>,
    moving: &Mat<f64>,
    fixed: &Mat<f64>,
    omega: f64,
) -> Result<(Mat<f64>, Mat<f64>)> {
    let pool = ctx.pool;
    let k = ctx.rank - ctx.offsets.count();
    let augmented = (ctx.offsets, k, ctx.pins);
    let step = pool.install(|| OffsetsStep::new(augmented, rows, moving, fixed))?;
    let shifted = pool.install(|| step.shifted_values(&side))?;
    let half_step = HalfStep {
        problem: step.problem(side, &shifted),
        fixed: step.design.as_ref(),
        ridge: ctx.options.ridge,
        ridge_scale: ctx.ridge_scale(rows),
        unpenalized: step.unpenalized,
        warm_start: Some(step.warm.as_ref()),
        fixed_orthonormal: false,
        par: faer::Par::rayon(pool.current_num_threads()),
    };
    let solved = pool.install(|| solver.solve(&half_step))?;
    let next = step.assemble(solved, omega)?;
    Ok((
        try_copy(fixed.as_ref(), "the half-step with offsets")?,
        next,
    ))
}

/// An accepted iteration at `factors` (objective lowered from `last` to
/// `value`):
/// record it, follow its progress with the inner accuracy, report it.
/// True when the fit stops there (converged or cancelled), and the factors
/// it replaced (for `Sides::keep_spare`). Shared by the alternating and
/// accelerated loops.
pub(super) fn accept_iteration(
    run: &mut FitOutcome,
    schedule: &mut AccuracySchedule,
    tolerance: f64,
    (last, value): (f64, f64),
    factors: Factors,
    progress: Progress<'_>,
) -> (bool, Factors) {
    let loose = schedule.loose();
    let spent = run.accept(factors, value);
    run.accuracies.push(schedule.now);
    // Tolerance 0 asks for every iteration of the budget.
    let settled =
        tolerance > 0.0 && (last.is_finite() && (last - value) <= tolerance * last || value == 0.0);
    // Convergence counts only for iterations solved at full accuracy.
    run.converged = settled && !loose;
    if last.is_finite() && !run.converged {
        schedule.follow(((last - value) / last).max(0.0), settled);
    }
    if !progress(run.iterations, value) {
        run.cancelled = true;
    }
    (run.cancelled || run.converged, spent)
}

/// The loop's end at a rise at full accuracy: converged, or with tolerance
/// 0 the rest of the budget at these factors (`FitOutcome::finish_budget`).
pub(super) fn stationary(run: &mut FitOutcome, options: &Options, progress: Progress<'_>) {
    if options.tolerance > 0.0 {
        run.converged = true;
    } else {
        run.finish_budget(options.max_iterations, progress);
    }
}

/// Alternation over `sides` from `start` until the tolerance, the
/// iteration budget or the callback stops it; every accepted iteration
/// lowers the objective. One process's fit and a distributed one run this
/// same loop.
pub fn alternate(sides: &mut dyn Sides, start: Factors, options: &Options) -> Result<FitOutcome> {
    let mut schedule = AccuracySchedule::new(options, sides.iterative());
    let start_objective = sides.objective(&start)?;
    let mut run = FitOutcome::new(start, start_objective);
    let mut previous = f64::INFINITY;
    let mut clipping = options.clip > 0.0;
    while run.iterations < options.max_iterations {
        // The first iteration corrects the start's scale; relaxing it
        // amplifies the start's error (measured: 100x the objective).
        let omega = if run.iterations == 0 {
            1.0
        } else {
            options.overrelaxation
        };
        let settings = StepSettings {
            omega,
            clip: clipping,
            accuracy: schedule.now,
        };
        let (u, v) = (&run.factors.u, &run.factors.v);
        let (v_fixed, u_solved) = sides.half_step(true, u, v, settings)?;
        let (u, v) = sides.half_step(false, &v_fixed, &u_solved, settings)?;
        sides.keep_spare(v_fixed);
        sides.keep_spare(u_solved);
        let accepted = Factors { u, v };
        let value = sides.objective(&accepted)?;
        if !value.is_finite() {
            return Err(Error::Numerical(format!(
                "the objective became non-finite at iteration {}",
                run.iterations + 1
            )));
        }
        let loose = schedule.loose();
        let mut proceed = |iterations: usize, value: f64| sides.proceed(iterations, value);
        match verdict(previous, value, loose) {
            Verdict::RoseRetry => {
                schedule.tighten_fully();
                continue;
            }
            Verdict::RoseAtOptimum if clipping => {
                clipping = false;
                continue;
            }
            Verdict::RoseAtOptimum => {
                stationary(&mut run, options, &mut proceed);
                break;
            }
            Verdict::Accept => {}
        }
        clipping = options.clip > 0.0;
        let last = std::mem::replace(&mut previous, value);
        let objectives = (last, value);
        let (stop, spent) = accept_iteration(
            &mut run,
            &mut schedule,
            options.tolerance,
            objectives,
            accepted,
            &mut proceed,
        );
        sides.keep_spare(spent.u);
        sides.keep_spare(spent.v);
        if stop {
            break;
        }
    }
    if let Some(failure) = sides.take_failure() {
        return Err(failure);
    }
    run.solver_used = sides.solver_kind();
    run.mean_inner_iterations = sides.mean_inner_iterations();
    run.narrow_half_steps = sides.narrow_half_steps();
    Ok(run)
}
