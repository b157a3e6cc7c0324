//! Offsets (issue 17, acceptance 1 and 4): M ~ a 1^T + 1 b^T + U V^T fitted
//! jointly. A planted model with weights in [0.1, 1] is recovered to 1e-8
//! by every solver and outer method, its offsets in the documented gauge;
//! CSR equals dense to 1e-10; the ridge penalizes the offsets; fold-in
//! solves the rows' offsets with their factor; bad input gets exact statuses.

mod common;

use common::{csr, Rng};
use faer::Mat;
use wlra::ffi::wlra_transform_with_offsets;
use wlra::ffi::{wlra_create, wlra_destroy, wlra_fit, wlra_model, wlra_set_option};
use wlra::ffi::{wlra_get_offsets, wlra_predict};
use wlra::problem::sparse::SparseProblem;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

/// A planted model: its full matrix and the offsets it was built with.
struct PlantedOffsets {
    truth: Mat<f64>,
}

/// a 1^T + 1 b^T + U* V*^T (the sides `offsets` names), offsets of size
/// about 3 around non-zero means, so that ignoring them shows.
fn planted_offsets(n: usize, m: usize, k: usize, offsets: i32, seed: u64) -> PlantedOffsets {
    let mut rng = Rng::new(seed);
    let (u, v) = (rng.normal_mat(n, k), rng.normal_mat(m, k));
    let a: Vec<f64> = (0..n).map(|_| 2.0 + 3.0 * rng.normal()).collect();
    let b: Vec<f64> = (0..m).map(|_| -1.0 + 3.0 * rng.normal()).collect();
    let rows = offsets == WLRA_OFFSETS_ROWS || offsets == WLRA_OFFSETS_BOTH;
    let cols = offsets == WLRA_OFFSETS_COLUMNS || offsets == WLRA_OFFSETS_BOTH;
    let product = &u * v.transpose();
    let truth = Mat::from_fn(n, m, |i, j| {
        product[(i, j)] + if rows { a[i] } else { 0.0 } + if cols { b[j] } else { 0.0 }
    });
    PlantedOffsets { truth }
}

/// The offsets of the gauge the docs state (1^T V = 0 for row offsets,
/// 1^T U = 0 for column offsets, 1^T b = 0 with both), computed from the
/// model's full matrix X alone: a = X's row means (with both: the same),
/// b = X's column means (with both: minus the grand mean).
fn gauge_offsets(x: &Mat<f64>, offsets: i32) -> (Vec<f64>, Vec<f64>) {
    let (n, m) = x.shape();
    let row_means: Vec<f64> = (0..n)
        .map(|i| (0..m).map(|j| x[(i, j)]).sum::<f64>() / m as f64)
        .collect();
    let col_means: Vec<f64> = (0..m)
        .map(|j| (0..n).map(|i| x[(i, j)]).sum::<f64>() / n as f64)
        .collect();
    let grand = row_means.iter().sum::<f64>() / n as f64;
    match offsets {
        WLRA_OFFSETS_ROWS => (row_means, vec![]),
        WLRA_OFFSETS_COLUMNS => (vec![], col_means),
        _ => (row_means, col_means.iter().map(|c| c - grand).collect()),
    }
}

fn model(k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model
}

/// The fitted model's full matrix a 1^T + 1 b^T + U V^T, through predict.
fn fitted_matrix(model: &Model, n: usize, m: usize) -> Mat<f64> {
    let rows: Vec<usize> = (0..n).flat_map(|i| std::iter::repeat_n(i, m)).collect();
    let cols: Vec<usize> = (0..n).flat_map(|_| 0..m).collect();
    let mut out = vec![0.0; n * m];
    model.predict(&rows, &cols, &mut out).unwrap();
    Mat::from_fn(n, m, |i, j| out[i * m + j])
}

fn offsets_of(model: &Model) -> (Vec<f64>, Vec<f64>) {
    let (a, b) = model.offsets().unwrap();
    let owned =
        |c: Option<faer::ColRef<'_, f64>>| c.map_or(vec![], |c| c.iter().copied().collect());
    (owned(a), owned(b))
}

