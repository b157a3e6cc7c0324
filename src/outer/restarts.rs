//! Random restarts around an outer method (`restart_loop`): how many
//! starts run, when they stop (the best objective seen twice, with a
//! minimum of starts derived from the basin a start may miss), when they
//! turn to hops from the best (no optimum repeats), and which fit is kept.
//! The caller runs each start, so one process's fit and a distributed one
//! share the rule.

use super::{remaining_budget, FitOutcome, Method};
use crate::error::Result;
use crate::init::Factors;
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
/// starts once in 100. Where no objective repeats in them (UM boy: 41
/// distinct optima in 41 starts), the restarts turn to hops (below).
const MISSED_BASIN: f64 = 0.25;
const MISS_CHANCE: f64 = 0.05;

fn auto_min_starts() -> usize {
    (MISS_CHANCE.ln() / (1.0 - MISSED_BASIN).ln()).ceil() as usize
}

/// The most random starts AUTO ran before hops: their cost bounds the
/// hops' (below).
const AUTO_MAX_STARTS: usize = 32;
/// ... unless every start so far reached one optimum: the spread of the
/// optima found is then zero, and this many agreeing starts end the
/// restarts. Giraffe: 11 of 11 VarPro starts reached one optimum, 20 s
/// per fit. The risk, measured on the Face (two basins catching 15 of 40
/// random starts each): 4 starts agreeing on the worse one, 0.375^4 = 2 %.
const AGREEING_STARTS: usize = 4;
/// Where AUTO's minimum of random starts has run and no optimum has been
/// reached twice, the optima are spread too thinly for random starts to
/// find the best (UM boy: 41 distinct optima in 41 starts, the best known
/// from 2 fits in 10 with 32 starts each). The restarts then hop
/// (monotonic basin hopping, Wales and Doye 1997): each start is the best
/// fit so far with each column of U and V moved by HOP_SIZE of its root
/// mean square entry in Gaussian noise, and a lower optimum becomes the
/// best. HOP_SIZE was measured on UM boy against 0.03, 0.3, 0.5 and 1
/// (docs/optimum.md, "Hops"). Hops stop after `hop_stall()` in a row
/// found nothing lower (a lower optimum that a hop reaches with chance
/// HOP_ESCAPE is then missed with chance at most MISS_CHANCE; on UM boy
/// up to 18 hops came between two improvements), or once they have spent
/// the iterations the random starts they replace would have (AUTO_MAX_STARTS
/// less the starts run, at the mean iterations of the random starts so
/// far): a hop starts near an optimum and costs about a third of a random
/// start there.
const HOP_SIZE: f64 = 0.1;
const HOP_ESCAPE: f64 = 0.1;
/// The most starts of any kind, a bound the iteration budget above meets
/// first unless hops are far cheaper than measured.
const MOST_STARTS_WITH_HOPS: usize = 4 * AUTO_MAX_STARTS;

fn hop_stall() -> usize {
    (MISS_CHANCE.ln() / (1.0 - HOP_ESCAPE).ln()).ceil() as usize
}

/// How many restarts may run, and how many starts must run before the
/// best seen twice stops them.
pub(crate) struct RestartPlan {
    pub restarts: usize,
    min_starts: usize,
    /// Whether restarts turn to hops once min_starts found no repeat
    /// (AUTO's restarts; an explicit WLRA_OPTION_RESTARTS asks for random
    /// starts).
    hops: bool,
}

/// How restart r starts: from its seeded random factors, or from the best
/// fit so far moved by noise of relative size `size` (`init::hop_start`).
pub(crate) enum Start<'a> {
    Random,
    Hop { from: &'a Factors, size: f64 },
}

