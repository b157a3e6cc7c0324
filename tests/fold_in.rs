//! Fold-in (issue 17, acceptance 4): `Model::transform` / `wlra_transform`
//! equal the fit's own U half-step, agree with normal equations solved here,
//! give 0 for rows with no positive weight, and refuse bad input with exact
//! statuses, leaving the output untouched.

mod common;

use common::{csr, factors, heteroscedastic, planted, Rng};
use faer::Mat;
use wlra::ffi::wlra_transform;
use wlra::ffi::{wlra_create, wlra_destroy, wlra_fit, wlra_model, wlra_set_option};
use wlra::problem::sparse::SparseProblem;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

fn model(k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model
}

fn max_relative_difference(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    (a - b).norm_max() / b.norm_max()
}

/// The fit's next U half-step from model `a`'s factors: one more exact
/// alternating iteration from them (ridge > 0, so the fixed V is used as
/// it is, not orthonormalized), read off the U it stores.
fn next_u_half_step(a: &Model, options: &[(i32, f64)], fit: impl FnOnce(&mut Model)) -> Mat<f64> {
    let (u, v) = factors(a);
    let mut next = model(a.rank(), options);
    next.set_option(WLRA_OPTION_INIT, WLRA_INIT_GIVEN as f64)
        .unwrap();
    next.set_option(WLRA_OPTION_MAX_ITERATIONS, 1.0).unwrap();
    next.set_start_factors(u.as_ref(), v.as_ref()).unwrap();
    fit(&mut next);
    factors(&next).0
}

fn exact_ridge_options() -> Vec<(i32, f64)> {
    vec![
        (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
        (WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT as f64),
        (WLRA_OPTION_RESTARTS, 0.0),
        (WLRA_OPTION_RIDGE, 0.05),
        (WLRA_OPTION_MAX_ITERATIONS, 5.0),
    ]
}

#[test]
fn fold_in_of_the_training_rows_equals_the_fits_next_half_step() {
    let (data, w) = heteroscedastic(60, 45, 3, 5);
    let options = exact_ridge_options();
    let mut a = model(3, &options);
    a.fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
        .unwrap();
    let folded = a.transform(data.as_ref(), Some(w.as_ref())).unwrap();
    let expected = next_u_half_step(&a, &options, |next| {
        next.fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
            .unwrap()
    });
    let difference = max_relative_difference(&folded, &expected);
    println!("dense: fold-in against the next half-step, max relative difference {difference:.2e}");
    assert!(difference < 1e-12, "{difference:e}");
}

#[test]
fn fold_in_of_csr_training_rows_equals_the_sparse_half_step() {
    // The dense fold-in and the sparse exact half-step are two
    // implementations of the same row solves.
    let (n, m, k) = (50, 40, 3);
    let p = planted(n, m, k, 8);
    let mut rng = Rng::new(9);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(0.05);
    let mask = Mat::from_fn(n, m, |_, _| f64::from(u8::from(rng.uniform() < 0.5)));
    let w_in = rng.uniform_mat(n, m, 0.5, 2.0);
    let (m_default, w_default) = (0.25, 0.1);
    let pattern = csr(&mask, &noisy, &w_in);
    let input = pattern.input(n, m, m_default, w_default);
    let sparse = SparseProblem::new(&input).unwrap();
    let options = exact_ridge_options();
    let mut a = model(k, &options);
    a.fit(sparse.view()).unwrap();
    let observed = |i: usize, j: usize| mask[(i, j)] != 0.0;
    let dense_m = Mat::from_fn(n, m, |i, j| {
        if observed(i, j) {
            noisy[(i, j)]
        } else {
            m_default
        }
    });
    let dense_w = Mat::from_fn(n, m, |i, j| {
        if observed(i, j) {
            w_in[(i, j)]
        } else {
            w_default
        }
    });
    let folded = a
        .transform(dense_m.as_ref(), Some(dense_w.as_ref()))
        .unwrap();
    let expected = next_u_half_step(&a, &options, |next| next.fit(sparse.view()).unwrap());
    let difference = max_relative_difference(&folded, &expected);
    println!("CSR: fold-in against the sparse half-step, max relative difference {difference:.2e}");
    assert!(difference < 1e-12, "{difference:e}");
}

/// Row r's weighted normal equations (V^T diag(w) V + ridge I) x = V^T (w o m),
/// solved here by Gaussian elimination with partial pivoting.
fn normal_equations_row(v: &Mat<f64>, m_row: &[f64], w_row: &[f64], ridge: f64) -> Vec<f64> {
    let k = v.ncols();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (j, (&mj, &wj)) in m_row.iter().zip(w_row).enumerate() {
        for p in 0..k {
            for q in 0..k {
                a[p][q] += wj * v[(j, p)] * v[(j, q)];
            }
            a[p][k] += wj * mj * v[(j, p)];
        }
    }
    for (p, row) in a.iter_mut().enumerate() {
        row[p] += ridge;
    }
    for c in 0..k {
        let pivot = (c..k)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, pivot);
        let pivot_row = a[c].clone();
        for row in a.iter_mut().skip(c + 1) {
            let f = row[c] / pivot_row[c];
            for (e, p) in row.iter_mut().zip(&pivot_row).skip(c) {
                *e -= f * p;
            }
        }
    }
    let mut x = vec![0.0; k];
    for c in (0..k).rev() {
        let tail: f64 = (c + 1..k).map(|q| a[c][q] * x[q]).sum();
        x[c] = (a[c][k] - tail) / a[c][c];
    }
    x
}

