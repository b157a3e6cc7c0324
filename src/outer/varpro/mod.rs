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

mod block_jacobi;
mod damped_step;
mod elimination;
mod gauss_newton;
mod gauss_newton_product;
mod matrix_free;
mod newton;
mod observed;
pub mod parts;
mod stacked_assembly;
#[cfg(test)]
mod test_problems;
mod trials;
#[cfg(test)]
mod wide_rank_tests;

pub use matrix_free::cg_tally;

use super::{Context, FitOutcome, Progress};
use crate::error::{Error, Result};
use crate::init::Factors;
use crate::kernels::orthonormal::thin_qr;
use crate::memory::{checked_len, try_collect, try_copy, try_from_fn};
use crate::options::MethodChoice;
use crate::problem::Problem;
use damped_step::DampedMatrix;
use elimination::eliminate_keeping_inverses;
use faer::Mat;
use gauss_newton::{assemble, eliminate, Elimination, Model};
use gauss_newton_product::{curvature, Curvature, Product};
use newton::ModelChoice;
use observed::{entries_per_row, Observed};
use trials::next_point;

/// AUTO solves VarPro's step densely up to this many free unknowns (p k):
/// its dense Gauss-Newton matrix is then at most 32 MiB and its Cholesky
/// factor 2.9 GFLOP, a few times one alternating iteration of the problems
/// that small (measured on the lrmf benchmarks: see docs/optimum.md).
const AUTO_MAX_UNKNOWNS: usize = 2048;
/// An explicit WLRA_METHOD_VARPRO solves it densely up to this many (128
/// MiB, 23 GFLOP per factorization); beyond, matrix-free
/// (docs/varpro_matrix_free.md).
const MAX_UNKNOWNS: usize = 4096;
/// AUTO's budget per dense VarPro iteration, in flops (see `Cost`): about
/// a second at the scalar speed of the assembly. Beyond it the step is
/// solved matrix-free.
const AUTO_MAX_FLOPS: f64 = 2e9;
/// CG iterations per matrix-free step in AUTO's cost model: measured 5 to
/// 25 on planted problems (docs/varpro_matrix_free.md); hard problems
/// take more, which this underestimates in VarPro's favour only by the
/// factor it is off.
const TYPICAL_CG_ITERATIONS: f64 = 30.0;
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

/// What one VarPro iteration costs on a problem, and how its step is
/// solved.
pub struct Cost {
    /// Entries with w > 0.
    pub entries: usize,
    /// Whether the step is solved matrix-free: beyond the dense system's
    /// limit (AUTO's or an explicit VarPro's).
    pub matrix_free: bool,
    /// One iteration on that path. Dense: the assembly of H (sum over
    /// eliminated rows of (entries k)^2), the elimination (3 k^2 per entry)
    /// and the Cholesky factor ((p k)^3 / 3). Matrix-free: the elimination,
    /// H's diagonal blocks (2 k^2 per entry) and TYPICAL_CG_ITERATIONS
    /// products (10 k per entry + 6 p k^2 each).
    pub flops: f64,
}

impl Cost {
    /// From the entries per eliminated row, with p free rows; `for_auto`
    /// takes AUTO's dense limit rather than an explicit VarPro's.
    fn of(counts: &[usize], p: usize, k: usize, for_auto: bool) -> Cost {
        let unknowns = p.saturating_mul(k);
        let kf = k as f64;
        let entries: usize = counts.iter().sum();
        let nnz = entries as f64;
        let elimination = 3.0 * nnz * kf * kf;
        let assembly: f64 = counts.iter().map(|&c| (c as f64 * kf).powi(2)).sum();
        let dense = assembly + elimination + (unknowns as f64).powi(3) / 3.0;
        let matrix_free = if for_auto {
            unknowns > AUTO_MAX_UNKNOWNS || dense > AUTO_MAX_FLOPS
        } else {
            unknowns > MAX_UNKNOWNS
        };
        let product = 10.0 * nnz * kf + 6.0 * p as f64 * kf * kf;
        let flops = if matrix_free {
            elimination + 2.0 * nnz * kf * kf + TYPICAL_CG_ITERATIONS * product
        } else {
            dense
        };
        Cost {
            entries,
            matrix_free,
            flops,
        }
    }
}

