//! Rows and columns without a positive weight. Nothing in the data term
//! depends on their factor rows, so the minimum-norm solution, the one
//! alternation's exact solver returns and the one any ridge picks, is 0
//! there (0 in the offset too, whose pinned partner stays). VarPro's
//! damped steps and the accelerated extrapolation move such rows by other
//! means, so every fit, of every method, ends here (but one of zero
//! iterations, which returns its start as it is).

use super::{Context, FitOutcome};
use crate::error::Result;
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::Problem;
use faer::Mat;

/// Whether some row or column of the problem may lack a positive weight:
/// dense input with W, or a pattern with w_default = 0.
pub(crate) fn may_have_unobserved(problem: &Problem<'_>) -> bool {
    match problem {
        Problem::Dense(d) => d.weights().is_some() || d.missing_nan(),
        Problem::Sparse(s) => s.w_default() == 0.0,
    }
}

/// Zero every factor row whose weight sum is 0, but for the pinned column;
/// whether any entry changed.
pub(crate) fn zero_rows(x: &mut Mat<f64>, sums: &[f64], pinned: Option<usize>) -> bool {
    let mut changed = false;
    for (i, _) in sums.iter().enumerate().filter(|(_, &s)| s == 0.0) {
        for c in (0..x.ncols()).filter(|&c| Some(c) != pinned) {
            changed |= x[(i, c)] != 0.0;
            x[(i, c)] = 0.0;
        }
    }
    changed
}

/// The outcome's factors with their unobserved rows (of U) and columns (of
/// V) at the minimum-norm solution; the objective follows when a ridge
/// counted them; and the count of those rows and columns
/// (WLRA_INFO_ZERO_WEIGHT_LINES, from the same sums). Flops: one pass over
/// W (dense) or the pattern per side.
pub fn zero_unobserved(ctx: &Context<'_>, outcome: &mut FitOutcome) -> Result<()> {
    let problem = ctx.problem;
    if !may_have_unobserved(problem) {
        outcome.zero_weight_lines = Some(0);
        return Ok(());
    }
    let k = ctx.rank - ctx.offsets.count();
    let rows = ctx.pool.install(|| row_weight_sums(problem))?;
    let cols = ctx
        .pool
        .install(|| row_weight_sums(&problem.transposed()))?;
    let unweighted = |sums: &[f64]| sums.iter().filter(|&&s| s <= 0.0).count();
    outcome.zero_weight_lines = Some(unweighted(&rows) + unweighted(&cols));
    let factors = &mut outcome.factors;
    let mut changed = zero_rows(&mut factors.u, &rows, ctx.offsets.pinned(k, true));
    changed |= zero_rows(&mut factors.v, &cols, ctx.offsets.pinned(k, false));
    if changed && ctx.options.ridge > 0.0 {
        outcome.objective = ctx.objective(factors)?;
    }
    Ok(())
}
