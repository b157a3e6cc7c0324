//! WLRA_OPTION_MISSING_NAN (issue 28, added in 1.4): NaN in M as a missing
//! entry of weight 0, with no copy of M or W. A fit with NaNs and the option
//! is bit for bit the fit with 0 in M and weight 0 there (every read of the
//! missing entry gives weight 0 and value 0, and the exact solver runs in
//! both: the products, sums and their order are the same), for W = NULL and
//! W given, both layouts, dense and CSR; without the option NaN stays
//! WLRA_ERROR_NON_FINITE_INPUT.

mod common;

use common::{planted, Rng};
use std::ffi::CStr;
use wlra::ffi::*;
use wlra::vocabulary::*;

/// A model handle, destroyed on drop.
struct Handle(*mut wlra_model);

impl Handle {
    fn new(k: usize, missing: bool, method: i32) -> Handle {
        let mut model = std::ptr::null_mut();
        // SAFETY: a valid out pointer; then a live handle.
        unsafe {
            assert_eq!(wlra_create(k, &mut model), WLRA_OK);
            let options = [
                (WLRA_OPTION_MISSING_NAN, f64::from(u8::from(missing))),
                (WLRA_OPTION_SOLVER, f64::from(WLRA_SOLVER_EXACT)),
                (WLRA_OPTION_METHOD, f64::from(method)),
                (WLRA_OPTION_MAX_ITERATIONS, 30.0),
            ];
            for (option, value) in options {
                assert_eq!(wlra_set_option(model, option, value), WLRA_OK);
            }
        }
        Handle(model)
    }

    fn error(&self) -> String {
        // SAFETY: a live handle; the text is valid until the next call.
        unsafe { CStr::from_ptr(wlra_last_error(self.0)) }
            .to_string_lossy()
            .into_owned()
    }

    /// Fit n x m M and W (None: NULL) stored in `layout` with ld = the
    /// leading size + 1; the status.
    fn fit(&self, m: &Dense, w: Option<&Dense>, layout: i32) -> wlra_status {
        let (ms, ld) = m.stored(layout);
        let ws = w.map(|w| w.stored(layout).0);
        let wp = ws.as_ref().map_or(std::ptr::null(), |w| w.as_ptr());
        // SAFETY: matrices of the shape and ld described.
        unsafe { wlra_fit(self.0, m.n, m.m, ms.as_ptr(), ld, wp, ld, layout) }
    }

    /// U and V, row-major, with the objective.
    fn result(&self, n: usize, m: usize, k: usize) -> (Vec<f64>, Vec<f64>, f64) {
        let (mut u, mut v, mut f) = (vec![0.0; n * k], vec![0.0; m * k], 0.0);
        // SAFETY: buffers of the sizes described.
        unsafe {
            let (pu, pv) = (u.as_mut_ptr(), v.as_mut_ptr());
            assert_eq!(
                wlra_get_factors(self.0, pu, k, pv, k, WLRA_ROW_MAJOR),
                WLRA_OK
            );
            assert_eq!(wlra_get_info(self.0, WLRA_INFO_OBJECTIVE, &mut f), WLRA_OK);
        }
        (u, v, f)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by wlra_create, destroyed once.
        unsafe { wlra_destroy(self.0) }
    }
}

/// An n x m matrix, row-major in `a`.
#[derive(Clone)]
struct Dense {
    n: usize,
    m: usize,
    a: Vec<f64>,
}

impl Dense {
    /// Stored in `layout` with one padding entry per row or column.
    fn stored(&self, layout: i32) -> (Vec<f64>, usize) {
        let (n, m) = (self.n, self.m);
        if layout == WLRA_ROW_MAJOR {
            let ld = m + 1;
            let mut s = vec![f64::NAN; n * ld]; // padding is never read
            (0..n).for_each(|i| (0..m).for_each(|j| s[i * ld + j] = self.a[i * m + j]));
            (s, ld)
        } else {
            let ld = n + 1;
            let mut s = vec![f64::NAN; m * ld];
            (0..n).for_each(|i| (0..m).for_each(|j| s[j * ld + i] = self.a[i * m + j]));
            (s, ld)
        }
    }
}