fn max_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn largest(a: &[f64]) -> f64 {
    a.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

/// Converge as far as rounding lets the method go.
fn tight(offsets: i32, method: i32, solver: i32) -> Vec<(i32, f64)> {
    vec![
        (WLRA_OPTION_OFFSETS, offsets as f64),
        (WLRA_OPTION_METHOD, method as f64),
        (WLRA_OPTION_SOLVER, solver as f64),
        (WLRA_OPTION_TOLERANCE, 1e-15),
        (WLRA_OPTION_REGRESSION_TOLERANCE, 1e-14),
        (WLRA_OPTION_MAX_ITERATIONS, 3000.0),
    ]
}

const OFFSET_KINDS: [i32; 3] = [WLRA_OFFSETS_ROWS, WLRA_OFFSETS_COLUMNS, WLRA_OFFSETS_BOTH];

#[test]
fn planted_offsets_are_recovered_by_every_solver_and_method() {
    let (n, m, k) = (50, 40, 3);
    let w = Rng::new(7).uniform_mat(n, m, 0.1, 1.0);
    let combos = [
        (WLRA_METHOD_ALTERNATING, WLRA_SOLVER_EXACT),
        (WLRA_METHOD_ALTERNATING, WLRA_SOLVER_SKETCH),
        (WLRA_METHOD_ALTERNATING, WLRA_SOLVER_SHARED_PCG),
        (WLRA_METHOD_ACCELERATED, WLRA_SOLVER_AUTO),
        (WLRA_METHOD_AUTO, WLRA_SOLVER_AUTO),
    ];
    let mut worst = (0.0f64, 0.0f64);
    for offsets in OFFSET_KINDS {
        let planted = planted_offsets(n, m, k, offsets, 11 + offsets as u64);
        let (a_true, b_true) = gauge_offsets(&planted.truth, offsets);
        for (method, solver) in combos {
            let mut fit = model(k, &tight(offsets, method, solver));
            fit.fit(DenseProblem::new(planted.truth.as_ref(), Some(w.as_ref())))
                .unwrap();
            let x = fitted_matrix(&fit, n, m);
            let error = (&x - &planted.truth).norm_l2() / planted.truth.norm_l2();
            let (a, b) = offsets_of(&fit);
            let scale = largest(&a_true).max(largest(&b_true));
            let (da, db) = (max_difference(&a, &a_true), max_difference(&b, &b_true));
            let case = format!("offsets {offsets}, method {method}, solver {solver}");
            assert!(error <= 1e-8, "{case}: model error {error:e}");
            assert!(da <= 1e-8 * scale, "{case}: row offsets off by {da:e}");
            assert!(db <= 1e-8 * scale, "{case}: column offsets off by {db:e}");
            worst = (worst.0.max(error), worst.1.max(da.max(db) / scale));
        }
    }
    eprintln!(
        "worst model error {:.1e}, worst offset error {:.1e}",
        worst.0, worst.1
    );
}

#[test]
fn without_offsets_the_planted_offsets_need_more_rank() {
    // The test above can fail: rank k alone cannot hold a 1^T + 1 b^T + U V^T.
    let (n, m, k) = (50, 40, 3);
    let planted = planted_offsets(n, m, k, WLRA_OFFSETS_BOTH, 14);
    let mut fit = model(
        k,
        &tight(
            WLRA_OFFSETS_NONE,
            WLRA_METHOD_ALTERNATING,
            WLRA_SOLVER_EXACT,
        ),
    );
    fit.fit(DenseProblem::new(planted.truth.as_ref(), None))
        .unwrap();
    let x = fitted_matrix(&fit, n, m);
    let error = (&x - &planted.truth).norm_l2() / planted.truth.norm_l2();
    assert!(error > 1e-3, "rank {k} without offsets fit to {error:e}");
    assert_eq!(offsets_of(&fit), (vec![], vec![]));
}

/// A noisy planted problem observed on about 70 % of its entries: M, the
/// mask and weights in [0.1, 1].
fn observed_problem(n: usize, m: usize, seed: u64) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let planted = planted_offsets(n, m, 3, WLRA_OFFSETS_BOTH, seed);
    let mut rng = Rng::new(seed + 100);
    let data = Mat::from_fn(n, m, |i, j| planted.truth[(i, j)] + 0.1 * rng.normal());
    let mask = Mat::from_fn(n, m, |_, _| f64::from(u8::from(rng.uniform() < 0.7)));
    let w = rng.uniform_mat(n, m, 0.1, 1.0);
    (data, mask, w)
}

