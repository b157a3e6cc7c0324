//! AUTO's outer method where VarPro is affordable and entries are missing
//! (`driver::choose_method`): accelerated alternation
//! first, and VarPro from where it stands once alternation's measured rate
//! of progress says it would crawl. Ordinary problems (PCA, completion with
//! plenty observed, heteroscedastic weights) converge in tens of
//! iterations and never pay for VarPro or its restarts; hard ones
//! (structure from motion with most entries missing), where alternation
//! needs thousands, switch after a few.
//!
//! The rate: over the last WINDOW iterations the relative decrease
//! r_t = (f_{t-1} - f_t) / f_{t-1} shrank by rho per iteration (geometric
//! mean), so reaching the tolerance would take ln(tol / r_t) / ln(rho) more.
//! Alternation crawls when that exceeds what VarPro would need at the
//! same cost: TYPICAL_VARPRO_ITERATIONS times the cost of one VarPro
//! iteration in alternating iterations (`cost_ratio`).

use super::{accelerated, remaining_budget, varpro, Context, FitOutcome, Method, Progress};
use crate::error::Result;

/// Iterations over which the rate is measured.
const WINDOW: usize = 5;
/// No verdict before this many iterations: the first ones correct the
/// start's scale and their decreases say nothing of the rate.
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
    fn crawls(&mut self, f: f64) -> bool {
        self.objectives.push(f);
        let t = self.objectives.len();
        if t <= FIRST_VERDICT {
            return false;
        }
        let decrease = |i: usize| {
            let (a, b) = (self.objectives[i - 1], self.objectives[i]);
            ((a - b) / a).max(f64::MIN_POSITIVE)
        };
        let (now, before) = (decrease(t - 1), decrease(t - 1 - WINDOW));
        let tolerance = self.tolerance.max(f64::EPSILON);
        if now <= tolerance {
            return false;
        }
        let rho = (now / before).powf(1.0 / WINDOW as f64);
        let remaining = if rho < 1.0 {
            (tolerance / now).ln() / rho.ln()
        } else {
            f64::INFINITY
        };
        remaining > self.limit
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
    let mut probe = accelerated::run(ctx, start, &mut watched)?;
    probe.method_used = Method::Accelerated;
    if !crawled || cancelled {
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
