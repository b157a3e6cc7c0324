//! A fit as the model asks for it: the starting factors, the outer method
//! (chosen here, once), and random restarts around it.

pub use crate::outer::{FitOutcome, Progress};

use crate::error::Result;
use crate::init::{copy_factors, random_factors, svd_factors, Factors};
use crate::options::{InitChoice, MethodChoice, Options, SolverChoice};
use crate::outer::{varpro, Context, Method};
use crate::problem::Problem;

/// Two starts reached "the same" objective when within this relative
/// distance, or ten times the tolerance when that is looser (two fits
/// stopped by the tolerance agree no closer than it).
const SAME_OPTIMUM: f64 = 1e-9;
/// AUTO restarts around VarPro: at least this many starts before "the best
/// seen twice" may stop. On the Face benchmark 20 to 37 % of random starts
/// reach the best known optimum (three samples of 16 to 60 starts) and a
/// local minimum lower than the others catches many more, so "seen twice"
/// alone stops there often; the chance that 16 starts all miss the optimum
/// is 0.8^16 = 3 % at the lower rate (10 starts: 11 %, measured 2 of 20
/// seeds failing).
const AUTO_MIN_STARTS: usize = 16;
/// ... and at most this many.
const AUTO_MAX_STARTS: usize = 32;
/// AUTO runs VarPro when one of its iterations costs at most this many
/// alternating iterations: it needs far fewer where alternation crawls
/// (Dinosaur: 30x the cost per iteration, 0 of 10 random starts solved by
/// alternation, see docs/optimum.md).
const AUTO_MAX_COST_RATIO: f64 = 64.0;

/// Flops of one VarPro iteration over those of one exact alternating
/// iteration (4 k^2 per entry for the two half-steps' Grams).
fn cost_ratio(cost: &varpro::Cost, k: usize) -> f64 {
    cost.flops / (4.0 * cost.entries as f64 * (k * k) as f64).max(1.0)
}

/// The outer method for these options on this problem. An explicit VarPro
/// that does not fit (memory) falls back to alternation, and
/// WLRA_INFO_METHOD_USED says so.
pub fn choose_method(options: &Options, problem: &Problem<'_>, k: usize) -> Result<Method> {
    Ok(match options.method {
        MethodChoice::Alternating => Method::Alternating,
        MethodChoice::VarPro if varpro::cost(problem, k)?.fits(false) => Method::VarPro,
        MethodChoice::VarPro => Method::Alternating,
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
            let cheap = || -> Result<bool> {
                let cost = varpro::cost(problem, k)?;
                Ok(cost.fits(true) && cost_ratio(&cost, k) <= AUTO_MAX_COST_RATIO)
            };
            // Beyond VarPro, accelerated alternation: its first two
            // iterations are alternation's and each later one costs an
            // objective more, so it gains where alternation crawls
            // (heteroscedastic 3000 x 3000, k = 16: 8x fewer iterations) and
            // ties where alternation converges in a few (docs/optimum.md).
            if alternation_asked {
                Method::Alternating
            } else if cheap()? {
                Method::VarPro
            } else {
                Method::Accelerated
            }
        }
    })
}

fn initial_factors(ctx: &Context<'_>, start: Option<&Factors>) -> Result<Factors> {
    let (problem, options) = (ctx.problem, ctx.options);
    let (n, m) = (problem.n_rows(), problem.n_cols());
    match options.init {
        InitChoice::Svd => ctx
            .pool
            .install(|| svd_factors(problem, ctx.rank, options.seed)),
        InitChoice::Random => random_factors(n, m, ctx.rank, options.seed),
        InitChoice::Given => copy_factors(start.expect("validated: WLRA_INIT_GIVEN has factors")),
    }
}

/// How many restarts may run, and how many starts must run before the
/// best seen twice stops them.
struct RestartPlan {
    restarts: usize,
    min_starts: usize,
}

