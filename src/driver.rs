//! A fit as the model asks for it: the starting factors, the outer method
//! (chosen here, once), and random restarts around it. The fit runs on the
//! problem in the solvers' units (`crate::scaling`): the given start and
//! the ridge go in scaled, the factors and every objective come out in the
//! caller's units.

pub use crate::outer::{FitOutcome, Progress};

use crate::error::Result;
use crate::init::{copy_factors, hop_start, random_factors, svd_factors, Factors};
use crate::memory::try_zeros;
use crate::offsets::Offsets;
use crate::options::{InitChoice, MethodChoice, Options, SolverChoice};
use crate::outer::restarts::{restart_loop, restart_plan, restart_seed, RestartPlan, Shift, Start};
use crate::outer::unobserved::zero_unobserved;
use crate::outer::{eckart_young, probe, varpro, Context, Method, WeightSums};
use crate::problem::Problem;
use crate::scaling::{Multiplier, Pins, Scale};
use faer::Mat;

/// Flops of one VarPro iteration over those of one exact alternating
/// iteration (4 k^2 per entry for the two half-steps' Grams).
fn cost_ratio(cost: &varpro::Cost, k: usize) -> f64 {
    cost.flops / (4.0 * cost.entries as f64 * (k * k) as f64).max(1.0)
}

/// The outer method for these options on this problem. An explicit VarPro
/// runs on any size (matrix-free beyond its dense limit); WLRA_INFO_METHOD_USED
/// says alternation ran where VarPro's model does not apply.
pub fn choose_method(options: &Options, problem: &Problem<'_>, pool: &rayon::ThreadPool) -> Method {
    match options.method {
        MethodChoice::Alternating => Method::Alternating,
        // VarPro's penalty is the uniform ridge only, and its elimination
        // knows no offsets.
        MethodChoice::VarPro
            if (options.ridge_by_weight_sums && options.ridge > 0.0) || options.offsets.any() =>
        {
            Method::Alternating
        }
        MethodChoice::VarPro => Method::VarPro,
        // Clipping and over-relaxation change alternation's step itself,
        // which the extrapolation does not model: plain alternation runs.
        MethodChoice::Accelerated if options.clip > 0.0 || options.overrelaxation != 1.0 => {
            Method::Alternating
        }
        MethodChoice::Accelerated => Method::Accelerated,
        MethodChoice::Auto => {
            // Options that only mean something to alternation keep it (an
            // explicit inner solver is one).
            let alternation_asked = options.solver != SolverChoice::Auto
                || options.clip > 0.0
                || options.overrelaxation != 1.0;
            // Where entries are missing (the curved valleys VarPro is for),
            // AUTO runs VarPro (matrix-free beyond its dense limit) only
            // after alternation has shown it would crawl (`outer::probe`). With every entry
            // weighted (implicit feedback, heteroscedastic PCA) alternation
            // crawls from the weights' conditioning, which VarPro does not
            // cure: on the implicit-feedback problem of tests/sparse.rs it
            // ran 489 iterations unconverged where accelerated alternation
            // converges.
            // Beyond VarPro, accelerated alternation: its first two
            // iterations are alternation's and each later one costs an
            // objective more, so it gains where alternation crawls
            // (heteroscedastic 3000 x 3000, k = 16: 8x fewer iterations) and
            // ties where alternation converges in a few (docs/optimum.md).
            // With ridge > 0 VarPro's Gauss-Newton model converges only
            // linearly (planted 90 x 70, k = 4, ridge 0.2: 2589 iterations,
            // 21 s, against accelerated alternation's 28 and 0.01 s).
            if alternation_asked {
                Method::Alternating
            } else if start_is_the_answer(options, problem) {
                // From a start of the user's, the iterations they asked for.
                match options.init {
                    InitChoice::Svd | InitChoice::Warm => Method::TruncatedSvd,
                    InitChoice::Random | InitChoice::Given => Method::Accelerated,
                }
            } else if options.ridge == 0.0
                && !options.offsets.any()
                && pool.install(|| problem.has_unweighted_entry())
            {
                Method::VarPro
            } else {
                Method::Accelerated
            }
        }
    }
}

/// Whether the problem is PCA, whose optimum (Eckart-Young) is a truncated
/// SVD: dense input with rank-one positive weights (unit weights, W = NULL,
/// included), no ridge and no offsets (`outer::eckart_young`). Every start
/// reaches the same optimum there, so AUTO computes it, and never runs
/// VarPro with restarts (on the digits, 1797 x 64, k = 5: 16 VarPro starts
/// took a minute, issue 25).
fn start_is_the_answer(options: &Options, problem: &Problem<'_>) -> bool {
    options.ridge == 0.0 && !options.offsets.any() && eckart_young::applies(problem)
}