#[test]
fn fold_in_of_new_rows_solves_their_normal_equations() {
    let (n, m, k) = (80, 40, 4);
    let (data, w) = heteroscedastic(n, m, k, 21);
    let (train, new) = (0..60, 60..n);
    let train_m = data.subrows(train.start, train.len()).to_owned();
    let train_w = w.subrows(train.start, train.len()).to_owned();
    let new_m = data.subrows(new.start, new.len()).to_owned();
    let new_w = w.subrows(new.start, new.len()).to_owned();
    for ridge in [0.0, 0.3] {
        let mut a = model(k, &[(WLRA_OPTION_RIDGE, ridge)]);
        a.fit(DenseProblem::new(train_m.as_ref(), Some(train_w.as_ref())))
            .unwrap();
        let v = factors(&a).1;
        let folded = a.transform(new_m.as_ref(), Some(new_w.as_ref())).unwrap();
        let mut worst = 0.0f64;
        for r in 0..new.len() {
            let m_row: Vec<f64> = (0..m).map(|j| new_m[(r, j)]).collect();
            let w_row: Vec<f64> = (0..m).map(|j| new_w[(r, j)]).collect();
            let x = normal_equations_row(&v, &m_row, &w_row, ridge);
            let scale = x.iter().fold(0.0f64, |s, e| s.max(e.abs()));
            for (d, xd) in x.iter().enumerate() {
                worst = worst.max((folded[(r, d)] - xd).abs() / scale);
            }
        }
        println!(
            "ridge {ridge}: fold-in against normal equations, max relative difference {worst:.2e}"
        );
        assert!(worst < 1e-9, "ridge {ridge}: {worst:e}");
        // Unit weights (W_rows = None) take the shared-Gram path.
        let unit = a.transform(new_m.as_ref(), None).unwrap();
        let ones = Mat::from_fn(new.len(), m, |_, _| 1.0);
        let explicit = a.transform(new_m.as_ref(), Some(ones.as_ref())).unwrap();
        let difference = max_relative_difference(&unit, &explicit);
        assert!(difference < 1e-12, "unit weights: {difference:e}");
    }
}

#[test]
fn rows_with_no_positive_weight_fold_in_to_zero() {
    let (data, w) = heteroscedastic(40, 30, 3, 31);
    for ridge in [0.0, 0.1] {
        let mut a = model(3, &[(WLRA_OPTION_RIDGE, ridge)]);
        a.fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
            .unwrap();
        let rows = data.subrows(0, 5).to_owned();
        let mut weights = w.subrows(0, 5).to_owned();
        for j in 0..30 {
            weights[(1, j)] = 0.0;
            weights[(3, j)] = 0.0;
        }
        let folded = a.transform(rows.as_ref(), Some(weights.as_ref())).unwrap();
        for r in 0..5 {
            let row_max = (0..3).fold(0.0f64, |s, d| s.max(folded[(r, d)].abs()));
            assert!(folded.row(r).iter().all(|x| x.is_finite()));
            if r == 1 || r == 3 {
                assert_eq!(
                    row_max, 0.0,
                    "ridge {ridge}: an unobserved row got {row_max}"
                );
            } else {
                assert!(row_max > 0.0);
            }
        }
    }
}

/// A fitted model behind the C handle, with the data it was fitted on.
struct Fitted {
    handle: *mut wlra_model,
    data: Mat<f64>,
}

impl Drop for Fitted {
    fn drop(&mut self) {
        // SAFETY: a live handle from wlra_create, dropped once.
        unsafe { wlra_destroy(self.handle) };
    }
}

