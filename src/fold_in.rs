//! Fold-in: rows the fit has not seen, solved against its fitted column
//! factor. Row r gets u_r = argmin sum_j w_rj (m_rj - v_j . u_r)^2 +
//! ridge |u_r|^2, exactly the U half-step of the fit (the exact solver,
//! minimum norm where a row's normal equations are singular, so a row with
//! no positive weight gets u_r = 0, never NaN). No refit: V stays as it is.
//!
//! Cost: the exact half-step's, n_new m k(k+1) flops for the row Grams and
//! n_new k^3 / 3 for their factorizations (one shared Gram with unit weights).

use crate::error::Result;
use crate::problem::{DenseProblem, Problem};
use crate::solver::dense::exact::ExactSolver;
use crate::solver::{HalfStep, HalfStepSolver};
use faer::{Mat, MatRef, Par};

/// The new rows' factor (n_new x k) for data `m_rows` (n_new x m) with
/// weights `w_rows` (None: every weight 1) against `v` (m x k). The inputs
/// are validated by the caller (finite, non-negative weights, shapes).
pub(crate) fn fold_in_rows(
    v: MatRef<'_, f64>,
    ridge: f64,
    m_rows: MatRef<'_, f64>,
    w_rows: Option<MatRef<'_, f64>>,
    par: Par,
) -> Result<Mat<f64>> {
    let problem = Problem::Dense(DenseProblem::new(m_rows, w_rows));
    let step = HalfStep {
        problem,
        fixed: v,
        ridge,
        warm_start: None,
        // The fitted V carries the scale (the fit returns U orthonormal),
        // so its Gram is computed, not assumed to be I.
        fixed_orthonormal: false,
        par,
    };
    ExactSolver.solve(&step)
}