fn restart_plan(options: &Options, method: Method) -> RestartPlan {
    match options.restarts {
        Some(restarts) => RestartPlan {
            restarts,
            min_starts: 1,
        },
        None if method == Method::VarPro && options.init != InitChoice::Given => RestartPlan {
            restarts: AUTO_MAX_STARTS - 1,
            min_starts: AUTO_MIN_STARTS,
        },
        None => RestartPlan {
            restarts: 0,
            min_starts: 1,
        },
    }
}

/// Restart r's seed: user seeds stay below 2^53, so r 2^54 keeps every
/// restart's stream apart from every first start's.
fn restart_seed(seed: u64, restart: usize) -> u64 {
    seed.wrapping_add((restart as u64) << 54)
}

/// Random restarts after the first fit: until the best objective has been
/// reached twice, the budget is spent or the callback cancels. The best
/// fit is kept; iterations count on across starts (for the callback and
/// WLRA_INFO_ITERATIONS), and the objective reported is the best so far.
fn restart(
    ctx: &Context<'_>,
    method: Method,
    plan: RestartPlan,
    mut best: FitOutcome,
    progress: Progress<'_>,
) -> Result<FitOutcome> {
    let (n, m) = (ctx.problem.n_rows(), ctx.problem.n_cols());
    let same = SAME_OPTIMUM.max(10.0 * ctx.options.tolerance);
    let (mut starts, mut at_best) = (1, 1);
    let mut used = best.iterations;
    for r in 1..=plan.restarts {
        let done = at_best >= 2 && starts >= plan.min_starts;
        let Some(options) = remaining_budget(ctx.options, used) else {
            break;
        };
        if done || best.cancelled {
            break;
        }
        let start = random_factors(n, m, ctx.rank, restart_seed(ctx.options.seed, r))?;
        // The callback sees the objective of what a cancel would return:
        // the best so far, so its sequence never rises across starts.
        let best_so_far = best.objective;
        let mut shifted = |i: usize, f: f64| progress(used + i, f.min(best_so_far));
        let restarted = Context {
            options: &options,
            ..*ctx
        };
        let fit = method.run(&restarted, start, &mut shifted)?;
        starts += 1;
        used += fit.iterations;
        let cancelled = fit.cancelled;
        let distance = (fit.objective - best.objective) / best.objective.max(f64::MIN_POSITIVE);
        // The same optimum counts again; a lower one (even by rounding)
        // becomes the best, so what was reported never rises.
        at_best = if distance.abs() <= same {
            at_best + 1
        } else if distance < 0.0 {
            1
        } else {
            at_best
        };
        if distance < 0.0 {
            best = fit;
        }
        best.cancelled |= cancelled;
    }
    best.iterations = used;
    best.starts = starts;
    best.starts_at_best = at_best;
    Ok(best)
}

/// The options of the next start: an explicit WLRA_OPTION_MAX_ITERATIONS
/// bounds the whole fit, restarts included, so what is left of it; None
/// when nothing is. Without one, every start gets its method's default.
fn remaining_budget(options: &Options, used: usize) -> Option<Options> {
    let mut next = options.clone();
    if options.max_iterations_given {
        next.max_iterations = options
            .max_iterations
            .checked_sub(used)
            .filter(|&r| r > 0)?;
    }
    Some(next)
}

/// Run the fit: the outer loop (and the progress callback) on the calling
/// thread, the heavy work on `pool`. `start` is used for
/// `InitChoice::Given` and must have matching shapes (checked by the caller).
pub fn fit(
    problem: &Problem<'_>,
    rank: usize,
    options: &Options,
    start: Option<&Factors>,
    progress: Progress<'_>,
    pool: &rayon::ThreadPool,
) -> Result<FitOutcome> {
    let ctx = Context {
        problem,
        rank,
        options,
        pool,
    };
    let method = choose_method(options, problem, rank)?;
    let first = method.run(&ctx, initial_factors(&ctx, start)?, progress)?;
    let plan = restart_plan(options, method);
    if plan.restarts == 0 {
        return Ok(first);
    }
    restart(&ctx, method, plan, first, progress)
}