pub(crate) fn restart_plan(options: &Options, method: Method) -> RestartPlan {
    match options.restarts {
        Some(restarts) => RestartPlan {
            restarts,
            min_starts: 1,
            hops: false,
        },
        None if method == Method::VarPro && options.init != InitChoice::Given => RestartPlan {
            restarts: MOST_STARTS_WITH_HOPS - 1,
            min_starts: auto_min_starts(),
            hops: true,
        },
        None => RestartPlan {
            restarts: 0,
            min_starts: 1,
            hops: false,
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

/// Restarts after the first fit: random ones until the best objective has
/// been reached twice (after the plan's minimum of starts, or
/// AGREEING_STARTS that all reached it), then, where the plan allows and
/// the minimum found no repeat, hops from the best (see HOP_SIZE for when
/// they stop); always until the budget is spent or the callback cancels. The best fit is kept; iterations count
/// on across starts (for the callback and WLRA_INFO_ITERATIONS).
/// `run_start(options, r, shift, start)` runs restart r under `options`
/// (the budget left) from `start` and reports through `shift`;
/// `zero_objective` is sum w m^2, the objective of zero factors. One
/// process's fit and a distributed one run this same loop.
pub(crate) fn restart_loop(
    options: &Options,
    plan: RestartPlan,
    zero_objective: f64,
    mut best: FitOutcome,
    run_start: &mut dyn FnMut(&Options, usize, Shift, Start<'_>) -> Result<FitOutcome>,
) -> Result<FitOutcome> {
    let same = SAME_OPTIMUM.max(10.0 * options.tolerance);
    let floor = EXACT_FIT_FLOOR * zero_objective;
    let (mut starts, mut at_best) = (1, 1);
    let mut used = best.iterations;
    let mut hops: Option<Hops> = None;
    for r in 1..=plan.restarts {
        let exact = best.objective <= floor;
        let agreeing = at_best == starts && starts >= AGREEING_STARTS;
        let done = at_best >= 2 && (starts >= plan.min_starts || exact || agreeing);
        if plan.hops && hops.is_none() && !done && starts >= plan.min_starts {
            hops = Some(Hops::after(starts, used));
        }
        let stop = match &hops {
            Some(h) => exact || h.spent(used),
            None => done,
        };
        let Some(budget) = remaining_budget(options, used) else {
            break;
        };
        if stop || best.cancelled {
            break;
        }
        let shift = Shift {
            iterations: used,
            best: best.objective,
        };
        let start = match hops {
            Some(_) => Start::Hop {
                from: &best.factors,
                size: HOP_SIZE,
            },
            None => Start::Random,
        };
        let fit = run_start(&budget, r, shift, start)?;
        starts += 1;
        used += fit.iterations;
        let cancelled = fit.cancelled;
        let gap = fit.objective - best.objective;
        let tie = same * best.objective + floor;
        // The same optimum counts again; a lower one (even by rounding)
        // becomes the best, so what was reported never rises.
        at_best = if gap.abs() <= tie {
            at_best + 1
        } else if gap < 0.0 {
            1
        } else {
            at_best
        };
        if let Some(h) = &mut hops {
            // A hop counts as progress only where it found a distinctly
            // lower optimum.
            h.stalled = if gap < -tie { 0 } else { h.stalled + 1 };
        }
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

/// The hop phase's state: where its iteration budget ends and how many
/// hops in a row found nothing lower.
struct Hops {
    budget_end: usize,
    stalled: usize,
}

impl Hops {
    /// After `starts` random starts that took `used` iterations: the
    /// iterations the random starts up to AUTO_MAX_STARTS would have taken.
    fn after(starts: usize, used: usize) -> Hops {
        let replaced = AUTO_MAX_STARTS.saturating_sub(starts);
        Hops {
            budget_end: used + replaced * used.div_ceil(starts),
            stalled: 0,
        }
    }

    fn spent(&self, used: usize) -> bool {
        self.stalled >= hop_stall() || used >= self.budget_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    fn outcome(objective: f64, iterations: usize) -> FitOutcome {
        let factors = Factors {
            u: Mat::from_fn(3, 1, |i, _| objective + i as f64),
            v: Mat::zeros(2, 1),
        };
        let mut fit = FitOutcome::new(factors, objective);
        fit.iterations = iterations;
        fit
    }

    /// Runs AUTO's restart loop (a first start at 100 that took 10
    /// iterations) over `objectives` (restart r ends at objectives[r - 1]),
    /// a random restart taking 10 iterations and a hop `hop_cost`; returns
    /// the outcome and, per start run, None for a random one or the
    /// objective of the fit a hop started from.
    fn run(objectives: &[f64], hop_cost: usize) -> (FitOutcome, Vec<Option<f64>>) {
        let options = Options {
            init: InitChoice::Random,
            ..Default::default()
        };
        let plan = restart_plan(&options, Method::VarPro);
        let mut kinds = Vec::new();
        let mut run_start = |_: &Options, r: usize, _: Shift, start: Start<'_>| {
            let (kind, cost) = match start {
                Start::Random => (None, 10),
                Start::Hop { from, size } => {
                    assert_eq!(size, HOP_SIZE);
                    (Some(from.u[(0, 0)]), hop_cost)
                }
            };
            kinds.push(kind);
            Ok(outcome(objectives[r - 1], cost))
        };
        let best = restart_loop(&options, plan, 1e6, outcome(100.0, 10), &mut run_start);
        (best.unwrap(), kinds)
    }

    /// Ten distinct optima after the first start's 100, then `rest`.
    fn spread_then(rest: &[f64]) -> Vec<f64> {
        let mut objectives: Vec<f64> = (0..10).map(|i| 90.0 - i as f64).collect();
        objectives.extend(rest);
        objectives
    }

    #[test]
    fn spread_optima_turn_to_hops_from_the_best_until_they_stall() {
        // Two hops find lower optima, then hop_stall() in a row do not.
        let mut rest = vec![70.0, 60.0];
        rest.extend((0..hop_stall() + 5).map(|i| 60.0 + (i % 7) as f64));
        let (best, kinds) = run(&spread_then(&rest), 1);
        assert_eq!((auto_min_starts(), hop_stall()), (11, 29));
        assert!(kinds[..10].iter().all(Option::is_none), "{kinds:?}");
        // Each hop starts from the best so far (u[(0, 0)] = its objective).
        assert_eq!(kinds[10..12], [Some(81.0), Some(70.0)]);
        assert!(kinds[12..].iter().all(|k| *k == Some(60.0)), "{kinds:?}");
        assert_eq!(kinds.len(), 12 + hop_stall());
        assert_eq!(best.objective, 60.0);
        assert_eq!(best.starts, 1 + kinds.len());
        // 60 itself, then every seventh stalled hop.
        assert_eq!(best.starts_at_best, 1 + hop_stall().div_ceil(7));
        assert_eq!(best.iterations, 110 + 2 + hop_stall());
    }

    #[test]
    fn hops_spend_at_most_the_iterations_of_the_random_starts_they_replace() {
        // Every hop finds a lower optimum and costs what a random start
        // does: the 21 random starts up to AUTO_MAX_STARTS are replaced by
        // 21 hops.
        let rest: Vec<f64> = (0..200).map(|i| 80.0 - 0.1 * i as f64).collect();
        let (best, kinds) = run(&spread_then(&rest), 10);
        assert_eq!(kinds.len(), AUTO_MAX_STARTS - 1);
        assert_eq!(best.iterations, 10 * AUTO_MAX_STARTS);
        // Hops that cost nothing stop at the most starts of any kind.
        let (best, kinds) = run(&spread_then(&rest), 0);
        assert_eq!(kinds.len(), MOST_STARTS_WITH_HOPS - 1);
        assert_eq!(best.starts, MOST_STARTS_WITH_HOPS);
    }

    #[test]
    fn a_repeated_optimum_ends_the_random_starts_without_hops() {
        let mut objectives: Vec<f64> = (0..9).map(|i| 90.0 - i as f64).collect();
        objectives.extend([82.0, 1.0, 1.0]);
        let (best, kinds) = run(&objectives, 1);
        assert_eq!(kinds, vec![None; 10]);
        assert_eq!(
            (best.objective, best.starts, best.starts_at_best),
            (82.0, 11, 2)
        );
    }

    #[test]
    fn a_hop_that_fits_exactly_ends_the_hops() {
        // Below 1e-13 of the zero objective (1e6): the global optimum.
        let (best, kinds) = run(&spread_then(&[1e-9, 0.5e-9, 0.1e-9]), 1);
        assert_eq!(kinds.len(), 11);
        assert_eq!(best.objective, 1e-9);
    }

    #[test]
    fn explicit_restarts_never_hop() {
        let options = Options {
            restarts: Some(30),
            ..Default::default()
        };
        let plan = restart_plan(&options, Method::VarPro);
        let mut hops = 0;
        let mut run_start = |_: &Options, r: usize, _: Shift, start: Start<'_>| {
            hops += usize::from(matches!(start, Start::Hop { .. }));
            Ok(outcome(100.0 - r as f64, 1))
        };
        let best = restart_loop(&options, plan, 1e6, outcome(100.0, 1), &mut run_start).unwrap();
        assert_eq!((hops, best.starts), (0, 31));
    }
}
