//! `wlra_set_fitted` (issue 28, acceptance 1): a fit's factors and offsets,
//! read out and loaded into a fresh model, give that fit's own fold-in,
//! predictions and getters; the information items say no fit ran; bad
//! input gets its status and changes nothing.

mod common;

use common::{heteroscedastic, Rng};
use faer::Mat;
use std::ffi::{c_void, CStr};
use wlra::ffi::*;
use wlra::vocabulary::*;

/// A model handle, destroyed on drop.
struct Handle(*mut wlra_model);

impl Handle {
    fn new(rank: usize, options: &[(i32, f64)]) -> Handle {
        let mut model = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        assert_eq!(unsafe { wlra_create(rank, &mut model) }, WLRA_OK);
        for &(option, value) in options {
            // SAFETY: a live handle.
            assert_eq!(unsafe { wlra_set_option(model, option, value) }, WLRA_OK);
        }
        Handle(model)
    }

    fn error(&self) -> String {
        // SAFETY: a live handle; the text is valid until the next call.
        unsafe { CStr::from_ptr(wlra_last_error(self.0)) }
            .to_string_lossy()
            .into_owned()
    }

    /// Fit row-major M and W (n x m).
    fn fit(&self, data: &[f64], weights: &[f64], n: usize, m: usize) {
        let (d, w) = (data.as_ptr(), weights.as_ptr());
        // SAFETY: n x m row-major matrices with ld = m.
        let status = unsafe { wlra_fit(self.0, n, m, d, m, w, m, WLRA_ROW_MAJOR) };
        assert_eq!(status, WLRA_OK, "{}", self.error());
    }

    /// U (n x k) and V (m x k), row-major, and the offsets a (n), b (m).
    fn read(&self, n: usize, m: usize, k: usize) -> Saved {
        let mut s = Saved {
            u: vec![0.0; n * k],
            v: vec![0.0; m * k],
            a: vec![0.0; n],
            b: vec![0.0; m],
        };
        let (u, v) = (s.u.as_mut_ptr(), s.v.as_mut_ptr());
        // SAFETY: buffers of the sizes the model's shapes need.
        unsafe {
            assert_eq!(
                wlra_get_factors(self.0, u, k, v, k, WLRA_ROW_MAJOR),
                WLRA_OK
            );
            let (a, b) = (s.a.as_mut_ptr(), s.b.as_mut_ptr());
            assert_eq!(wlra_get_offsets(self.0, a, b), WLRA_OK);
        }
        s
    }

    /// Load `s` with the offsets `which` says, row-major.
    fn load(&self, s: &Saved, k: usize, which: Offsets) -> wlra_status {
        let (n, m) = (s.a.len(), s.b.len());
        let a = if which.rows {
            s.a.as_ptr()
        } else {
            std::ptr::null()
        };
        let b = if which.cols {
            s.b.as_ptr()
        } else {
            std::ptr::null()
        };
        let (u, v) = (s.u.as_ptr(), s.v.as_ptr());
        // SAFETY: buffers of the sizes described.
        unsafe { wlra_set_fitted(self.0, n, m, u, k, v, k, a, b, WLRA_ROW_MAJOR) }
    }

    /// wlra_transform_with_offsets of row-major rows: (U_new, a_new).
    fn fold_in(&self, rows: &[f64], weights: &[f64], m: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
        let n_new = rows.len() / m;
        let (mut u, mut a) = (vec![0.0; n_new * k], vec![0.0; n_new]);
        let (r, w) = (rows.as_ptr(), weights.as_ptr());
        // SAFETY: n_new x m inputs with ld = m, outputs n_new x k and n_new.
        let status = unsafe {
            let (u, a) = (u.as_mut_ptr(), a.as_mut_ptr());
            wlra_transform_with_offsets(self.0, n_new, r, m, w, m, u, k, a, WLRA_ROW_MAJOR)
        };
        assert_eq!(status, WLRA_OK, "{}", self.error());
        (u, a)
    }

