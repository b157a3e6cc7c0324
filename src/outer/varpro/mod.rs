//! Variable projection (Golub and Pereyra; for matrix factorization with
//! missing data: Okatani and Deguchi's damped Wiberg, Hong and Fitzgibbon
//! 2015): the larger factor is eliminated exactly (it is the alternating
//! half-step, Y*(X)), and Levenberg-Marquardt steps on the smaller one X
//! minimize the reduced objective f(X, Y*(X)). Where alternation crawls
//! along a curved valley, the Gauss-Newton model of the reduced problem
//! sees the valley's shape and converges quadratically near the optimum.
//!
//! Every accepted step lowers the objective (rejected trials raise the
//! damping and are not iterations). With ridge = 0 only the span of X
//! matters: X is kept orthonormal and steps leave the gauge directions.

mod damped_step;
mod elimination;
mod gauss_newton;
mod observed;
mod pairs;
pub mod parts;

use super::{Context, FitOutcome, Progress};
use crate::error::Result;
use crate::init::Factors;
use crate::kernels::orthonormal::thin_qr;
use crate::memory::{checked_len, try_collect, try_copy, try_from_fn};
use crate::problem::Problem;
use damped_step::damped_step;
use faer::Mat;
use gauss_newton::{assemble, eliminate, Elimination};
use observed::{entries_per_row, Observed};

/// AUTO runs VarPro up to this many free unknowns (p k): its dense
/// Gauss-Newton matrix is then at most 32 MiB and its Cholesky factor
/// 2.9 GFLOP, a few times one alternating iteration of the problems that
/// small (measured on the lrmf benchmarks: see docs/optimum.md).
const AUTO_MAX_UNKNOWNS: usize = 2048;
/// An explicit WLRA_METHOD_VARPRO runs up to this many (128 MiB, 23
/// GFLOP per factorization); beyond, alternation runs and
/// WLRA_INFO_METHOD_USED says so.
const MAX_UNKNOWNS: usize = 4096;
/// AUTO's budget per VarPro iteration, in flops (see `Cost`): about a
/// second at the scalar speed of the assembly.
const AUTO_MAX_FLOPS: f64 = 2e9;
/// Starting damping, relative to the mean curvature: Gauss-Newton unless
/// it fails. Measured on the Dinosaur from 20 random starts: 20 reach the
/// best known optimum at 1e-12, 19 at 1e-8, 17 at 1e-4 (heavier damping
/// follows the gradient into nearer local minima).
const INITIAL_DAMPING: f64 = 1e-12;
/// Damping divided or multiplied by this after each accepted or rejected
/// trial (Hong and Fitzgibbon's choice; Nielsen's gentler update solved 2
/// of the 20 Dinosaur starts).
const DAMPING_FACTOR: f64 = 10.0;
/// Floor of the damping, so a step is always defined.
const MIN_DAMPING: f64 = 1e-14;
/// Iterations when WLRA_OPTION_MAX_ITERATIONS is not set (its default 100
/// is alternation's): Dinosaur starts need up to 300.
const DEFAULT_MAX_ITERATIONS: usize = 500;
/// Damping beyond which no descent direction is resolvable in rounding:
/// the point is stationary to working precision.
const MAX_DAMPING: f64 = 1e16;
/// A small relative decrease counts as convergence only from a step this
/// close to Gauss-Newton (damping at most the mean curvature); heavily
/// damped steps are short by construction, not because the optimum is near.
const CONVERGED_DAMPING: f64 = 1e-6;
/// An objective below this fraction of sum w m^2 is an exact fit to
/// rounding (residuals of a few ulps of the data): nothing left to gain.
const EXACT_FIT: f64 = 1e-28;

/// Which side VarPro optimizes (the one with fewer rows) and the problem
/// seen with the eliminated side as rows.
fn orient<'a>(problem: &Problem<'a>) -> (bool, Problem<'a>) {
    let free_is_u = problem.n_rows() <= problem.n_cols();
    let side = if free_is_u {
        problem.transposed()
    } else {
        *problem
    };
    (free_is_u, side)
}