/// A planted rank-3 completion problem: M with NaN at about 30 % of the
/// entries (and in all of row 2 and column 5), weights in [0.5, 2].
fn problem(seed: u64) -> (Dense, Dense, Vec<bool>) {
    let (n, m) = (40, 30);
    let truth = planted(n, m, 3, seed).truth;
    let mut rng = Rng::new(seed + 7);
    let missing: Vec<bool> = (0..n * m)
        .map(|p| rng.uniform() < 0.3 || p / m == 2 || p % m == 5)
        .collect();
    let a = (0..n * m)
        .map(|p| {
            if missing[p] {
                f64::NAN
            } else {
                truth[(p / m, p % m)]
            }
        })
        .collect();
    let w = (0..n * m).map(|_| rng.between(0.5, 2.0)).collect();
    (Dense { n, m, a }, Dense { n, m, a: w }, missing)
}

/// M with 0 and W with 0 (W = None: 1 elsewhere) where `missing`.
fn zeroed(m: &Dense, w: Option<&Dense>, missing: &[bool]) -> (Dense, Dense) {
    let mut mz = m.clone();
    let mut wz = Dense {
        a: w.map_or(vec![1.0; m.n * m.m], |w| w.a.clone()),
        ..m.clone()
    };
    for (p, &gone) in missing.iter().enumerate() {
        if gone {
            (mz.a[p], wz.a[p]) = (0.0, 0.0);
        }
    }
    (mz, wz)
}

fn assert_same_bits(a: &(Vec<f64>, Vec<f64>, f64), b: &(Vec<f64>, Vec<f64>, f64), what: &str) {
    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert!(
        a.0.iter().chain(&a.1).all(|x| x.is_finite()),
        "{what}: factors not finite"
    );
    assert_eq!(bits(&a.0), bits(&b.0), "{what}: U differs");
    assert_eq!(bits(&a.1), bits(&b.1), "{what}: V differs");
    assert_eq!(a.2.to_bits(), b.2.to_bits(), "{what}: objective differs");
}

#[test]
fn nan_with_the_option_is_weight_zero_bit_for_bit() {
    let (k, (m, w, missing)) = (3, problem(1));
    for method in [WLRA_METHOD_ALTERNATING, WLRA_METHOD_AUTO] {
        for layout in [WLRA_ROW_MAJOR, WLRA_COL_MAJOR] {
            for given in [None, Some(&w)] {
                let what = format!(
                    "method {method}, layout {layout}, W given: {}",
                    given.is_some()
                );
                let with_nan = Handle::new(k, true, method);
                assert_eq!(
                    with_nan.fit(&m, given, layout),
                    WLRA_OK,
                    "{}",
                    with_nan.error()
                );
                let (mz, wz) = zeroed(&m, given, &missing);
                let reference = Handle::new(k, false, method);
                assert_eq!(reference.fit(&mz, Some(&wz), layout), WLRA_OK);
                let (a, b) = (with_nan.result(m.n, m.m, k), reference.result(m.n, m.m, k));
                assert_same_bits(&a, &b, &what);
                // Row 2 and column 5 are all NaN: zero factor rows, as an
                // all-zero-weight row gets.
                assert!((0..k).all(|d| a.0[2 * k + d] == 0.0 && a.1[5 * k + d] == 0.0));
            }
        }
    }
}

#[test]
fn nan_where_w_is_positive_is_missing_and_w_there_is_never_read_into_the_fit() {
    let (k, (m, w, missing)) = (3, problem(2));
    // W > 0 at every NaN of M (problem's weights are in [0.5, 2]); a fit
    // with other weights at the missing entries gives the same bits.
    let mut other = w.clone();
    missing
        .iter()
        .enumerate()
        .filter(|(_, &g)| g)
        .for_each(|(p, _)| other.a[p] = 1e6);
    let a = Handle::new(k, true, WLRA_METHOD_ALTERNATING);
    let b = Handle::new(k, true, WLRA_METHOD_ALTERNATING);
    assert_eq!(a.fit(&m, Some(&w), WLRA_COL_MAJOR), WLRA_OK);
    assert_eq!(b.fit(&m, Some(&other), WLRA_COL_MAJOR), WLRA_OK);
    assert_same_bits(
        &a.result(m.n, m.m, k),
        &b.result(m.n, m.m, k),
        "weights at NaN",
    );
}

