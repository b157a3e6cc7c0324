//! `wlra_get_canonical` (issue 28, added in 1.4): orthonormal U and V,
//! descending s, U diag(s) V^T = the fitted U V^T, the sign convention,
//! invariance to the factors' gauge and to the data's scale, and the
//! statuses before a fit and for bad arguments.

mod common;

use common::{heteroscedastic, Rng};
use faer::Mat;
use wlra::ffi::*;
use wlra::vocabulary::*;

/// A model handle, destroyed on drop.
struct Handle(*mut wlra_model);

impl Handle {
    fn new(rank: usize) -> Handle {
        let mut model = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        assert_eq!(unsafe { wlra_create(rank, &mut model) }, WLRA_OK);
        Handle(model)
    }

    fn set(&self, option: i32, value: f64) {
        // SAFETY: a live handle.
        assert_eq!(unsafe { wlra_set_option(self.0, option, value) }, WLRA_OK);
    }

    /// Fit column-major M and W (n x m, ld = n).
    fn fit(&self, m: &Mat<f64>, w: &Mat<f64>) {
        let (n, c) = m.shape();
        let (d, w) = (col_major(m), col_major(w));
        // SAFETY: n x c column-major matrices with ld = n.
        let status =
            unsafe { wlra_fit(self.0, n, c, d.as_ptr(), n, w.as_ptr(), n, WLRA_COL_MAJOR) };
        assert_eq!(status, WLRA_OK);
    }

    /// Load U and V (no offsets).
    fn load(&self, u: &Mat<f64>, v: &Mat<f64>) {
        let (n, m, k) = (u.nrows(), v.nrows(), u.ncols());
        let (uc, vc) = (col_major(u), col_major(v));
        let null = std::ptr::null();
        // SAFETY: column-major buffers of the sizes described.
        let status = unsafe {
            wlra_set_fitted(
                self.0,
                n,
                m,
                uc.as_ptr(),
                n,
                vc.as_ptr(),
                m,
                null,
                null,
                WLRA_COL_MAJOR,
            )
        };
        assert_eq!(status, WLRA_OK);
        assert_eq!(k, u.ncols());
    }

    /// U and V as the library holds them.
    fn factors(&self, n: usize, m: usize, k: usize) -> (Mat<f64>, Mat<f64>) {
        let (mut u, mut v) = (vec![0.0; n * k], vec![0.0; m * k]);
        // SAFETY: row-major buffers of the sizes the model's shapes need.
        let status = unsafe {
            wlra_get_factors(self.0, u.as_mut_ptr(), k, v.as_mut_ptr(), k, WLRA_ROW_MAJOR)
        };
        assert_eq!(status, WLRA_OK);
        (from_row_major(&u, n, k), from_row_major(&v, m, k))
    }

    /// The canonical form, read row-major (ld = k + 1) and checked to equal
    /// the column-major read (ld = n + 2, m + 3) bit for bit.
    fn canonical(&self, n: usize, m: usize, k: usize) -> (Mat<f64>, Vec<f64>, Mat<f64>) {
        let (mut u, mut s, mut v) = (vec![0.0; n * (k + 1)], vec![0.0; k], vec![0.0; m * (k + 1)]);
        // SAFETY: buffers of the sizes described.
        let status = unsafe {
            wlra_get_canonical(
                self.0,
                u.as_mut_ptr(),
                k + 1,
                s.as_mut_ptr(),
                v.as_mut_ptr(),
                k + 1,
                WLRA_ROW_MAJOR,
            )
        };
        assert_eq!(status, WLRA_OK);
        let row = |x: &[f64], r| Mat::from_fn(r, k, |i, j| x[i * (k + 1) + j]);
        let (uc, vc) = (row(&u, n), row(&v, m));
        let (mut u2, mut s2, mut v2) =
            (vec![0.0; (n + 2) * k], vec![0.0; k], vec![0.0; (m + 3) * k]);
        // SAFETY: buffers of the sizes described.
        let status = unsafe {
            wlra_get_canonical(
                self.0,
                u2.as_mut_ptr(),
                n + 2,
                s2.as_mut_ptr(),
                v2.as_mut_ptr(),
                m + 3,
                WLRA_COL_MAJOR,
            )
        };
        assert_eq!(status, WLRA_OK);
        assert_eq!(s, s2);
        for j in 0..k {
            (0..n).for_each(|i| assert_eq!(u2[i + j * (n + 2)].to_bits(), uc[(i, j)].to_bits()));
            (0..m).for_each(|i| assert_eq!(v2[i + j * (m + 3)].to_bits(), vc[(i, j)].to_bits()));
        }
        (uc, s, vc)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by wlra_create, destroyed once.
        unsafe { wlra_destroy(self.0) }
    }
}