#[test]
fn csr_offsets_equal_dense_offsets() {
    // Completion (nothing outside the pattern) of an exact planted model:
    // both fits converge to the truth, so they agree as far as rounding
    // lets them (1e-10). With constant entries outside the pattern
    // (w_default > 0) the optimum leaves a residual, and two fits stopped
    // by the objective agree in their factors only to about sqrt(eps):
    // objectives to 1e-10, models to 1e-6 there.
    let (n, m, k) = (45, 35, 3);
    let (_, mask, w) = observed_problem(n, m, 21);
    let data = planted_offsets(n, m, k, WLRA_OFFSETS_BOTH, 22).truth;
    let pattern = csr(&mask, &data, &w);
    for offsets in [WLRA_OFFSETS_BOTH] {
        for (m_default, w_default, tolerance) in [(0.0, 0.0, 1e-10), (0.5, 0.05, 1e-6)] {
            // Dense: the pattern's W inside, w_default and m_default outside.
            let dense_w = Mat::from_fn(n, m, |i, j| {
                if mask[(i, j)] != 0.0 {
                    w[(i, j)]
                } else {
                    w_default
                }
            });
            let dense_m = Mat::from_fn(n, m, |i, j| {
                if mask[(i, j)] != 0.0 {
                    data[(i, j)]
                } else {
                    m_default
                }
            });
            let options = tight(offsets, WLRA_METHOD_ACCELERATED, WLRA_SOLVER_EXACT);
            let mut dense = model(k, &options);
            dense
                .fit(DenseProblem::new(dense_m.as_ref(), Some(dense_w.as_ref())))
                .unwrap();
            let mut sparse = model(k, &options);
            let problem = SparseProblem::new(&pattern.input(n, m, m_default, w_default)).unwrap();
            sparse.fit(problem.view()).unwrap();
            let (xd, xs) = (fitted_matrix(&dense, n, m), fitted_matrix(&sparse, n, m));
            let gap = (&xd - &xs).norm_max() / xd.norm_max();
            let ((ad, bd), (as_, bs)) = (offsets_of(&dense), offsets_of(&sparse));
            let scale = largest(&ad).max(largest(&bd));
            let case = format!("offsets {offsets}, defaults ({m_default}, {w_default})");
            assert!(gap <= tolerance, "{case}: models differ by {gap:e}");
            assert!(max_difference(&ad, &as_) <= tolerance * scale, "{case}: a");
            assert!(max_difference(&bd, &bs) <= tolerance * scale, "{case}: b");
            let objectives = (
                dense.fitted().unwrap().objective,
                sparse.fitted().unwrap().objective,
            );
            // Relative to sum W M^2: at an exact fit both are rounding.
            let size: f64 = (0..n)
                .flat_map(|i| (0..m).map(move |j| (i, j)))
                .map(|(i, j)| dense_w[(i, j)] * dense_m[(i, j)].powi(2))
                .sum();
            let relative = (objectives.0 - objectives.1).abs() / objectives.0.max(size);
            assert!(relative <= 1e-10, "{case}: objectives {objectives:?}");
        }
    }
}

