//! One VarPro iteration's damping trials: the model at the current point,
//! then steps at rising damping until one lowers the objective. A trial is
//! Gauss-Newton's damped step (dense or matrix-free), refined into
//! Newton's where `ModelChoice` says so (`super::newton`).

use super::damped_step::{damped_step, Step};
use super::matrix_free::{self, forcing, matrix_free_step};
use super::newton::{newton_refined, AcceptedStep};
use super::observed::Observed;
use super::{
    norm, record_newton, record_trial, Damping, Point, StepSolver, System, CONVERGED_DAMPING,
    MAX_DAMPING,
};
use crate::error::{Error, Result};
use crate::memory::try_from_fn;
use crate::outer::Context;

/// The next accepted point and the damping it was taken at, or None when
/// no damping gives a decrease (the point is stationary to working
/// precision). Tells `ModelChoice` what the step was.
pub(super) fn next_point(
    ctx: &Context<'_>,
    obs: &Observed,
    now: &Point,
    damping: &mut Damping,
    k: usize,
    solver: &mut StepSolver,
) -> Result<Option<(Point, f64)>> {
    let (before, was_newton) = (damping.lambda, solver.newton);
    let mut system = solver.system(ctx, obs, now, k)?;
    let next = damping_trials(ctx, obs, now, damping, k, solver, &mut system);
    solver.recycle(system);
    let Some((next, lambda)) = next? else {
        return Ok(None);
    };
    let step = AcceptedStep {
        newton: was_newton && solver.newton,
        damped: lambda > before || lambda > CONVERGED_DAMPING,
        decrease: now.elim.objective - next.elim.objective,
    };
    if step.newton {
        record_newton();
    }
    let newton = solver.choice.next_is_newton(step);
    solver.newton = newton && !solver.matrix_free && !solver.gauss_newton_only;
    Ok(Some((next, lambda)))
}

/// Gauss-Newton's step on `system` at damping `lambda`: Some(None) when
/// the damped matrix is not positive definite (raise the damping), None
/// when the dense factor does not fit in memory (go matrix-free).
fn gauss_newton_step(
    ctx: &Context<'_>,
    gauge: Option<&[f64]>,
    (k, lambda): (usize, f64),
    solver: &mut StepSolver,
    system: &mut System<'_>,
) -> Result<Option<Option<Step>>> {
    match system {
        System::Dense(model) => {
            let damped = &mut solver.damped;
            let p = model.p;
            let dense = ctx
                .pool
                .install(|| damped_step(model, damped, gauge, p, k, lambda));
            record_trial();
            match dense {
                Err(Error::OutOfMemory(_)) => Ok(None),
                other => Ok(Some(other?)),
            }
        }
        System::MatrixFree(curvature, product) => {
            let g = norm(&curvature.gradient);
            let eta = forcing(g, *solver.first_gradient.get_or_insert(g));
            let solved = ctx
                .pool
                .install(|| matrix_free_step(product, curvature, gauge, k, lambda, eta))?;
            Ok(Some(solved.map(|solved| {
                matrix_free::record(solved.iterations);
                solved.step
            })))
        }
    }
}

/// Trials on `system`, the model at `now`, raising the damping until one
/// lowers the objective.
fn damping_trials<'a>(
    ctx: &Context<'_>,
    obs: &'a Observed,
    now: &'a Point,
    damping: &mut Damping,
    k: usize,
    solver: &mut StepSolver,
    system: &mut System<'a>,
) -> Result<Option<(Point, f64)>> {
    let ridge = ctx.options.ridge;
    let gauge = (ridge == 0.0).then_some(&now.x[..]);
    let f = now.elim.objective;
    while damping.lambda <= MAX_DAMPING {
        let lambda = damping.lambda;
        let Some(step) = gauss_newton_step(ctx, gauge, (k, lambda), solver, system)? else {
            // The dense system's factor did not fit: matrix-free from here.
            solver.matrix_free = true;
            solver.newton = false;
            *system = solver.system(ctx, obs, now, k)?;
            continue;
        };
        let Some(gauss_newton) = step else {
            damping.rejected();
            continue;
        };
        // Newton's step first when the model is Newton's: refined from
        // Gauss-Newton's with the factor just computed. It gets this one
        // trial: where Newton's matrix is not positive definite, or its step
        // does not lower f, the point is outside the region where Newton's
        // step is trusted, and Gauss-Newton's step takes the trial over.
        let newton = match system {
            System::Dense(model) if solver.newton => {
                let at = (obs, now, k);
                let refined = ctx.pool.install(|| {
                    newton_refined(
                        model,
                        &solver.damped,
                        gauge,
                        (lambda, ridge),
                        at,
                        &gauss_newton,
                    )
                })?;
                solver.newton = refined.is_some();
                refined
            }
            _ => None,
        };
        let steps = newton.into_iter().map(|s| (s, true));
        for (step, newton) in steps.chain([(gauss_newton, false)]) {
            // f = 2 phi: a predicted decrease of f lost in rounding means
            // the model has nothing left to offer.
            if 2.0 * step.predicted <= f64::EPSILON * f {
                if newton {
                    solver.newton = false;
                    continue;
                }
                return Ok(None);
            }
            let moved = |i: usize, j: usize| now.x[i * k + j] + step.delta[i * k + j];
            let x = try_from_fn(obs.n_free, k, moved, "VarPro's trial point")?;
            // While Newton's model is on, the next iteration will likely
            // take a Newton step from this point: keep the rows' G^+.
            let keep = solver.newton;
            let trial = ctx
                .pool
                .install(|| Point::eliminated(obs, x, (k, ridge), keep))?;
            if trial.elim.objective < f {
                let used = damping.lambda;
                damping.accepted();
                return Ok(Some((trial, used)));
            }
            solver.newton &= !newton;
        }
        damping.rejected();
    }
    Ok(None)
}
