//! Fold-in: rows the fit has not seen, solved against its fitted column
//! factor (with offsets, `crate::offsets`, the rows' own offset too, and
//! the column offsets off their data). Row r gets u_r = argmin sum_j w_rj (m_rj - v_j . u_r)^2 +
//! ridge |u_r|^2 (ridge w_r. |u_r|^2 under WLRA_RIDGE_WEIGHT_SUMS), exactly the U half-step of the fit (the exact solver,
//! minimum norm where a row's normal equations are singular, so a row with
//! no positive weight gets u_r = 0, never NaN). No refit: V stays as it is.
//!
//! Cost: the exact half-step's, n_new m k(k+1) flops for the row Grams and
//! n_new k^3 / 3 for their factorizations (one shared Gram with unit weights).

use crate::error::Result;
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::{DenseProblem, Problem};
use crate::solver::dense::exact::ExactSolver;
use crate::solver::{HalfStep, HalfStepSolver};
use faer::{Mat, MatRef, Par};

/// What new rows are solved against: the fitted column factor as the U
/// half-step sees it (with offsets: V~ without its pinned column), the
/// column offsets b taken off the rows' data (None without), the ridge and
/// whether it scales by weight sums.
pub(crate) struct FoldIn<'a> {
    pub design: MatRef<'a, f64>,
    pub shift: Option<&'a [f64]>,
    pub ridge: (f64, bool),
    /// The rows' own offset's column in `design`, which the ridge leaves.
    pub unpenalized: Option<usize>,
}

/// The new rows' factor (n_new x design columns) for data `m_rows`
/// (n_new x m) with weights `w_rows` (None: every weight 1). The inputs
/// are validated by the caller (finite, non-negative weights, shapes).
/// With weight-sum ridges each row's ridge is times its weight sum, as in
/// the fit (WLRA_RIDGE_WEIGHT_SUMS).
pub(crate) fn fold_in_rows(
    against: &FoldIn<'_>,
    m_rows: MatRef<'_, f64>,
    w_rows: Option<MatRef<'_, f64>>,
    par: Par,
) -> Result<Mat<f64>> {
    let (ridge, by_weight_sums) = against.ridge;
    let dense = DenseProblem::new(m_rows, w_rows);
    let problem = Problem::Dense(match against.shift {
        Some(b) => dense.with_column_shift(b),
        None => dense,
    });
    let sums = if by_weight_sums && ridge > 0.0 {
        Some(row_weight_sums(&problem)?)
    } else {
        None
    };
    let step = HalfStep {
        problem,
        fixed: against.design,
        ridge,
        ridge_scale: sums.as_deref(),
        unpenalized: against.unpenalized,
        warm_start: None,
        // The fitted V carries the scale (the fit returns U orthonormal),
        // so its Gram is computed, not assumed to be I.
        fixed_orthonormal: false,
        par,
    };
    ExactSolver.solve(&step)
}