#[test]
fn without_the_option_nan_is_still_an_error_and_inf_and_nan_weights_always_are() {
    let (k, (m, w, _)) = (3, problem(3));
    let off = Handle::new(k, false, WLRA_METHOD_AUTO);
    assert_eq!(
        off.fit(&m, Some(&w), WLRA_ROW_MAJOR),
        WLRA_ERROR_NON_FINITE_INPUT
    );
    assert!(
        off.error().starts_with("M[0, ") && off.error().ends_with("] = NaN is not finite"),
        "{}",
        off.error()
    );
    let on = Handle::new(k, true, WLRA_METHOD_AUTO);
    let mut inf = m.clone();
    inf.a[7] = f64::INFINITY;
    assert_eq!(
        on.fit(&inf, None, WLRA_ROW_MAJOR),
        WLRA_ERROR_NON_FINITE_INPUT
    );
    assert!(on.error().starts_with("M[0, 7] = ") && on.error().ends_with("is not finite"));
    let mut bad_w = w.clone();
    bad_w.a[8] = f64::NAN;
    assert_eq!(
        on.fit(&m, Some(&bad_w), WLRA_ROW_MAJOR),
        WLRA_ERROR_NON_FINITE_INPUT
    );
    assert_eq!(
        on.error(),
        "W[0, 8] = NaN is not finite (NaN means missing in M only; give weight 0 instead)"
    );
    // A refused fit leaves the model unfitted; the option reads back.
    let mut value = 0.0;
    // SAFETY: a live handle and a writable double.
    unsafe {
        assert_eq!(
            wlra_get_option(on.0, WLRA_OPTION_MISSING_NAN, &mut value),
            WLRA_OK
        );
        assert_eq!(
            wlra_set_option(on.0, WLRA_OPTION_MISSING_NAN, 2.0),
            WLRA_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            wlra_get_info(on.0, WLRA_INFO_ITERATIONS, &mut 0.0),
            WLRA_ERROR_NOT_FITTED
        );
    }
    assert_eq!(value, 1.0);
}

/// CSR of the dense problem's observed and NaN entries (every entry stored).
fn csr(m: &Dense, w: &Dense) -> (Vec<i64>, Vec<i64>, Vec<f64>, Vec<f64>) {
    let row_ptr = (0..=m.n).map(|i| (i * m.m) as i64).collect();
    let col_idx = (0..m.n * m.m).map(|p| (p % m.m) as i64).collect();
    (row_ptr, col_idx, m.a.clone(), w.a.clone())
}

#[test]
fn csr_nan_values_with_the_option_are_weight_zero_bit_for_bit() {
    let (k, (m, w, missing)) = (3, problem(4));
    let fit_csr = |h: &Handle, m: &Dense, w: &Dense| {
        let (rp, ci, mv, wv) = csr(m, w);
        // SAFETY: CSR arrays of the sizes row_ptr says.
        unsafe {
            let (p, c) = (rp.as_ptr(), ci.as_ptr());
            wlra_fit_csr(h.0, m.n, m.m, p, c, mv.as_ptr(), wv.as_ptr(), 0.0, 0.0)
        }
    };
    let off = Handle::new(k, false, WLRA_METHOD_ALTERNATING);
    assert_eq!(fit_csr(&off, &m, &w), WLRA_ERROR_NON_FINITE_INPUT);
    let on = Handle::new(k, true, WLRA_METHOD_ALTERNATING);
    assert_eq!(fit_csr(&on, &m, &w), WLRA_OK, "{}", on.error());
    let (mz, wz) = zeroed(&m, Some(&w), &missing);
    assert_eq!(fit_csr(&off, &mz, &wz), WLRA_OK);
    assert_same_bits(&on.result(m.n, m.m, k), &off.result(m.n, m.m, k), "csr");
}