/// The first start, with offsets (`crate::offsets`) at 0 unless `start`
/// carries them (a warm start from a fit with the same offsets).
fn initial_factors(ctx: &Context<'_>, start: Option<Factors>) -> Result<Factors> {
    let (problem, options) = (ctx.problem, ctx.options);
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let k = ctx.rank - ctx.offsets.count();
    let factors = match options.init {
        // Warm is resolved by the model; reaching here, there was no last fit.
        InitChoice::Svd | InitChoice::Warm => {
            ctx.pool.install(|| svd_factors(problem, k, options.seed))?
        }
        InitChoice::Random => random_factors(n, m, k, options.seed)?,
        InitChoice::Given => {
            let given = start.expect("validated: WLRA_INIT_GIVEN has factors");
            if given.u.ncols() == ctx.rank {
                return Ok(given);
            }
            given
        }
    };
    ctx.offsets.augment(factors, k, ctx.pins)
}

/// Restarts after the first fit (`restarts::restart_loop`), each from its
/// seeded random start, or a seeded hop from the best fit, with the
/// offsets' columns pinned.
fn restart(
    ctx: &Context<'_>,
    method: Method,
    plan: RestartPlan,
    first: FitOutcome,
    progress: Progress<'_>,
) -> Result<FitOutcome> {
    let (n, m) = (ctx.problem.n_rows(), ctx.problem.n_cols());
    let zero_objective = zero_factors_objective(ctx)?;
    let k = ctx.rank - ctx.offsets.count();
    let mut run_start = |options: &Options, r: usize, shift: Shift, kind: Start<'_>| {
        let seed = restart_seed(ctx.options.seed, r);
        let start = match kind {
            Start::Random => ctx
                .offsets
                .augment(random_factors(n, m, k, seed)?, k, ctx.pins)?,
            Start::Hop { from, size } => hop_start(from, k, size, seed)?,
        };
        let mut shifted = |i: usize, f: f64| progress(shift.iterations + i, f.min(shift.best));
        let restarted = Context { options, ..*ctx };
        method.run(&restarted, start, &mut shifted)
    };
    restart_loop(ctx.options, plan, zero_objective, first, &mut run_start)
}

/// sum w m^2 (+ 0 ridge): the objective of zero factors, the scale every
/// objective of the problem is measured against.
fn zero_factors_objective(ctx: &Context<'_>) -> Result<f64> {
    let (n, m) = (ctx.problem.n_rows(), ctx.problem.n_cols());
    let zero = Factors {
        u: try_zeros(n, ctx.rank, "zero factors")?,
        v: try_zeros(m, ctx.rank, "zero factors")?,
    };
    ctx.objective(&zero)
}

fn times(a: &Mat<f64>, multiplier: Multiplier) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| multiplier.apply(a[(i, j)]))
}

/// Factors (U, V) in other units: both sides times `multiplier`.
pub(crate) fn rescaled(factors: &Factors, multiplier: Multiplier) -> Factors {
    Factors {
        u: times(&factors.u, multiplier),
        v: times(&factors.v, multiplier),
    }
}

/// Run the fit: the outer loop (and the progress callback) on the calling
/// thread, the heavy work on `pool`. `start` is used for
/// `InitChoice::Given` and must have matching shapes (checked by the caller).
/// The problem is read in the units its magnitudes call for
/// (`Problem::normalized`); `start`, the ridge, the factors and the
/// objectives (returned and reported) are the caller's.
pub fn fit(
    problem: &Problem<'_>,
    rank: usize,
    options: &Options,
    start: Option<&Factors>,
    progress: Progress<'_>,
    pool: &rayon::ThreadPool,
) -> Result<FitOutcome> {
    let problem = &problem.normalized();
    let scale = problem.scale();
    let (offsets, pins) = (options.offsets, scale.pins());
    let start = match start {
        Some(f) => Some(solvers_start(f, scale, offsets, rank, pins)?),
        None => None,
    };
    let outcome = if scale.is_unit() {
        fit_scaled(problem, rank, options, start, pins, progress, pool)?
    } else {
        let ridge = if options.ridge_by_weight_sums {
            scale.weight_sum_ridge(options.ridge)
        } else {
            scale.ridge(options.ridge)
        };
        let options = &Options {
            ridge,
            ..options.clone()
        };
        let mut report = |i: usize, f: f64| progress(i, scale.objective_out(f));
        fit_scaled(problem, rank, options, start, pins, &mut report, pool)?
    };
    in_callers_gauge_and_units(outcome, options, rank, scale)
}