/// What one VarPro iteration costs on a problem.
pub struct Cost {
    /// Free unknowns p k: the Gauss-Newton system's order.
    pub unknowns: usize,
    /// Entries with w > 0.
    pub entries: usize,
    /// Assembly of H (sum over eliminated rows of (entries k)^2), the
    /// elimination (3 k^2 per entry) and the Cholesky factor ((p k)^3 / 3).
    pub flops: f64,
}

pub fn cost(problem: &Problem<'_>, k: usize) -> Result<Cost> {
    let (_, side) = orient(problem);
    let unknowns = side.n_cols().saturating_mul(k);
    if unknowns > MAX_UNKNOWNS {
        // Too large either way: no need to count the entries.
        return Ok(Cost {
            unknowns,
            entries: 0,
            flops: f64::INFINITY,
        });
    }
    let counts = entries_per_row(&side)?;
    let kf = k as f64;
    let assembly: f64 = counts.iter().map(|&c| (c as f64 * kf).powi(2)).sum();
    let entries: usize = counts.iter().sum();
    let flops = assembly + 3.0 * entries as f64 * kf * kf + (unknowns as f64).powi(3) / 3.0;
    Ok(Cost {
        unknowns,
        entries,
        flops,
    })
}

impl Cost {
    /// Whether VarPro can run (memory), or with `for_auto` whether AUTO
    /// should consider it.
    pub fn fits(&self, for_auto: bool) -> bool {
        if for_auto {
            self.unknowns <= AUTO_MAX_UNKNOWNS && self.flops <= AUTO_MAX_FLOPS
        } else {
            self.unknowns <= MAX_UNKNOWNS
        }
    }
}

fn rows_contiguous(a: &Mat<f64>) -> Result<Vec<f64>> {
    let (rows, k) = a.shape();
    let what = "VarPro's free factor";
    let len = checked_len(rows, k, what)?;
    try_collect((0..len).map(|t| a[(t / k, t % k)]), what)
}

fn matrix(rows_major: &[f64], rows: usize, k: usize) -> Result<Mat<f64>> {
    try_from_fn(rows, k, |i, j| rows_major[i * k + j], "VarPro's factors")
}

/// The free factor as VarPro keeps it: orthonormal when ridge = 0 (only its
/// span matters then), else as given.
fn normalized(x: Mat<f64>, ridge: f64) -> Result<Mat<f64>> {
    if ridge > 0.0 {
        Ok(x)
    } else {
        Ok(thin_qr(x.as_ref())?.0)
    }
}

/// The state between steps: X, Y*(X) and f there.
struct Point {
    x: Vec<f64>,
    elim: Elimination,
}

impl Point {
    fn new(obs: &Observed, x: Mat<f64>, k: usize, ridge: f64) -> Result<Point> {
        let x = rows_contiguous(&normalized(x, ridge)?)?;
        let elim = eliminate(obs, &x, k, ridge)?;
        Ok(Point { x, elim })
    }

    fn factors(&self, free_is_u: bool, p: usize, q: usize, k: usize) -> Result<Factors> {
        let (x, y) = (matrix(&self.x, p, k)?, matrix(&self.elim.y, q, k)?);
        Ok(if free_is_u {
            Factors { u: x, v: y }
        } else {
            Factors { u: y, v: x }
        })
    }
}

/// Levenberg-Marquardt damping, relative to the mean curvature.
struct Damping {
    lambda: f64,
}

impl Damping {
    fn accepted(&mut self) {
        self.lambda = (self.lambda / DAMPING_FACTOR).max(MIN_DAMPING);
    }

    fn rejected(&mut self) {
        self.lambda *= DAMPING_FACTOR;
    }
}