#[test]
fn held_out_folds_skip_missing_entries() {
    let (k, (m, w, missing)) = (3, problem(5));
    let fold = |h: &Handle| {
        // SAFETY: a live handle.
        unsafe {
            assert_eq!(wlra_set_option(h.0, WLRA_OPTION_FOLDS, 4.0), WLRA_OK);
            assert_eq!(
                wlra_set_option(h.0, WLRA_OPTION_HELD_OUT_FOLD, 1.0),
                WLRA_OK
            );
        }
    };
    let (a, b) = (
        Handle::new(k, true, WLRA_METHOD_ALTERNATING),
        Handle::new(k, false, WLRA_METHOD_ALTERNATING),
    );
    fold(&a);
    fold(&b);
    assert_eq!(
        a.fit(&m, Some(&w), WLRA_ROW_MAJOR),
        WLRA_OK,
        "{}",
        a.error()
    );
    let (mz, wz) = zeroed(&m, Some(&w), &missing);
    assert_eq!(b.fit(&mz, Some(&wz), WLRA_ROW_MAJOR), WLRA_OK);
    assert_same_bits(&a.result(m.n, m.m, k), &b.result(m.n, m.m, k), "folds");
    let (mut ra, mut rb) = (0.0, 0.0);
    // SAFETY: live handles, writable doubles.
    unsafe {
        assert_eq!(
            wlra_get_info(a.0, WLRA_INFO_HELD_OUT_RMSE, &mut ra),
            WLRA_OK
        );
        assert_eq!(
            wlra_get_info(b.0, WLRA_INFO_HELD_OUT_RMSE, &mut rb),
            WLRA_OK
        );
    }
    assert!(ra.is_finite() && ra.to_bits() == rb.to_bits(), "{ra} {rb}");
}

#[test]
fn fold_in_reads_nan_as_missing_with_the_option() {
    let (k, (m, w, missing)) = (3, problem(6));
    let model = Handle::new(k, true, WLRA_METHOD_ALTERNATING);
    assert_eq!(model.fit(&m, Some(&w), WLRA_ROW_MAJOR), WLRA_OK);
    let (mz, wz) = zeroed(&m, Some(&w), &missing);
    let transform = |m: &Dense, w: &Dense| {
        let mut u = vec![0.0; m.n * k];
        // SAFETY: row-major n x m inputs, n x k output.
        let status = unsafe {
            let (pm, pw) = (m.a.as_ptr(), w.a.as_ptr());
            wlra_transform(
                model.0,
                m.n,
                pm,
                m.m,
                pw,
                m.m,
                u.as_mut_ptr(),
                k,
                WLRA_ROW_MAJOR,
            )
        };
        (status, u)
    };
    let (status, with_nan) = transform(&m, &w);
    assert_eq!(status, WLRA_OK, "{}", model.error());
    let (status, zeros) = transform(&mz, &wz);
    assert_eq!(status, WLRA_OK);
    assert!(with_nan
        .iter()
        .zip(&zeros)
        .all(|(a, b)| a.to_bits() == b.to_bits()));
    assert!(
        (0..k).all(|d| with_nan[2 * k + d] == 0.0),
        "an all-NaN row folds in to 0"
    );
    // SAFETY: a live handle.
    unsafe {
        assert_eq!(
            wlra_set_option(model.0, WLRA_OPTION_MISSING_NAN, 0.0),
            WLRA_OK
        )
    };
    assert_eq!(transform(&m, &w).0, WLRA_ERROR_NON_FINITE_INPUT);
}

