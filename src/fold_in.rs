//! Fold-in: rows the fit has not seen, solved against its fitted column
//! factor. Row r gets u_r = argmin sum_j w_rj (m_rj - v_j . u_r)^2 +
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

/// The new rows' factor (n_new x k) for data `m_rows` (n_new x m) with
/// weights `w_rows` (None: every weight 1) against `v` (m x k). The inputs
/// are validated by the caller (finite, non-negative weights, shapes).
/// With `by_weight_sums` each row's ridge is times its weight sum, as in
/// the fit (WLRA_RIDGE_WEIGHT_SUMS).
pub(crate) fn fold_in_rows(
    v: MatRef<'_, f64>,
    ridge: (f64, bool),
    m_rows: MatRef<'_, f64>,
    w_rows: Option<MatRef<'_, f64>>,
    par: Par,
) -> Result<Mat<f64>> {
    let (ridge, by_weight_sums) = ridge;
    let problem = Problem::Dense(DenseProblem::new(m_rows, w_rows));
    let sums = if by_weight_sums && ridge > 0.0 {
        Some(row_weight_sums(&problem)?)
    } else {
        None
    };
    let step = HalfStep {
        problem,
        fixed: v,
        ridge,
        ridge_scale: sums.as_deref(),
        warm_start: None,
        // The fitted V carries the scale (the fit returns U orthonormal),
        // so its Gram is computed, not assumed to be I.
        fixed_orthonormal: false,
        par,
    };
    ExactSolver.solve(&step)
}