#[test]
fn with_a_ridge_the_offsets_are_unpenalized_and_stationary() {
    // f = sum W (M - a 1^T - 1 b^T - U V^T)^2 + ridge (|U|^2 + |V|^2): its
    // gradient in a and b (no ridge term) vanishes at the fit, and the
    // objective reported is this f.
    let (n, m, k, ridge) = (40, 30, 2, 0.3);
    let (data, mask, w) = observed_problem(n, m, 31);
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * w[(i, j)]);
    let mut options = tight(
        WLRA_OFFSETS_BOTH,
        WLRA_METHOD_ACCELERATED,
        WLRA_SOLVER_EXACT,
    );
    options.push((WLRA_OPTION_RIDGE, ridge));
    let mut fit = model(k, &options);
    fit.fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
        .unwrap();
    let x = fitted_matrix(&fit, n, m);
    let (u, v) = fit.factors().unwrap();
    let residual = Mat::from_fn(n, m, |i, j| w[(i, j)] * (data[(i, j)] - x[(i, j)]));
    let mut f: f64 = (0..n)
        .flat_map(|i| (0..m).map(move |j| (i, j)))
        .map(|(i, j)| w[(i, j)] * (data[(i, j)] - x[(i, j)]).powi(2))
        .sum();
    f += ridge * (u.squared_norm_l2() + v.squared_norm_l2());
    let reported = fit.fitted().unwrap().objective;
    assert!(
        (f - reported).abs() <= 1e-10 * f,
        "objective {reported} against {f}"
    );
    // A constant moved between a and b costs nothing even with a ridge:
    // the fit returns sum(b) = 0.
    let (_, b) = offsets_of(&fit);
    let b_sum: f64 = b.iter().sum();
    assert!(
        b_sum.abs() <= 1e-12 * m as f64 * largest(&b),
        "sum(b) = {b_sum:e}"
    );
    // Gradients relative to the size of the terms they sum.
    let scale = residual.norm_max() * m.max(n) as f64;
    for i in 0..n {
        let g = (0..m).map(|j| residual[(i, j)]).sum::<f64>();
        assert!(g.abs() <= 1e-7 * scale, "d f / d a_{i} = {g:e}");
    }
    for j in 0..m {
        let g = (0..n).map(|i| residual[(i, j)]).sum::<f64>();
        assert!(g.abs() <= 1e-7 * scale, "d f / d b_{j} = {g:e}");
    }
}

#[test]
fn fold_in_with_offsets_equals_the_fits_next_half_step() {
    // The fit's U half-step from its own factors: one exact alternating
    // iteration warm-started from them. Fold-in of the training rows must
    // give the same rows and row offsets.
    let (n, m, k) = (40, 30, 3);
    let (data, mask, w) = observed_problem(n, m, 41);
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * w[(i, j)]);
    for offsets in OFFSET_KINDS {
        let mut options = tight(offsets, WLRA_METHOD_ALTERNATING, WLRA_SOLVER_EXACT);
        options.push((WLRA_OPTION_RIDGE, 0.05));
        let mut fit = model(k, &options);
        // Not converged: the next half-step still moves the factors.
        fit.set_option(WLRA_OPTION_MAX_ITERATIONS, 20.0).unwrap();
        let problem = DenseProblem::new(data.as_ref(), Some(w.as_ref()));
        fit.fit(problem).unwrap();
        let folded = fit.transform(data.as_ref(), Some(w.as_ref())).unwrap();
        fit.set_option(WLRA_OPTION_INIT, WLRA_INIT_WARM as f64)
            .unwrap();
        fit.set_option(WLRA_OPTION_MAX_ITERATIONS, 1.0).unwrap();
        fit.fit(problem).unwrap();
        let (u, _) = fit.factors().unwrap();
        let (a, _) = offsets_of(&fit);
        let du = (folded.as_ref().subcols(0, k) - u).norm_max() / u.norm_max();
        assert!(
            du <= 1e-12,
            "offsets {offsets}: fold-in U differs by {du:e}"
        );
        if offsets != WLRA_OFFSETS_COLUMNS {
            // With both offsets the fit then moves b's mean into a (the
            // gauge 1^T b = 0, after its V half-step): one constant apart.
            let mut gap: Vec<f64> = folded.col(k).iter().zip(&a).map(|(f, a)| f - a).collect();
            if offsets == WLRA_OFFSETS_BOTH {
                let mean = gap.iter().sum::<f64>() / n as f64;
                gap.iter_mut().for_each(|g| *g -= mean);
            }
            let da = largest(&gap) / largest(&a);
            assert!(
                da <= 1e-12,
                "offsets {offsets}: fold-in a differs by {da:e}"
            );
        } else {
            assert_eq!(folded.ncols(), k);
        }
    }
}