/// The next accepted point, or None when no damping gives a decrease (the
/// point is stationary to working precision).
fn next_point(
    ctx: &Context<'_>,
    obs: &Observed,
    now: &Point,
    damping: &mut Damping,
    k: usize,
) -> Result<Option<(Point, f64)>> {
    let ridge = ctx.options.ridge;
    let model = ctx
        .pool
        .install(|| assemble(obs, &now.x, &now.elim, k, ridge))?;
    let gauge = (ridge == 0.0).then_some(&now.x[..]);
    let f = now.elim.objective;
    while damping.lambda <= MAX_DAMPING {
        let step = ctx
            .pool
            .install(|| damped_step(&model, gauge, obs.n_free, k, damping.lambda))?;
        let Some(step) = step else {
            damping.rejected();
            continue;
        };
        // f = 2 phi: a predicted decrease of f lost in rounding means the
        // model has nothing left to offer.
        if 2.0 * step.predicted <= f64::EPSILON * f {
            return Ok(None);
        }
        let moved = |i: usize, j: usize| now.x[i * k + j] + step.delta[i * k + j];
        let x = try_from_fn(obs.n_free, k, moved, "VarPro's trial point")?;
        let trial = ctx.pool.install(|| Point::new(obs, x, k, ridge))?;
        let decrease = f - trial.elim.objective;
        if decrease > 0.0 {
            let used = damping.lambda;
            damping.accepted();
            return Ok(Some((trial, used)));
        }
        damping.rejected();
    }
    Ok(None)
}

/// Levenberg-Marquardt VarPro from `start` (its free factor; the other is
/// eliminated) until the tolerance, the budget or the callback stops it.
pub fn run(ctx: &Context<'_>, start: Factors, progress: Progress<'_>) -> Result<FitOutcome> {
    let (problem, options, k) = (ctx.problem, ctx.options, ctx.rank);
    let (free_is_u, side) = orient(problem);
    let (p, q) = (side.n_cols(), side.n_rows());
    let obs = Observed::new(&side)?;
    let start_objective = ctx.objective(&start)?;
    let x0 = try_copy(
        if free_is_u { &start.u } else { &start.v }.as_ref(),
        "VarPro's start",
    )?;
    let mut run = FitOutcome::new(start, start_objective);
    let mut now = ctx
        .pool
        .install(|| Point::new(&obs, x0, k, options.ridge))?;
    let mut damping = Damping {
        lambda: INITIAL_DAMPING,
    };
    let exact_fit = EXACT_FIT * obs.weighted_data_norm();
    let budget = if options.max_iterations_given {
        options.max_iterations
    } else {
        DEFAULT_MAX_ITERATIONS
    };
    // Tolerance 0 asks for every iteration of the budget.
    let every_iteration = options.tolerance == 0.0;
    let mut stationary = false;
    while run.iterations < budget {
        if now.elim.objective <= exact_fit && !every_iteration {
            stationary = true;
            break;
        }
        let Some((next, lambda)) = next_point(ctx, &obs, &now, &mut damping, k)? else {
            stationary = true;
            break;
        };
        let (last, value) = (now.elim.objective, next.elim.objective);
        now = next;
        run.accept(now.factors(free_is_u, p, q, k)?, value);
        let settled = last - value <= options.tolerance * last;
        run.converged =
            !every_iteration && (settled && lambda <= CONVERGED_DAMPING || value <= exact_fit);
        if !progress(run.iterations, value) {
            run.cancelled = true;
            break;
        }
        if run.converged {
            break;
        }
    }
    if stationary {
        if run.iterations == 0 {
            // Stationary at the start: the eliminated factor is still Y*(X).
            run.factors = now.factors(free_is_u, p, q, k)?;
            run.objective = now.elim.objective;
        }
        if every_iteration {
            run.finish_budget(budget, progress);
        } else {
            run.converged = true;
        }
    }
    Ok(run)
}