#[test]
fn the_option_without_any_nan_changes_nothing() {
    let (k, (m, w, missing)) = (3, problem(7));
    let (mz, wz) = zeroed(&m, Some(&w), &missing);
    let fit = |on: bool| {
        let h = Handle::new(k, on, WLRA_METHOD_AUTO);
        // SAFETY: a live handle: back to the default solver (AUTO).
        unsafe { assert_eq!(wlra_set_option(h.0, WLRA_OPTION_SOLVER, 0.0), WLRA_OK) };
        assert_eq!(h.fit(&mz, Some(&wz), WLRA_COL_MAJOR), WLRA_OK);
        assert_eq!(h.fit(&mz, None, WLRA_ROW_MAJOR), WLRA_OK);
        h.result(m.n, m.m, k)
    };
    assert_same_bits(&fit(true), &fit(false), "no NaN");
}

fn info(h: &Handle, item: i32) -> (wlra_status, f64) {
    let mut value = -1.0;
    // SAFETY: a live handle and a writable double.
    let status = unsafe { wlra_get_info(h.0, item, &mut value) };
    (status, value)
}

#[test]
fn rows_and_columns_without_weight_are_counted() {
    let (k, (m, w, missing)) = (3, problem(8));
    let h = Handle::new(k, true, WLRA_METHOD_ALTERNATING);
    assert_eq!(
        info(&h, WLRA_INFO_ZERO_WEIGHT_LINES).0,
        WLRA_ERROR_NOT_FITTED
    );
    // Row 2 and column 5 are all NaN.
    assert_eq!(h.fit(&m, Some(&w), WLRA_ROW_MAJOR), WLRA_OK);
    assert_eq!(info(&h, WLRA_INFO_ZERO_WEIGHT_LINES), (WLRA_OK, 2.0));
    assert_eq!(h.fit(&m, None, WLRA_COL_MAJOR), WLRA_OK);
    assert_eq!(info(&h, WLRA_INFO_ZERO_WEIGHT_LINES), (WLRA_OK, 2.0));
    // The same rows as explicit zero weights; none without NaN or zeros.
    let (mz, wz) = zeroed(&m, Some(&w), &missing);
    assert_eq!(h.fit(&mz, Some(&wz), WLRA_ROW_MAJOR), WLRA_OK);
    assert_eq!(info(&h, WLRA_INFO_ZERO_WEIGHT_LINES), (WLRA_OK, 2.0));
    assert_eq!(h.fit(&mz, None, WLRA_ROW_MAJOR), WLRA_OK);
    assert_eq!(info(&h, WLRA_INFO_ZERO_WEIGHT_LINES), (WLRA_OK, 0.0));
    // Every weight zero: every row and column, and the factors are 0.
    let zero = Dense {
        a: vec![0.0; m.n * m.m],
        ..m.clone()
    };
    assert_eq!(h.fit(&mz, Some(&zero), WLRA_ROW_MAJOR), WLRA_OK);
    assert_eq!(
        info(&h, WLRA_INFO_ZERO_WEIGHT_LINES),
        (WLRA_OK, (m.n + m.m) as f64)
    );
    let (u, v, _) = h.result(m.n, m.m, k);
    assert!(u.iter().chain(&v).all(|&x| x == 0.0));
    // Sparse: an empty row and the columns nothing is stored in, w_default 0.
    let (rp, ci, mv) = (vec![0i64, 1, 1, 2], vec![0i64, 2], vec![1.0, 2.0]);
    let s = Handle::new(1, false, WLRA_METHOD_ALTERNATING);
    // SAFETY: CSR arrays of a 3 x 4 problem with 2 entries.
    let status = unsafe {
        let null = std::ptr::null();
        wlra_fit_csr(
            s.0,
            3,
            4,
            rp.as_ptr(),
            ci.as_ptr(),
            mv.as_ptr(),
            null,
            0.0,
            0.0,
        )
    };
    assert_eq!(status, WLRA_OK);
    assert_eq!(info(&s, WLRA_INFO_ZERO_WEIGHT_LINES), (WLRA_OK, 3.0));
    assert_eq!(
        info(&s, WLRA_INFO_NARROW_HALF_STEPS + 1).0,
        WLRA_ERROR_INVALID_ARGUMENT
    );
}