/// A model fitted through the C ABI with both offsets.
fn c_model(data: &Mat<f64>, w: &Mat<f64>, k: usize) -> *mut wlra_model {
    let mut handle: *mut wlra_model = std::ptr::null_mut();
    let (n, m) = data.shape();
    // SAFETY: the handle out-pointer is valid; the matrices are
    // column-major n x m with ld = n.
    unsafe {
        assert_eq!(wlra_create(k, &mut handle), WLRA_OK);
        let both = WLRA_OFFSETS_BOTH as f64;
        assert_eq!(wlra_set_option(handle, WLRA_OPTION_OFFSETS, both), WLRA_OK);
        assert_eq!(wlra_set_option(handle, WLRA_OPTION_RIDGE, 0.1), WLRA_OK);
        let status = wlra_fit(
            handle,
            n,
            m,
            data.as_ptr(),
            data.col_stride() as usize,
            w.as_ptr(),
            w.col_stride() as usize,
            WLRA_COL_MAJOR,
        );
        assert_eq!(status, WLRA_OK);
    }
    handle
}

#[test]
fn new_rows_without_weights_get_the_column_offsets_only() {
    let (n, m, k) = (30, 20, 2);
    let (data, mask, w) = observed_problem(n, m, 51);
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * w[(i, j)]);
    let handle = c_model(&data, &w, k);
    let mut b = vec![f64::NAN; m];
    // SAFETY: b holds n_cols doubles.
    assert_eq!(
        unsafe { wlra_get_offsets(handle, std::ptr::null_mut(), b.as_mut_ptr()) },
        WLRA_OK
    );
    let new_m = Mat::from_fn(2, m, |_, j| 1.0 + j as f64);
    let new_w = Mat::<f64>::zeros(2, m);
    let mut u = vec![f64::NAN; 2 * k];
    let mut a = vec![f64::NAN; 2];
    // SAFETY: 2 x m inputs (ld 2), 2 x k output (ld 2), two offsets.
    let status = unsafe {
        wlra_transform_with_offsets(
            handle,
            2,
            new_m.as_ptr(),
            new_m.col_stride() as usize,
            new_w.as_ptr(),
            new_w.col_stride() as usize,
            u.as_mut_ptr(),
            2,
            a.as_mut_ptr(),
            WLRA_COL_MAJOR,
        )
    };
    assert_eq!(status, WLRA_OK);
    assert_eq!(u, vec![0.0; 2 * k]);
    assert_eq!(a, vec![0.0; 2]);
    // The model's prediction for such a row is b_j: a + b + u . v.
    assert!(b.iter().all(|x| x.is_finite()) && largest(&b) > 0.1);
    // SAFETY: a live handle from c_model.
    unsafe { wlra_destroy(handle) };
}

#[test]
fn predict_and_get_offsets_refuse_bad_input_and_write_nothing() {
    let (n, m, k) = (30, 20, 2);
    let (data, mask, w) = observed_problem(n, m, 61);
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * w[(i, j)]);
    let handle = c_model(&data, &w, k);
    let (rows, cols) = ([0i64, 29, 5], [0i64, 19, 20]);
    let mut out = [7.0; 3];
    // SAFETY: three indices each, three outputs.
    let status = unsafe { wlra_predict(handle, 3, rows.as_ptr(), cols.as_ptr(), out.as_mut_ptr()) };
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT);
    assert_eq!(out, [7.0; 3]);
    let negative = [0i64, -1, 2];
    // SAFETY: as above.
    let status = unsafe {
        wlra_predict(
            handle,
            3,
            negative.as_ptr(),
            cols.as_ptr(),
            out.as_mut_ptr(),
        )
    };
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT);
    // SAFETY: as above; out NULL with count > 0.
    let status = unsafe {
        wlra_predict(
            handle,
            2,
            rows.as_ptr(),
            cols.as_ptr(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(status, WLRA_ERROR_NULL_POINTER);
    // Good indices: a_i + b_j + u_i . v_j, checked against the parts.
    let (good_rows, good_cols) = ([3i64, 29], [4i64, 19]);
    // SAFETY: two of each.
    let status = unsafe {
        wlra_predict(
            handle,
            2,
            good_rows.as_ptr(),
            good_cols.as_ptr(),
            out.as_mut_ptr(),
        )
    };
    assert_eq!(status, WLRA_OK);
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; m]);
    let (mut u, mut v) = (vec![0.0; n * k], vec![0.0; m * k]);
    // SAFETY: n and m doubles; n x k and m x k column-major.
    unsafe {
        assert_eq!(
            wlra_get_offsets(handle, a.as_mut_ptr(), b.as_mut_ptr()),
            WLRA_OK
        );
        let status = wlra::ffi::wlra_get_factors(
            handle,
            u.as_mut_ptr(),
            n,
            v.as_mut_ptr(),
            m,
            WLRA_COL_MAJOR,
        );
        assert_eq!(status, WLRA_OK);
    }
    for p in 0..2 {
        let (i, j) = (good_rows[p] as usize, good_cols[p] as usize);
        let dot: f64 = (0..k).map(|d| u[d * n + i] * v[d * m + j]).sum();
        let expected = a[i] + b[j] + dot;
        assert!((out[p] - expected).abs() <= 1e-14 * expected.abs().max(1.0));
    }
    // SAFETY: a live handle; the option value out of range.
    unsafe {
        assert_eq!(
            wlra_set_option(handle, WLRA_OPTION_OFFSETS, 4.0),
            WLRA_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            wlra_set_option(handle, WLRA_OPTION_OFFSETS, 1.5),
            WLRA_ERROR_INVALID_ARGUMENT
        );
        wlra_destroy(handle);
    }
    let mut unfitted: *mut wlra_model = std::ptr::null_mut();
    // SAFETY: a fresh model, nothing fitted.
    unsafe {
        assert_eq!(wlra_create(k, &mut unfitted), WLRA_OK);
        assert_eq!(
            wlra_get_offsets(unfitted, a.as_mut_ptr(), b.as_mut_ptr()),
            WLRA_ERROR_NOT_FITTED
        );
        wlra_destroy(unfitted);
    }
}