fn col_major(a: &Mat<f64>) -> Vec<f64> {
    (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| a[(i, j)]))
        .collect()
}

fn from_row_major(x: &[f64], r: usize, c: usize) -> Mat<f64> {
    Mat::from_fn(r, c, |i, j| x[i * c + j])
}

fn max_abs(a: &Mat<f64>) -> f64 {
    a.col_iter()
        .flat_map(|c| c.iter().copied())
        .fold(0.0, |t: f64, x| t.max(x.abs()))
}

/// Every property of the canonical form of U V^T, to 1e-12.
fn check_canonical(u: &Mat<f64>, v: &Mat<f64>, (uc, s, vc): &(Mat<f64>, Vec<f64>, Mat<f64>)) {
    let k = u.ncols();
    let eye = Mat::<f64>::identity(k, k);
    assert!(
        max_abs(&(uc.transpose() * uc - &eye)) < 1e-12,
        "U_c is not orthonormal"
    );
    assert!(
        max_abs(&(vc.transpose() * vc - &eye)) < 1e-12,
        "V_c is not orthonormal"
    );
    assert!(
        s.windows(2).all(|p| p[0] >= p[1]),
        "s is not descending: {s:?}"
    );
    assert!(s.iter().all(|&x| x >= 0.0));
    let sd = Mat::from_fn(k, k, |i, j| if i == j { s[i] } else { 0.0 });
    let product = u * v.transpose();
    let error = max_abs(&(uc * &sd * vc.transpose() - &product));
    assert!(
        error <= 1e-12 * max_abs(&product),
        "reconstruction error {error:e}"
    );
    for c in 0..k {
        let mut top = 0;
        (1..vc.nrows()).for_each(|i| {
            if vc[(i, c)].abs() > vc[(top, c)].abs() {
                top = i
            }
        });
        assert!(
            vc[(top, c)] > 0.0,
            "column {c} of V_c: largest entry negative"
        );
    }
}

fn close(a: &Mat<f64>, b: &Mat<f64>, tol: f64) -> bool {
    max_abs(&(a - b)) <= tol
}

#[test]
fn a_fit_in_canonical_form() {
    let (n, m, k) = (40, 30, 4);
    let (data, w) = heteroscedastic(n, m, k, 3);
    let model = Handle::new(k);
    model.fit(&data, &w);
    let (u, v) = model.factors(n, m, k);
    check_canonical(&u, &v, &model.canonical(n, m, k));
}

/// The inverse of a small well-conditioned matrix, by Gauss-Jordan.
fn inverse(r: &Mat<f64>) -> Mat<f64> {
    let k = r.nrows();
    let mut a = Mat::from_fn(k, 2 * k, |i, j| {
        if j < k {
            r[(i, j)]
        } else if j - k == i {
            1.0
        } else {
            0.0
        }
    });
    for c in 0..k {
        let p = (c..k)
            .max_by(|&x, &y| a[(x, c)].abs().total_cmp(&a[(y, c)].abs()))
            .unwrap();
        for j in 0..2 * k {
            let t = a[(c, j)];
            a[(c, j)] = a[(p, j)];
            a[(p, j)] = t;
        }
        let d = a[(c, c)];
        (0..2 * k).for_each(|j| a[(c, j)] /= d);
        for i in (0..k).filter(|&i| i != c) {
            let f = a[(i, c)];
            (0..2 * k).for_each(|j| a[(i, j)] -= f * a[(c, j)]);
        }
    }
    Mat::from_fn(k, k, |i, j| a[(i, k + j)])
}

#[test]
fn the_gauge_of_the_factors_does_not_matter() {
    let (n, m, k) = (50, 35, 5);
    let mut rng = Rng::new(11);
    let (u, v) = (rng.normal_mat(n, k), rng.normal_mat(m, k));
    let model = Handle::new(k);
    model.load(&u, &v);
    let reference = model.canonical(n, m, k);
    check_canonical(&u, &v, &reference);
    for seed in 0..3 {
        let mut rng = Rng::new(100 + seed);
        let r = Mat::from_fn(k, k, |i, j| {
            f64::from(u8::from(i == j)) + 0.4 * rng.normal()
        });
        let (ur, vr) = (&u * &r, &v * inverse(&r).transpose());
        model.load(&ur, &vr);
        let (uc, s, vc) = model.canonical(n, m, k);
        assert!(close(&uc, &reference.0, 1e-12), "U_c moved with the gauge");
        assert!(close(&vc, &reference.2, 1e-12), "V_c moved with the gauge");
        let ds = s
            .iter()
            .zip(&reference.1)
            .map(|(a, b)| (a - b).abs() / b)
            .fold(0.0, f64::max);
        assert!(ds < 1e-12, "s moved with the gauge by {ds:e}");
    }
}

