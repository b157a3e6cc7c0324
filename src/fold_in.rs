//! Fold-in: rows the fit has not seen, solved against its fitted column
//! factor (with offsets, `crate::offsets`, the rows' own offset too, and
//! the column offsets off their data). Row r gets u_r = argmin sum_j w_rj (m_rj - v_j . u_r)^2 +
//! ridge |u_r|^2 (ridge w_r. |u_r|^2 under WLRA_RIDGE_WEIGHT_SUMS), exactly the U half-step of the fit (the exact solver,
//! minimum norm where a row's normal equations are singular, so a row with
//! no positive weight gets u_r = 0, never NaN). No refit: V stays as it is.
//!
//! Scale: the rows are solved in units where W, M and V are near 1
//! (`scaling::FoldInScale`), as the fit is, so fold-in keeps its answer
//! from subnormal weights to data near the largest double.
//!
//! Cost: the exact half-step's, n_new m k(k+1) flops for the row Grams and
//! n_new k^3 / 3 for their factorizations (one shared Gram with unit weights).

use crate::error::Result;
use crate::init::Factors;
use crate::memory::{try_collect, try_from_fn};
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::{DenseProblem, Problem};
use crate::scaling::{exponent, times_pow2, FoldInScale, Scale};
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
    /// The units the fit ran in (`FitOutcome::scale`).
    pub fit_scale: Scale,
    /// NaN in the new rows' data is missing (WLRA_OPTION_MISSING_NAN).
    pub missing_nan: bool,
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
    let dense = DenseProblem::new(m_rows, w_rows).with_missing_nan(against.missing_nan);
    let scale = fold_in_scale(against, &dense);
    if scale.is_unit() {
        return solve_rows(against, dense, par);
    }
    // The fit's units for these rows (`crate::scaling`): copies of V and b
    // (m k + m doubles), W and M scaled as they are read.
    let design = scale.design();
    let ones = against.unpenalized;
    let scaled_design = try_from_fn(
        against.design.nrows(),
        against.design.ncols(),
        |j, c| match Some(c) == ones {
            true => against.design[(j, c)],
            false => design.apply(against.design[(j, c)]),
        },
        "V in the fold-in's units",
    )?;
    let values = scale.data().values();
    let scaled_shift = match against.shift {
        Some(b) => Some(try_collect(b.iter().map(|&x| values.apply(x)), "b")?),
        None => None,
    };
    let (ridge, by_weight_sums) = against.ridge;
    let scaled = FoldIn {
        design: scaled_design.as_ref(),
        shift: scaled_shift.as_deref(),
        ridge: (scale.ridge(ridge, by_weight_sums), by_weight_sums),
        unpenalized: against.unpenalized,
        fit_scale: against.fit_scale,
        missing_nan: against.missing_nan,
    };
    let mut solved = solve_rows(&scaled, dense.with_scale(scale.data()), par)?;
    for (c, column) in solved.col_iter_mut().enumerate() {
        let out = match Some(c) == ones {
            true => scale.offset_out(),
            false => scale.solution_out(),
        };
        column.iter_mut().for_each(|x| *x = out.apply(*x));
    }
    Ok(solved)
}

/// The units fold-in solves in: the rows' largest weight and |M| (the
/// column offsets' |b| too: they come off M), and the fit's own for V.
fn fold_in_scale(against: &FoldIn<'_>, dense: &DenseProblem<'_>) -> FoldInScale {
    let (weight, value) = dense.largest_magnitudes();
    let shift = against.shift.unwrap_or(&[]).iter().map(|x| x.abs());
    let value = shift.fold(value, f64::max);
    FoldInScale::new(Scale::for_largest(weight, value), against.fit_scale)
}

/// The exact U half-step of `dense` (in the units of `against`).
fn solve_rows(against: &FoldIn<'_>, dense: DenseProblem<'_>, par: Par) -> Result<Mat<f64>> {
    let (ridge, by_weight_sums) = against.ridge;
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

/// The units a fit of loaded factors' model would run in, for fold-in
/// (`FoldInScale`): those of the bound max_c max|U~_c| max|V~_c| on its
/// entries, in binary exponents: the caller's within 2^+-32, as a fit's.
pub(crate) fn loaded_scale(f: &Factors) -> Scale {
    let top = |x: &Mat<f64>, c: usize| x.col(c).iter().fold(0.0, |t: f64, e| t.max(e.abs()));
    let tops = (0..f.u.ncols()).map(|c| (top(&f.u, c), top(&f.v, c)));
    let both = tops.filter(|&(x, y)| x > 0.0 && y > 0.0);
    let e = both.map(|(x, y)| exponent(x) + exponent(y)).max();
    let scale = |e: i32| Scale::for_largest(1.0, times_pow2(1.0, e.clamp(-1074, 1023)));
    e.map_or(Scale::unit(), scale)
}
