//! Random restarts around an outer method (`restart_loop`): how many
//! starts run, when they stop (the best objective seen twice, with a
//! minimum of starts derived from the basin a start may miss), and which
//! fit is kept. The caller runs each start, so one process's fit and a
//! distributed one share the rule.

use super::{remaining_budget, FitOutcome, Method};
use crate::error::Result;
use crate::options::{InitChoice, Options};

/// Two starts reached "the same" objective when within this relative
/// distance, or ten times the tolerance when that is looser (two fits
/// stopped by the tolerance agree no closer than it).
const SAME_OPTIMUM: f64 = 1e-9;
/// ... or when both lie within this fraction of sum w m^2 (the objective
/// of zero factors) of each other: a relative distance means nothing for
/// objectives at the level of rounding (exact data), which differ by
/// orders of magnitude between equally exact fits. A best objective below
/// it is an exact fit, the global optimum of a problem without ridge: two
/// starts there end the restarts.
const EXACT_FIT_FLOOR: f64 = 1e-13;
/// AUTO restarts around VarPro until the best objective has been reached
/// twice and enough starts have run that a better optimum whose basin
/// catches at least MISSED_BASIN of random starts is missed with chance at
/// most MISS_CHANCE: (1 - MISSED_BASIN)^starts <= MISS_CHANCE, 11 starts.
/// "Seen twice" alone is not enough where two basins are alike in size:
/// on the trimmed Face, 40 random VarPro starts found the best known
/// optimum 15 times and a local one (0.022563) 15 times, and the SVD start
/// lands in the local one; stopping at the second sighting of the best so
/// far then fails 4 times in 10 (bootstrap over those 40 starts), with 11
/// starts once in 100. Where no objective repeats (UM boy: 41 distinct
/// optima in 41 starts), the restarts run to AUTO_MAX_STARTS.
const MISSED_BASIN: f64 = 0.25;
const MISS_CHANCE: f64 = 0.05;

fn auto_min_starts() -> usize {
    (MISS_CHANCE.ln() / (1.0 - MISSED_BASIN).ln()).ceil() as usize
}

/// ... and at most this many.
const AUTO_MAX_STARTS: usize = 32;
/// ... unless every start so far reached one optimum: the spread of the
/// optima found is then zero, and this many agreeing starts end the
/// restarts. Giraffe: 11 of 11 VarPro starts reached one optimum, 20 s
/// per fit. The risk, measured on the Face (two basins catching 15 of 40
/// random starts each): 4 starts agreeing on the worse one, 0.375^4 = 2 %.
const AGREEING_STARTS: usize = 4;
/// How many restarts may run, and how many starts must run before the
/// best seen twice stops them.
pub(crate) struct RestartPlan {
    pub restarts: usize,
    min_starts: usize,
}

pub(crate) fn restart_plan(options: &Options, method: Method) -> RestartPlan {
    match options.restarts {
        Some(restarts) => RestartPlan {
            restarts,
            min_starts: 1,
        },
        None if method == Method::VarPro && options.init != InitChoice::Given => RestartPlan {
            restarts: AUTO_MAX_STARTS - 1,
            min_starts: auto_min_starts(),
        },
        None => RestartPlan {
            restarts: 0,
            min_starts: 1,
        },
    }
}

/// Restart r's seed: user seeds stay below 2^53, so r 2^54 keeps every
/// restart's stream apart from every first start's.
pub(crate) fn restart_seed(seed: u64, restart: usize) -> u64 {
    seed.wrapping_add((restart as u64) << 54)
}

/// Where a restart's progress reports go: after the iterations of the
/// starts before it, and never above the best objective so far (what a
/// cancel would return), so the sequence never rises across starts.
#[derive(Clone, Copy)]
pub(crate) struct Shift {
    pub iterations: usize,
    pub best: f64,
}

/// Random restarts after the first fit: until the best objective has been
/// reached twice (after the plan's minimum of starts, or AGREEING_STARTS
/// that all reached it), the budget is spent or the callback cancels. The
/// best fit is kept; iterations count on across starts (for the callback
/// and WLRA_INFO_ITERATIONS). `run_start(options, r, shift)` runs restart
/// r under `options` (the budget left) and reports through `shift`;
/// `zero_objective` is sum w m^2, the objective of zero factors. One
/// process's fit and a distributed one run this same loop.
pub(crate) fn restart_loop(
    options: &Options,
    plan: RestartPlan,
    zero_objective: f64,
    mut best: FitOutcome,
    run_start: &mut dyn FnMut(&Options, usize, Shift) -> Result<FitOutcome>,
) -> Result<FitOutcome> {
    let same = SAME_OPTIMUM.max(10.0 * options.tolerance);
    let floor = EXACT_FIT_FLOOR * zero_objective;
    let (mut starts, mut at_best) = (1, 1);
    let mut used = best.iterations;
    for r in 1..=plan.restarts {
        let exact = best.objective <= floor;
        let agreeing = at_best == starts && starts >= AGREEING_STARTS;
        let done = at_best >= 2 && (starts >= plan.min_starts || exact || agreeing);
        let Some(budget) = remaining_budget(options, used) else {
            break;
        };
        if done || best.cancelled {
            break;
        }
        let shift = Shift {
            iterations: used,
            best: best.objective,
        };
        let fit = run_start(&budget, r, shift)?;
        starts += 1;
        used += fit.iterations;
        let cancelled = fit.cancelled;
        let gap = fit.objective - best.objective;
        // The same optimum counts again; a lower one (even by rounding)
        // becomes the best, so what was reported never rises.
        at_best = if gap.abs() <= same * best.objective + floor {
            at_best + 1
        } else if gap < 0.0 {
            1
        } else {
            at_best
        };
        if gap < 0.0 {
            best = fit;
        }
        best.cancelled |= cancelled;
    }
    best.iterations = used;
    best.starts = starts;
    best.starts_at_best = at_best;
    Ok(best)
}