#[test]
fn the_scale_of_the_data_does_not_matter() {
    let (n, m, k) = (30, 45, 3);
    let mut rng = Rng::new(5);
    let (u, v) = (rng.normal_mat(n, k), rng.normal_mat(m, k));
    let model = Handle::new(k);
    model.load(&u, &v);
    let reference = model.canonical(n, m, k);
    // The product scaled by 1e150 and by 1e-150, through either factor or both.
    let cases = [
        (1e150, 1.0, 1e150),
        (1.0, 1e150, 1e150),
        (1e-75, 1e-75, 1e-150),
        (1e-150, 1.0, 1e-150),
    ];
    for (a, b, c) in cases {
        let (us, vs) = (&u * faer::Scale(a), &v * faer::Scale(b));
        model.load(&us, &vs);
        let (uc, s, vc) = model.canonical(n, m, k);
        check_canonical(&us, &vs, &(uc.clone(), s.clone(), vc.clone()));
        assert!(close(&uc, &reference.0, 1e-12) && close(&vc, &reference.2, 1e-12));
        for (x, y) in s.iter().zip(&reference.1) {
            assert!(
                (x / c - y).abs() <= 1e-12 * y,
                "s {x:e} / {c:e} against {y:e}"
            );
        }
    }
}

#[test]
fn a_fit_of_scaled_data_gives_the_same_directions() {
    let (n, m, k) = (40, 30, 3);
    let (data, w) = heteroscedastic(n, m, k, 8);
    let fit = |c: f64| {
        let model = Handle::new(k);
        model.set(WLRA_OPTION_METHOD, f64::from(WLRA_METHOD_ALTERNATING));
        model.set(WLRA_OPTION_MAX_ITERATIONS, 5.0);
        model.set(WLRA_OPTION_TOLERANCE, 0.0);
        model.fit(&(&data * faer::Scale(c)), &w);
        model.canonical(n, m, k)
    };
    let reference = fit(1.0);
    for c in [1e150, 1e-150] {
        let (uc, s, vc) = fit(c);
        // Not bit for bit: c is no power of two, so M's rounding differs.
        assert!(close(&uc, &reference.0, 1e-9) && close(&vc, &reference.2, 1e-9));
        for (x, y) in s.iter().zip(&reference.1) {
            assert!((x / c - y).abs() <= 1e-9 * y);
        }
    }
}

#[test]
fn statuses_before_a_fit_and_for_bad_arguments() {
    let (n, m, k) = (6, 5, 2);
    let model = Handle::new(k);
    let (mut u, mut s, mut v) = (vec![7.0; n * k], vec![7.0; k], vec![7.0; m * k]);
    let (pu, ps, pv) = (u.as_mut_ptr(), s.as_mut_ptr(), v.as_mut_ptr());
    let null = std::ptr::null_mut();
    // SAFETY: buffers of the sizes described, or NULL.
    unsafe {
        assert_eq!(
            wlra_get_canonical(model.0, pu, k, ps, pv, k, WLRA_ROW_MAJOR),
            WLRA_ERROR_NOT_FITTED
        );
        assert_eq!(
            wlra_get_canonical(std::ptr::null(), pu, k, ps, pv, k, WLRA_ROW_MAJOR),
            WLRA_ERROR_NULL_POINTER
        );
    }
    assert!(
        u.iter().chain(&s).chain(&v).all(|&x| x == 7.0),
        "written before a fit"
    );
    let mut rng = Rng::new(1);
    let (fu, fv) = (rng.normal_mat(n, k), rng.normal_mat(m, k));
    model.load(&fu, &fv);
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            wlra_get_canonical(model.0, pu, k, ps, pv, k, 7),
            WLRA_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            wlra_get_canonical(model.0, pu, k - 1, ps, pv, k, WLRA_ROW_MAJOR),
            WLRA_ERROR_INVALID_ARGUMENT
        );
        assert_eq!(
            wlra_get_canonical(model.0, pu, k, ps, pv, m - 1, WLRA_COL_MAJOR),
            WLRA_ERROR_INVALID_ARGUMENT
        );
        assert!(
            u.iter().chain(&s).chain(&v).all(|&x| x == 7.0),
            "written by a failed call"
        );
        // NULL outputs are not copied; the others are.
        assert_eq!(
            wlra_get_canonical(model.0, null, 0, ps, null, 0, WLRA_ROW_MAJOR),
            WLRA_OK
        );
        assert!(u.iter().chain(&v).all(|&x| x == 7.0) && s[0] >= s[1] && s[1] > 0.0);
        assert_eq!(
            wlra_get_canonical(model.0, pu, k, null, pv, k, WLRA_ROW_MAJOR),
            WLRA_OK
        );
    }
    check_canonical(&fu, &fv, &model.canonical(n, m, k));
}