    /// wlra_predict at every (i, j) of an n x m model, row by row.
    fn predict_all(&self, n: usize, m: usize) -> Vec<f64> {
        let rows: Vec<i64> = (0..n * m).map(|p| (p / m) as i64).collect();
        let cols: Vec<i64> = (0..n * m).map(|p| (p % m) as i64).collect();
        let mut out = vec![0.0; n * m];
        // SAFETY: n m indices in and out.
        let status = unsafe {
            wlra_predict(
                self.0,
                n * m,
                rows.as_ptr(),
                cols.as_ptr(),
                out.as_mut_ptr(),
            )
        };
        assert_eq!(status, WLRA_OK, "{}", self.error());
        out
    }

    fn info(&self, item: i32) -> Result<f64, wlra_status> {
        let mut value = f64::NAN;
        // SAFETY: a live handle and one writable double.
        match unsafe { wlra_get_info(self.0, item, &mut value) } {
            WLRA_OK => Ok(value),
            status => Err(status),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by wlra_create, destroyed once.
        unsafe { wlra_destroy(self.0) };
    }
}

/// What a binding saves of a fit.
#[derive(Clone, PartialEq, Debug)]
struct Saved {
    u: Vec<f64>,
    v: Vec<f64>,
    a: Vec<f64>,
    b: Vec<f64>,
}

#[derive(Clone, Copy, Debug)]
struct Offsets {
    rows: bool,
    cols: bool,
}

const EVERY_OFFSETS: [(i32, Offsets); 4] = [
    (
        WLRA_OFFSETS_NONE,
        Offsets {
            rows: false,
            cols: false,
        },
    ),
    (
        WLRA_OFFSETS_ROWS,
        Offsets {
            rows: true,
            cols: false,
        },
    ),
    (
        WLRA_OFFSETS_COLUMNS,
        Offsets {
            rows: false,
            cols: true,
        },
    ),
    (
        WLRA_OFFSETS_BOTH,
        Offsets {
            rows: true,
            cols: true,
        },
    ),
];

fn row_major(x: &Mat<f64>) -> Vec<f64> {
    (0..x.nrows())
        .flat_map(|i| (0..x.ncols()).map(move |j| x[(i, j)]))
        .collect()
}

/// Largest |x - y| over the largest |y|.
fn relative_difference(x: &[f64], y: &[f64]) -> f64 {
    let scale = y
        .iter()
        .fold(0.0f64, |t, e| t.max(e.abs()))
        .max(f64::MIN_POSITIVE);
    let diff = x
        .iter()
        .zip(y)
        .fold(0.0f64, |t, (a, b)| t.max((a - b).abs()));
    diff / scale
}

/// New rows for fold-in: data near the fit's, weights with one row of
/// zeros (its fold-in is the column offsets alone).
fn new_rows(m: usize, times: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let (data, w) = heteroscedastic(6, m, 2, seed);
    let mut weights = row_major(&w);
    weights[..m].fill(0.0);
    let data: Vec<f64> = row_major(&data).iter().map(|x| x * times).collect();
    (data, weights)
}

/// Fit with `offsets` and `ridge`, load the fit into a fresh model with
/// the same ridge, and compare: getters bit for bit, fold-in and
/// predictions to 1e-12 relative. Returns the largest difference.
fn reload_and_compare(offsets: (i32, Offsets), ridge: f64, times: f64) -> f64 {
    let (n, m, k) = (40, 30, 3);
    let (data, w) = heteroscedastic(n, m, k, 17);
    let data: Vec<f64> = row_major(&data)
        .iter()
        .map(|x| x * times + 0.5 * times)
        .collect();
    let ridge_options = [(WLRA_OPTION_RIDGE, ridge)];
    let mut options = vec![(WLRA_OPTION_OFFSETS, f64::from(offsets.0))];
    options.extend(ridge_options);
    let fitted = Handle::new(k, &options);
    fitted.fit(&data, &row_major(&w), n, m);
    let saved = fitted.read(n, m, k);

    let loaded = Handle::new(k, &ridge_options);
    assert_eq!(
        loaded.load(&saved, k, offsets.1),
        WLRA_OK,
        "{}",
        loaded.error()
    );
    assert_eq!(loaded.read(n, m, k), saved, "getters after the load");

    let (rows, weights) = new_rows(m, times, 99);
    let (u_fit, a_fit) = fitted.fold_in(&rows, &weights, m, k);
    let (u_new, a_new) = loaded.fold_in(&rows, &weights, m, k);
    let predicted = relative_difference(&loaded.predict_all(n, m), &fitted.predict_all(n, m));
    let worst = relative_difference(&u_new, &u_fit)
        .max(relative_difference(&a_new, &a_fit))
        .max(predicted);
    println!(
        "offsets {:?}, ridge {ridge}, M x {times:e}: {worst:.1e}",
        offsets.1
    );
    assert!(worst <= 1e-12, "{:?} ridge {ridge}: {worst:e}", offsets.1);
    worst
}

#[test]
fn loaded_fit_folds_in_and_predicts_as_the_fit_itself() {
    for offsets in EVERY_OFFSETS {
        for ridge in [0.0, 0.05] {
            reload_and_compare(offsets, ridge, 1.0);
        }
    }
}

#[test]
fn loaded_fit_of_extreme_data_folds_in_as_the_fit_itself() {
    // Outside 2^+-32 the fit and fold-in run in scaled units; the loaded
    // model finds them from its factors.
    for times in [1e-150, 1e150] {
        for offsets in [EVERY_OFFSETS[0], EVERY_OFFSETS[3]] {
            reload_and_compare(offsets, 0.0, times);
        }
    }
}

#[test]
fn column_major_load_equals_row_major() {
    let (n, m, k) = (12, 9, 2);
    let mut rng = Rng::new(5);
    let (u, v) = (rng.normal_mat(n, k), rng.normal_mat(m, k));
    let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let column_major = |x: &Mat<f64>| -> Vec<f64> {
        (0..x.ncols())
            .flat_map(|j| (0..x.nrows()).map(move |i| x[(i, j)]))
            .collect()
    };
    let loaded = Handle::new(k, &[]);
    let (cu, cv) = (column_major(&u), column_major(&v));
    // SAFETY: column-major n x k and m x k with ld = n and m; a has n.
    let status = unsafe {
        let (pu, pv) = (cu.as_ptr(), cv.as_ptr());
        wlra_set_fitted(
            loaded.0,
            n,
            m,
            pu,
            n,
            pv,
            m,
            a.as_ptr(),
            std::ptr::null(),
            WLRA_COL_MAJOR,
        )
    };
    assert_eq!(status, WLRA_OK, "{}", loaded.error());
    let saved = loaded.read(n, m, k);
    assert_eq!(saved.u, row_major(&u));
    assert_eq!(saved.v, row_major(&v));
    assert_eq!(saved.a, a);
    assert_eq!(saved.b, vec![0.0; m], "no column offsets: zeros");
}

#[test]
fn loaded_fit_reports_no_iterations_and_no_objective() {
    let (n, m, k) = (8, 6, 2);
    let saved = Saved {
        u: vec![0.5; n * k],
        v: vec![0.25; m * k],
        a: vec![1.0; n],
        b: vec![0.0; m],
    };
    let loaded = Handle::new(k, &[]);
    assert_eq!(
        loaded.info(WLRA_INFO_ITERATIONS),
        Err(WLRA_ERROR_NOT_FITTED)
    );
    let offsets = Offsets {
        rows: true,
        cols: false,
    };
    assert_eq!(loaded.load(&saved, k, offsets), WLRA_OK);
    for item in [
        WLRA_INFO_ITERATIONS,
        WLRA_INFO_CONVERGED,
        WLRA_INFO_ELAPSED_SECONDS,
        WLRA_INFO_INNER_ITERATIONS,
        WLRA_INFO_STARTS,
        WLRA_INFO_STARTS_AT_BEST,
    ] {
        assert_eq!(loaded.info(item), Ok(0.0), "item {item}");
    }
    for item in [
        WLRA_INFO_OBJECTIVE,
        WLRA_INFO_METHOD_USED,
        WLRA_INFO_SOLVER_USED,
    ] {
        assert_eq!(loaded.info(item), Err(WLRA_ERROR_INVALID_ARGUMENT));
        assert!(
            loaded.error().contains("wlra_set_fitted"),
            "{}",
            loaded.error()
        );
    }
    assert_eq!(
        loaded.info(WLRA_INFO_HELD_OUT_RMSE),
        Err(WLRA_ERROR_INVALID_ARGUMENT)
    );
}

#[test]
fn warm_start_continues_from_a_loaded_fit() {
    let (n, m, k) = (20, 15, 2);
    let (data, w) = heteroscedastic(n, m, k, 3);
    let (data, w) = (row_major(&data), row_major(&w));
    let fitted = Handle::new(k, &[]);
    fitted.fit(&data, &w, n, m);
    let saved = fitted.read(n, m, k);
    let warm = [
        (WLRA_OPTION_INIT, f64::from(WLRA_INIT_WARM)),
        (WLRA_OPTION_MAX_ITERATIONS, 0.0),
    ];
    let loaded = Handle::new(k, &warm);
    let none = Offsets {
        rows: false,
        cols: false,
    };
    assert_eq!(loaded.load(&saved, k, none), WLRA_OK);
    loaded.fit(&data, &w, n, m);
    // max_iterations = 0 returns the start: the loaded factors.
    assert_eq!(loaded.read(n, m, k).u, saved.u);
    assert_eq!(loaded.info(WLRA_INFO_ITERATIONS), Ok(0.0));
    assert!(loaded.info(WLRA_INFO_OBJECTIVE).is_ok(), "a fit ran");
}

/// One call of the library, to run and check.
type Call<'a> = Box<dyn Fn() -> wlra_status + 'a>;

#[test]
fn bad_loads_get_their_status_and_change_nothing() {
    let (n, m, k) = (8, 6, 2);
    let mut rng = Rng::new(11);
    let good = Saved {
        u: row_major(&rng.normal_mat(n, k)),
        v: row_major(&rng.normal_mat(m, k)),
        a: vec![0.0; n],
        b: (0..m).map(|j| j as f64).collect(),
    };
    let model = Handle::new(k, &[]);
    let cols = Offsets {
        rows: false,
        cols: true,
    };
    assert_eq!(model.load(&good, k, cols), WLRA_OK);
    let before = model.read(n, m, k);
    let null = std::ptr::null::<f64>();
    let (u, v, b) = (good.u.as_ptr(), good.v.as_ptr(), good.b.as_ptr());
    let mut nan_v = good.v.clone();
    nan_v[3] = f64::NAN;
    let mut inf_a = good.a.clone();
    inf_a[5] = f64::INFINITY;
    let (nv, ia) = (nan_v.as_ptr(), inf_a.as_ptr());
    let cases: Vec<(&str, wlra_status, Call)> = vec![
        // SAFETY (every case): buffers at least as large as described.
        (
            "u NULL",
            WLRA_ERROR_NULL_POINTER,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, n, m, null, k, v, k, null, b, WLRA_ROW_MAJOR)
            }),
        ),
        (
            "v NULL",
            WLRA_ERROR_NULL_POINTER,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, n, m, u, k, null, k, null, b, WLRA_ROW_MAJOR)
            }),
        ),
        (
            "ld_u < rank",
            WLRA_ERROR_INVALID_ARGUMENT,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, n, m, u, k - 1, v, k, null, b, WLRA_ROW_MAJOR)
            }),
        ),
        (
            "ld_v < n_cols, column-major",
            WLRA_ERROR_INVALID_ARGUMENT,
            Box::new(|| unsafe {
                wlra_set_fitted(
                    model.0,
                    n / 2,
                    m / 2,
                    u,
                    n / 2,
                    v,
                    1,
                    null,
                    b,
                    WLRA_COL_MAJOR,
                )
            }),
        ),
        (
            "n_cols < rank",
            WLRA_ERROR_INVALID_ARGUMENT,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, n, 1, u, k, v, k, null, null, WLRA_ROW_MAJOR)
            }),
        ),
        (
            "n_rows = 0",
            WLRA_ERROR_INVALID_ARGUMENT,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, 0, m, u, k, v, k, null, b, WLRA_ROW_MAJOR)
            }),
        ),
        (
            "layout",
            WLRA_ERROR_INVALID_ARGUMENT,
            Box::new(|| unsafe { wlra_set_fitted(model.0, n, m, u, k, v, k, null, b, 7) }),
        ),
        (
            "NaN in V",
            WLRA_ERROR_NON_FINITE_INPUT,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, n, m, u, k, nv, k, null, b, WLRA_ROW_MAJOR)
            }),
        ),
        (
            "inf in a",
            WLRA_ERROR_NON_FINITE_INPUT,
            Box::new(|| unsafe {
                wlra_set_fitted(model.0, n, m, u, k, v, k, ia, null, WLRA_ROW_MAJOR)
            }),
        ),
    ];
    for (what, expected, call) in cases {
        assert_eq!(call(), expected, "{what}: {}", model.error());
        assert_eq!(model.read(n, m, k), before, "{what} changed the model");
    }
    assert!(
        model.error().contains("a[5] = inf is not finite") || model.error().contains("a[5, 0]")
    );
    // SAFETY: a NULL model is reported, not dereferenced.
    let status = unsafe {
        wlra_set_fitted(
            std::ptr::null_mut(),
            n,
            m,
            u,
            k,
            v,
            k,
            null,
            b,
            WLRA_ROW_MAJOR,
        )
    };
    assert_eq!(status, WLRA_ERROR_NULL_POINTER);
}