/// The end of a fit, one process's or a distributed one's (on whole
/// factors): the offsets as they are (pinned columns at 1) and their gauge,
/// fixed before the factors leave the solvers' units, where no sum of
/// offsets can overflow (data near the largest double); then the factors
/// and objective in the caller's units, refused where they are not finite.
pub(crate) fn in_callers_gauge_and_units(
    mut outcome: FitOutcome,
    options: &Options,
    rank: usize,
    scale: Scale,
) -> Result<FitOutcome> {
    let offsets = options.offsets;
    offsets.repin(&mut outcome.factors, rank, Pins::ONES);
    // Without a ridge nothing fixes how the offsets and U V^T share the
    // model: the documented gauge (`crate::offsets`).
    if offsets.any() && options.ridge == 0.0 {
        offsets.center(&mut outcome.factors, rank)?;
    } else {
        offsets.move_constant(&mut outcome.factors, rank);
    }
    if !scale.is_unit() {
        outcome = in_callers_units(outcome, scale);
        offsets.repin(&mut outcome.factors, rank, Pins::ONES);
    }
    outcome.scale = scale;
    // Factors or offsets beyond the largest double in the caller's units
    // (offsets that split a huge constant between rows and columns, found
    // by fuzzing): no number is right, and no infinity leaves the library.
    let finite = |x: &Mat<f64>| x.col_iter().all(|c| c.iter().all(|v| v.is_finite()));
    if !(finite(&outcome.factors.u) && finite(&outcome.factors.v)) {
        return Err(crate::error::Error::Numerical(
            "the fitted factors or offsets exceed the largest double (about 1.8e308)".into(),
        ));
    }
    Ok(outcome)
}

/// A given start in the solvers' units, as the fit's own copy; one that
/// carries offsets (a warm start from a fit with them) gets its pinned
/// columns at `pins`.
fn solvers_start(
    f: &Factors,
    scale: Scale,
    offsets: Offsets,
    rank: usize,
    pins: Pins,
) -> Result<Factors> {
    let mut start = if scale.is_unit() {
        copy_factors(f)?
    } else {
        rescaled(f, scale.factors_in())
    };
    if f.u.ncols() > rank {
        offsets.repin(&mut start, rank, pins);
    }
    Ok(start)
}

/// The factors (offsets included: they scale as M) and the objective in
/// the caller's units.
fn in_callers_units(mut outcome: FitOutcome, scale: Scale) -> FitOutcome {
    outcome.factors = rescaled(&outcome.factors, scale.factors_out());
    outcome.objective = scale.objective_out(outcome.objective);
    outcome
}

/// `fit` on a problem already in the solvers' units, with `options`,
/// `start` and the offsets' pinned values `pins` in them too.
fn fit_scaled(
    problem: &Problem<'_>,
    rank: usize,
    options: &Options,
    start: Option<Factors>,
    pins: Pins,
    progress: Progress<'_>,
    pool: &rayon::ThreadPool,
) -> Result<FitOutcome> {
    let sums = pool.install(|| WeightSums::for_options(problem, options))?;
    let offsets = options.offsets;
    let ctx = Context {
        problem,
        rank: rank + offsets.count(),
        offsets,
        pins,
        options,
        pool,
        weight_sums: sums.as_ref(),
    };
    let mut method = choose_method(options, problem, pool);
    if method == Method::TruncatedSvd {
        // The optimum, with nothing left to iterate or restart.
        if let Some(outcome) = eckart_young::run(&ctx, progress)? {
            return Ok(outcome);
        }
        method = Method::Accelerated;
    }
    let start = initial_factors(&ctx, start)?;
    let first = if options.method == MethodChoice::Auto && method == Method::VarPro {
        let ratio = cost_ratio(&varpro::cost(problem, rank, true)?, rank);
        probe::run(&ctx, start, progress, ratio)?
    } else {
        method.run(&ctx, start, progress)?
    };
    let method = first.method_used;
    let plan = restart_plan(options, method);
    let mut outcome = if plan.restarts == 0 {
        first
    } else {
        restart(&ctx, method, plan, first, progress)?
    };
    // MAX_ITERATIONS = 0 returns the start as it is (a documented use;
    // loading a saved fit is `wlra_set_fitted`'s).
    if options.max_iterations > 0 {
        zero_unobserved(&ctx, &mut outcome)?;
    }
    Ok(outcome)
}