/// The cost of a VarPro iteration on `problem` at rank k, as AUTO
/// (`for_auto`) or an explicit VarPro would run it.
pub fn cost(problem: &Problem<'_>, k: usize, for_auto: bool) -> Result<Cost> {
    let (_, side) = orient(problem);
    let counts = entries_per_row(&side)?;
    Ok(Cost::of(&counts, side.n_cols(), k, for_auto))
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
        Point::eliminated(obs, x, (k, ridge), false)
    }

    /// With `keep_inverses`, the elimination keeps the rows' G^+, which a
    /// Newton step from this point reads (`newton::newton_refined`).
    fn eliminated(
        obs: &Observed,
        x: Mat<f64>,
        (k, ridge): (usize, f64),
        keep_inverses: bool,
    ) -> Result<Point> {
        let x = rows_contiguous(&normalized(x, ridge)?)?;
        let elim = if keep_inverses {
            eliminate_keeping_inverses(obs, &x, k, ridge)?
        } else {
            eliminate(obs, &x, k, ridge)?
        };
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

/// How the steps are solved: densely, or matrix-free (beyond the dense
/// limit, or once the dense system did not fit in memory); and the
/// gradient norm where the run started, the matrix-free forcing term's
/// yardstick.
struct StepSolver {
    matrix_free: bool,
    first_gradient: Option<f64>,
    /// The dense damped matrix's storage, reused by every trial.
    damped: DampedMatrix,
    /// The last dense Gauss-Newton matrix's storage, for the next one.
    spare_blocks: Vec<f64>,
    /// Whether the next trial refines Gauss-Newton's step into Newton's
    /// (`newton`), as `choice` decides; never with `gauss_newton_only`
    /// (a testing hook) or matrix-free.
    newton: bool,
    choice: ModelChoice,
    gauss_newton_only: bool,
}

/// The Gauss-Newton model at one point, as the step solver keeps it across
/// damping trials.
enum System<'a> {
    Dense(Model),
    MatrixFree(Curvature, Product<'a>),
}

impl StepSolver {
    /// The model at `now`: the dense one unless it is out of reach.
    fn system<'a>(
        &mut self,
        ctx: &Context<'_>,
        obs: &'a Observed,
        now: &'a Point,
        k: usize,
    ) -> Result<System<'a>> {
        let ridge = ctx.options.ridge;
        if !self.matrix_free {
            let spare = std::mem::take(&mut self.spare_blocks);
            match ctx
                .pool
                .install(|| assemble(obs, &now.x, &now.elim, k, ridge, spare))
            {
                Ok(model) => return Ok(System::Dense(model)),
                Err(Error::OutOfMemory(_)) => self.matrix_free = true,
                Err(error) => return Err(error),
            }
        }
        let curvature = ctx
            .pool
            .install(|| curvature(obs, &now.x, &now.elim, k, ridge))?;
        let product = Product::new(obs, &now.x, &now.elim, k, ridge)?;
        Ok(System::MatrixFree(curvature, product))
    }

    /// Keeps a dense model's storage for the next iteration's.
    fn recycle(&mut self, system: System<'_>) {
        if let System::Dense(model) = system {
            self.spare_blocks = model.blocks;
        }
    }
}

thread_local! {
    /// Dense damped solves (damping trials) of the fits run from this
    /// thread: benches/varpro_step counts a step's flops from them.
    static TRIALS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn record_trial() {
    TRIALS.with(|t| t.set(t.get() + 1));
}

thread_local! {
    /// Accepted Newton steps (`newton`) of the fits run from this thread.
    static NEWTON_STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn record_newton() {
    NEWTON_STEPS.with(|t| t.set(t.get() + 1));
}

/// Accepted VarPro steps taken on Newton's model (rather than
/// Gauss-Newton's) by the fits this thread has run.
pub fn newton_tally() -> usize {
    NEWTON_STEPS.with(std::cell::Cell::get)
}

/// Dense damped solves (each a Cholesky factor and, unless refused, an
/// elimination at the trial point) of the fits this thread has run.
pub fn trial_tally() -> usize {
    TRIALS.with(std::cell::Cell::get)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Levenberg-Marquardt VarPro from `start` (its free factor; the other is
/// eliminated) until the tolerance, the budget or the callback stops it.
pub fn run(ctx: &Context<'_>, start: Factors, progress: Progress<'_>) -> Result<FitOutcome> {
    let (problem, options, k) = (ctx.problem, ctx.options, ctx.rank);
    let (free_is_u, side) = orient(problem);
    let (p, q) = (side.n_cols(), side.n_rows());
    let obs = Observed::new(&side)?;
    let counts = try_collect(obs.ptr.windows(2).map(|w| w[1] - w[0]), "entries per row")?;
    let for_auto = options.method == MethodChoice::Auto;
    let mut solver = StepSolver {
        matrix_free: options.varpro_matrix_free || Cost::of(&counts, p, k, for_auto).matrix_free,
        first_gradient: None,
        damped: DampedMatrix::default(),
        spare_blocks: Vec::new(),
        newton: false,
        choice: ModelChoice::default(),
        gauss_newton_only: options.varpro_gauss_newton_only,
    };
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
        let Some((next, lambda)) = next_point(ctx, &obs, &now, &mut damping, k, &mut solver)?
        else {
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
