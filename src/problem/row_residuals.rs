//! Each row's share of the weighted residual sum W (M - U V^T)^2, one
//! number per row, for a total whose grouping must not depend on how the
//! rows are split among processes: the distributed objective adds them in
//! global row order. The one-process objective (`Problem::
//! weighted_residual`) groups them by blocks instead, which is faster.

use super::{DenseProblem, Problem, SparseView};
use crate::error::{Error, Result};
use crate::kernels::gram::gram;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

/// Rows of `x` contiguous: x_rows[i k .. (i + 1) k] = x[i, :].
fn row_major(x: MatRef<'_, f64>) -> Vec<f64> {
    let k = x.ncols();
    (0..x.nrows() * k).map(|e| x[(e / k, e % k)]).collect()
}

/// sum_d a[d] b[d], left to right.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
}

/// Each row's share of sum W (M - U V^T)^2, `u` holding the problem's
/// rows of U and `v` all of V, in the solvers' units (dense input is read
/// through its scale; sparse input holds its values in them). The problem
/// must have no column shift.
pub fn residuals_by_row(
    problem: &Problem<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    par: Par,
) -> Result<Vec<f64>> {
    let shifted = match problem {
        Problem::Dense(d) => d.column_shift().is_some(),
        Problem::Sparse(s) => s.column_shift().is_some(),
    };
    // A sparse problem holds its values in the solvers' units already.
    if shifted {
        return Err(Error::Internal(
            "residuals by row read no shifted values".into(),
        ));
    }
    match problem {
        Problem::Dense(dense) => Ok(dense_rows(dense, u, v)),
        Problem::Sparse(view) => sparse_rows(view, u, v, par),
    }
}

/// Row by row (a 1 x k by k x m product each, the same shape whatever the
/// split), rows in parallel, the sum along the row in column order.
fn dense_rows(dense: &DenseProblem<'_>, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Vec<f64> {
    let (m, w) = (dense.data(), dense.weights());
    let cols = m.ncols();
    // NaN in M read as missing (WLRA_OPTION_MISSING_NAN) weighs 0.
    let missing = dense.missing_nan();
    let counts = move |w: f64, m: f64| w != 0.0 && !(missing && m.is_nan());
    // The solvers' W and M, as `DenseProblem::weight` and `value` read them.
    let (sw, sm) = (dense.scale().weights(), dense.scale().values());
    (0..m.nrows())
        .into_par_iter()
        .map_init(
            || Mat::<f64>::zeros(1, cols),
            |fitted, i| {
                let ui = u.subrows(i, 1);
                matmul(
                    fitted.as_mut(),
                    Accum::Replace,
                    ui,
                    v.transpose(),
                    1.0,
                    Par::Seq,
                );
                let f = fitted.row(0);
                let (mi, wi) = (m.row(i), w.map(|w| w.row(i)));
                let mut sum = 0.0;
                // Contiguous rows (row-major input) as slices; the
                // same sum, in the same order, either way.
                match (mi.try_as_row_major(), wi.map(|w| w.try_as_row_major())) {
                    (Some(mi), Some(Some(wi))) => {
                        let (mi, wi) = (mi.as_slice(), wi.as_slice());
                        for j in 0..cols {
                            if counts(wi[j], mi[j]) {
                                let e = sm.apply_saturating(mi[j]) - f[j];
                                sum += sw.apply(wi[j]) * e * e;
                            }
                        }
                    }
                    _ => {
                        for j in 0..cols {
                            let wij = wi.map_or(1.0, |w| sw.apply(w[j]));
                            if counts(wij, mi[j]) {
                                let e = sm.apply_saturating(mi[j]) - f[j];
                                sum += wij * e * e;
                            }
                        }
                    }
                }
                sum
            },
        )
        .collect()
}

/// The pattern's rows, each with w_default's share over its whole row from
/// k-dimensional sums (`SparseView::weighted_residual`'s split).
fn sparse_rows(
    view: &SparseView<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    par: Par,
) -> Result<Vec<f64>> {
    let k = u.ncols();
    let (ur, vr) = (row_major(u), row_major(v));
    let u_row = |i: usize| &ur[i * k..(i + 1) * k];
    let (wd, md) = (view.w_default(), view.m_default());
    let ncols = view.n_cols() as f64;
    // sum_j v_j and V^T V, the constant part's k-dimensional sums
    // (the Gram in fixed row blocks: the same bits on every rank).
    let mut sv = vec![0.0; k];
    for j in 0..v.nrows() {
        for (a, s) in sv.iter_mut().enumerate() {
            *s += vr[j * k + a];
        }
    }
    let g = gram(v, par)?;
    let gv: Vec<f64> = (0..k * k).map(|e| g[(e / k, e % k)]).collect();
    Ok((0..view.n_rows())
        .map(|i| {
            let ui = u_row(i);
            let mut sum = 0.0;
            if wd > 0.0 {
                let quad: f64 = (0..k)
                    .map(|a| ui[a] * dot(&gv[a * k..(a + 1) * k], ui))
                    .sum();
                sum += wd * (ncols * md * md - 2.0 * md * dot(ui, &sv) + quad);
            }
            let row = view.row(i);
            for ((&j, &mv), &wv) in row.cols.iter().zip(row.values).zip(row.weights) {
                let f = dot(ui, &vr[j * k..(j + 1) * k]);
                let (e, e0) = (mv - f, md - f);
                sum += wv * e * e - wd * e0 * e0;
            }
            sum
        })
        .collect())
}