/// The progress callback loads into the model that is fitting.
unsafe extern "C" fn load_while_fitting(user: *mut c_void, _: usize, _: f64) -> i32 {
    // SAFETY: `user` is the model's (u, v, status) record below.
    let record = unsafe { &mut *(user as *mut (*mut wlra_model, Vec<f64>, Vec<f64>, i32)) };
    let (model, u, v) = (record.0, record.1.as_ptr(), record.2.as_ptr());
    let null = std::ptr::null();
    // SAFETY: buffers of 10 x 2 and 8 x 2.
    record.3 = unsafe { wlra_set_fitted(model, 10, 8, u, 2, v, 2, null, null, WLRA_ROW_MAJOR) };
    0
}

#[test]
fn loading_into_a_model_that_is_fitting_is_busy() {
    let (n, m, k) = (10, 8, 2);
    let (data, w) = heteroscedastic(n, m, k, 7);
    let model = Handle::new(k, &[(WLRA_OPTION_MAX_ITERATIONS, 2.0)]);
    let mut record = (model.0, vec![1.0; n * k], vec![1.0; m * k], WLRA_OK);
    let user = &mut record as *mut _ as *mut c_void;
    // SAFETY: a live handle; the record outlives the fit.
    let status = unsafe { wlra_set_progress(model.0, Some(load_while_fitting), user) };
    assert_eq!(status, WLRA_OK);
    let (data, w) = (row_major(&data), row_major(&w));
    // SAFETY: n x m row-major matrices with ld = m.
    let fit = unsafe {
        let (d, w) = (data.as_ptr(), w.as_ptr());
        wlra_fit(model.0, n, m, d, m, w, m, WLRA_ROW_MAJOR)
    };
    assert!(
        fit == WLRA_OK || fit == WLRA_ERROR_CANCELLED,
        "{}",
        model.error()
    );
    assert_eq!(record.3, WLRA_ERROR_BUSY);
    assert_ne!(
        model.read(n, m, k).u,
        vec![1.0; n * k],
        "the fit's factors stay"
    );
}