#[test]
fn varpro_with_offsets_runs_alternation_and_says_so() {
    let (n, m, k) = (30, 20, 2);
    let planted = planted_offsets(n, m, k, WLRA_OFFSETS_ROWS, 71);
    let options = [
        (WLRA_OPTION_OFFSETS, WLRA_OFFSETS_ROWS as f64),
        (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
    ];
    let mut fit = model(k, &options);
    fit.fit(DenseProblem::new(planted.truth.as_ref(), None))
        .unwrap();
    let used = fit.info(WLRA_INFO_METHOD_USED).unwrap();
    assert_eq!(used, WLRA_METHOD_ALTERNATING as f64);
}

#[test]
fn offsets_scale_with_m() {
    // M times a power of two, 2^-300 or 2^500: the fit is the same bits
    // scaled (offsets by c, the model by c). M times 1e150 rounds M itself,
    // so only the objective (times c^-2) is compared, to 1e-10.
    let (n, m, k) = (30, 25, 2);
    let (data, mask, w) = observed_problem(n, m, 81);
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * w[(i, j)]);
    let options = tight(
        WLRA_OFFSETS_BOTH,
        WLRA_METHOD_ACCELERATED,
        WLRA_SOLVER_EXACT,
    );
    let mut base = model(k, &options);
    base.fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
        .unwrap();
    let (a0, b0) = offsets_of(&base);
    let x0 = fitted_matrix(&base, n, m);
    let f0 = base.fitted().unwrap().objective;
    for c in [2f64.powi(-300), 2f64.powi(500), 1e150] {
        let scaled = Mat::from_fn(n, m, |i, j| c * data[(i, j)]);
        let mut fit = model(k, &options);
        fit.fit(DenseProblem::new(scaled.as_ref(), Some(w.as_ref())))
            .unwrap();
        let f = fit.fitted().unwrap().objective / c / c;
        assert!(
            (f - f0).abs() <= 1e-10 * f0,
            "c = {c:e}: objective {f} against {f0}"
        );
        if c == 1e150 {
            continue;
        }
        let (a, b) = offsets_of(&fit);
        let back = |x: &[f64]| x.iter().map(|v| v / c).collect::<Vec<_>>();
        assert_eq!(back(&a), a0, "c = {c:e}: row offsets");
        assert_eq!(back(&b), b0, "c = {c:e}: column offsets");
        let x = fitted_matrix(&fit, n, m);
        assert_eq!((&x * (1.0 / c) - &x0).norm_max(), 0.0, "c = {c:e}: model");
    }
}