fn fitted_handle(fit: bool) -> Fitted {
    let (n, m) = (20, 12);
    let data = planted(n, m, 2, 41).truth;
    let mut handle = std::ptr::null_mut();
    let ld = data.col_stride() as usize;
    // SAFETY: valid out-pointer; the data is n x m column-major with ld.
    unsafe {
        assert_eq!(wlra_create(2, &mut handle), WLRA_OK);
        assert_eq!(wlra_set_option(handle, WLRA_OPTION_RIDGE, 0.01), WLRA_OK);
        if fit {
            let status = wlra_fit(
                handle,
                n,
                m,
                data.as_ptr(),
                ld,
                std::ptr::null(),
                0,
                WLRA_COL_MAJOR,
            );
            assert_eq!(status, WLRA_OK);
        }
    }
    Fitted { handle, data }
}

/// wlra_transform on the first `rows` rows of the fitted data (row-major
/// copies, ld = n_cols), with `w` the weights (None: NULL); returns the
/// status and u_out (pre-filled with 7.0).
fn transform(
    fitted: &Fitted,
    rows: usize,
    m_rows: &[f64],
    w: Option<&[f64]>,
    ld: usize,
) -> (i32, Vec<f64>) {
    let mut out = vec![7.0; rows * 2];
    let w_ptr = w.map_or(std::ptr::null(), |w| w.as_ptr());
    // SAFETY: the buffers hold rows x ld (inputs) and rows x 2 (output).
    let status = unsafe {
        wlra_transform(
            fitted.handle,
            rows,
            m_rows.as_ptr(),
            ld,
            w_ptr,
            ld,
            out.as_mut_ptr(),
            2,
            WLRA_ROW_MAJOR,
        )
    };
    (status, out)
}

#[test]
fn wlra_transform_matches_the_rust_api_and_refuses_bad_input() {
    let fitted = fitted_handle(true);
    let m = fitted.data.ncols();
    let rows: Vec<f64> = (0..3)
        .flat_map(|i| (0..m).map(move |j| (i, j)))
        .map(|(i, j)| fitted.data[(i, j)])
        .collect();
    let (status, out) = transform(&fitted, 3, &rows, None, m);
    assert_eq!(status, WLRA_OK);
    // Planted exact rank 2, small ridge: the folded rows predict the data.
    let mut v = vec![0.0; m * 2];
    // SAFETY: v holds m x 2 row-major.
    let status = unsafe {
        wlra::ffi::wlra_get_factors(
            fitted.handle,
            std::ptr::null_mut(),
            0,
            v.as_mut_ptr(),
            2,
            WLRA_ROW_MAJOR,
        )
    };
    assert_eq!(status, WLRA_OK);
    for i in 0..3 {
        for j in 0..m {
            let predicted = out[2 * i] * v[2 * j] + out[2 * i + 1] * v[2 * j + 1];
            assert!(
                (predicted - fitted.data[(i, j)]).abs() < 1e-2 * fitted.data.norm_max(),
                "{i} {j}: {predicted} vs {}",
                fitted.data[(i, j)]
            );
        }
    }

    let untouched = |out: &[f64]| out.iter().all(|&x| x == 7.0);
    let mut nan_rows = rows.clone();
    nan_rows[5] = f64::NAN;
    let (status, out) = transform(&fitted, 3, &nan_rows, None, m);
    assert_eq!(status, WLRA_ERROR_NON_FINITE_INPUT);
    assert!(untouched(&out));
    let mut weights = vec![1.0; 3 * m];
    weights[4] = -1.0;
    let (status, out) = transform(&fitted, 3, &rows, Some(&weights), m);
    assert_eq!(status, WLRA_ERROR_NEGATIVE_WEIGHT);
    assert!(untouched(&out));
    let (status, out) = transform(&fitted, 3, &rows, None, m - 1);
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT, "ld below n_cols");
    assert!(untouched(&out));
    let (status, _) = transform(&fitted, 0, &rows, None, m);
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT, "no rows");
    // SAFETY: NULL pointers are what is being tested.
    let status = unsafe {
        wlra_transform(
            fitted.handle,
            1,
            std::ptr::null(),
            m,
            std::ptr::null(),
            0,
            [0.0; 2].as_mut_ptr(),
            2,
            WLRA_ROW_MAJOR,
        )
    };
    assert_eq!(status, WLRA_ERROR_NULL_POINTER);
    // SAFETY: as above.
    let status = unsafe {
        wlra_transform(
            fitted.handle,
            1,
            rows.as_ptr(),
            m,
            std::ptr::null(),
            0,
            rows.as_ptr() as *mut f64,
            2,
            7,
        )
    };
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT, "layout 7");

    let unfitted = fitted_handle(false);
    let (status, out) = transform(&unfitted, 3, &rows, None, m);
    assert_eq!(status, WLRA_ERROR_NOT_FITTED);
    assert!(untouched(&out));
}
