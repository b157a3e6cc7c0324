//! AUTO's outer method where VarPro is affordable and entries are missing
//! (`driver::choose_method`): accelerated alternation
//! first, and VarPro from where it stands once alternation's measured rate
//! of progress says it would crawl. Ordinary problems (PCA, completion with
//! plenty observed, heteroscedastic weights) converge in tens of
//! iterations and never pay for VarPro or its restarts; hard ones
//! (structure from motion with most entries missing), where alternation
//! needs thousands, switch after a few.
//!
//! The rate: the relative decrease per iteration over the last block of
//! WINDOW iterations, r, against the block before shrank by rho per
//! iteration, so reaching the tolerance would take ln(tol / r) / ln(rho)
//! more (none when it grew: see `RateWatch::crawls`).
//! Alternation crawls when that exceeds what VarPro would need at the
//! same cost: TYPICAL_VARPRO_ITERATIONS times the cost of one VarPro
//! iteration in alternating iterations (`cost_ratio`). Alternation that
//! spends the default iteration budget unconverged switches too.

use super::{local_sides, remaining_budget, varpro, Context, FitOutcome, Method, Progress};
use crate::error::Result;

/// Iterations over which the rate is measured.
const WINDOW: usize = 5;
/// No verdict before this many iterations (two blocks): the first ones
/// correct the start's scale and their decreases say nothing of the rate.
const FIRST_VERDICT: usize = 2 * WINDOW;
/// VarPro iterations a start takes on the problems it is for (Hong and
/// Fitzgibbon report tens to a few hundred; docs/optimum.md): the yardstick
/// of alternation's projected cost.
const TYPICAL_VARPRO_ITERATIONS: f64 = 30.0;

/// Whether alternation's objectives so far project more iterations than
/// `limit` to reach `tolerance` (relative decrease per iteration).
struct RateWatch {
    objectives: Vec<f64>,
    tolerance: f64,
    limit: f64,
}

impl RateWatch {
    /// The rate is read from blocks of WINDOW iterations: the relative
    /// decrease over the last block against the one before, which smooths
    /// the single iterations' ups and downs (accelerated alternation's
    /// decrease jumps when its extrapolation takes hold). A decrease that
    /// grew from one block to the next projects nothing: on digits with
    /// 30 % of entries missing (k = 15) such a jump, read as a crawl from
    /// single iterations, sent accelerated alternation, 17 iterations from
    /// converged, to VarPro and 11 restarts (174 s).
    fn crawls(&mut self, f: f64) -> bool {
        self.objectives.push(f);
        let t = self.objectives.len();
        if t <= FIRST_VERDICT {
            return false;
        }
        let block_decrease = |end: usize| {
            let (a, b) = (self.objectives[end - WINDOW], self.objectives[end]);
            ((a - b) / a).max(f64::MIN_POSITIVE)
        };
        let (now, before) = (block_decrease(t - 1), block_decrease(t - 1 - WINDOW));
        // Per iteration: the tolerance is a decrease per iteration.
        let (now, rho) = (
            now / WINDOW as f64,
            (now / before).powf(1.0 / WINDOW as f64),
        );
        let tolerance = self.tolerance.max(f64::EPSILON);
        now > tolerance && rho < 1.0 && (tolerance / now).ln() / rho.ln() > self.limit
    }
}

/// Accelerated alternation from `start`, then VarPro (`cost_ratio`: one
/// VarPro iteration in alternating iterations) from its factors if it
/// crawls. Iterations count on across the switch, and the callback never
/// sees the objective rise.
pub fn run(
    ctx: &Context<'_>,
    start: crate::init::Factors,
    progress: Progress<'_>,
    cost_ratio: f64,
) -> Result<FitOutcome> {
    let mut watch = RateWatch {
        objectives: Vec::new(),
        tolerance: ctx.options.tolerance,
        limit: TYPICAL_VARPRO_ITERATIONS * cost_ratio,
    };
    let (mut crawled, mut cancelled) = (false, false);
    let mut watched = |i: usize, f: f64| {
        if !progress(i, f) {
            cancelled = true;
            return false;
        }
        crawled = watch.crawls(f);
        !crawled
    };
    let mut probe = local_sides::run_accelerated(ctx, start, &mut watched)?;
    probe.method_used = Method::Accelerated;
    // A default budget spent unconverged is no answer the caller asked
    // for: VarPro, affordable here, goes on from there. Giraffe from
    // random starts stopped at RMS 0.3315 so (best known 0.3228); on a
    // fold of the digits' cross-validation, accelerated alternation stops
    // there 0.4 % above VarPro's objective (held-out RMSE 6.05 against
    // 5.18, docs/optimum.md).
    let out_of_budget = !probe.converged
        && !ctx.options.max_iterations_given
        && probe.iterations >= ctx.options.max_iterations;
    if cancelled || !(crawled || out_of_budget) {
        return Ok(probe);
    }
    probe.cancelled = false;
    let used = probe.iterations;
    let Some(options) = remaining_budget(ctx.options, used) else {
        return Ok(probe);
    };
    let best = probe.objective;
    let mut shifted = |i: usize, f: f64| progress(used + i, f.min(best));
    let switched = Context {
        options: &options,
        ..*ctx
    };
    let mut fit = varpro::run(&switched, probe.factors, &mut shifted)?;
    fit.method_used = Method::VarPro;
    fit.iterations += used;
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(limit: f64) -> RateWatch {
        RateWatch {
            objectives: Vec::new(),
            tolerance: 1e-8,
            limit,
        }
    }

    /// Objectives whose relative decrease starts at d0 and shrinks by rho
    /// per iteration.
    fn geometric(d0: f64, rho: f64, n: usize) -> Vec<f64> {
        let mut f = vec![1.0];
        for t in 0..n {
            let last = *f.last().unwrap();
            f.push(last * (1.0 - d0 * rho.powi(t as i32)));
        }
        f
    }

    #[test]
    fn a_steady_slow_rate_is_a_crawl_at_the_first_verdict() {
        // rho = 0.99 from 1e-3: ln(1e-5) / ln(0.99) = 1146 more iterations.
        let mut w = watch(500.0);
        let verdicts: Vec<bool> = geometric(1e-3, 0.99, 40)
            .into_iter()
            .map(|f| w.crawls(f))
            .collect();
        let first = verdicts.iter().position(|&c| c).expect("a crawl");
        assert_eq!(first, FIRST_VERDICT);
    }

    #[test]
    fn a_fast_rate_or_a_decrease_that_grows_is_no_crawl() {
        let mut fast = watch(500.0);
        assert!(geometric(1e-2, 0.5, 30)
            .into_iter()
            .all(|f| !fast.crawls(f)));
        // A decrease that shrinks by 0.7 per iteration, except once, when
        // it grows thirtyfold (extrapolation taking hold): never a crawl. Read from
        // single iterations, the jump projected an infinite number.
        let mut f = vec![1.0];
        for t in 0..40 {
            let jump = if t >= 12 { 30.0 } else { 1.0 };
            let last = *f.last().unwrap();
            f.push(last * (1.0 - 1e-2 * 0.7f64.powi(t) * jump));
        }
        let mut bumpy = watch(500.0);
        assert!(f.into_iter().all(|f| !bumpy.crawls(f)));
    }
}
