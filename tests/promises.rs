//! Issue 24's twelve reproductions, each a promise that held on one entry
//! point and broke on another, through the C ABI as a caller meets them.
//! docs/reliability.md lists each with the promise it guards; the
//! property-based suite (tests/properties.rs) checks the same promises over
//! every entry point, method and solver.

mod common;

use common::{csr, library_threads, planted, run_test_in_child, vm_bytes, Rng};
use faer::Mat;
use std::ffi::{c_void, CStr};
use std::time::{Duration, Instant};
use wlra::ffi::wlra_predict;
use wlra::ffi::wlra_transform;
use wlra::ffi::*;
use wlra::vocabulary::*;

/// A model handle, destroyed on drop.
struct Handle(*mut wlra_model);

impl Handle {
    fn new(rank: usize, options: &[(i32, f64)]) -> Handle {
        let mut model = std::ptr::null_mut();
        // SAFETY: out-pointer to a local.
        assert_eq!(unsafe { wlra_create(rank, &mut model) }, WLRA_OK);
        let handle = Handle(model);
        for &(id, value) in options {
            handle.set(id, value);
        }
        handle
    }

    fn set(&self, id: i32, value: f64) {
        // SAFETY: a live handle.
        assert_eq!(unsafe { wlra_set_option(self.0, id, value) }, WLRA_OK);
    }

    /// wlra_fit on column-major M and W (None: W = NULL).
    fn fit(&self, m: &Mat<f64>, w: Option<&Mat<f64>>) -> wlra_status {
        let (n, cols) = m.shape();
        let (mc, wc) = (col_major(m), w.map(col_major));
        let wp = wc.as_ref().map_or(std::ptr::null(), |w| w.as_ptr());
        // SAFETY: n x cols column-major arrays with ld = n.
        unsafe { wlra_fit(self.0, n, cols, mc.as_ptr(), n, wp, n, WLRA_COL_MAJOR) }
    }

    /// wlra_fit_csr on the pattern where `mask` is non-zero.
    fn fit_csr(&self, mask: &Mat<f64>, m: &Mat<f64>, w: &Mat<f64>) -> wlra_status {
        let c = csr(mask, m, w);
        let (n, cols) = m.shape();
        // SAFETY: arrays of the lengths the pattern gives.
        unsafe {
            wlra_fit_csr(
                self.0,
                n,
                cols,
                c.row_ptr.as_ptr(),
                c.col_idx.as_ptr(),
                c.m.as_ptr(),
                c.w.as_ptr(),
                0.0,
                0.0,
            )
        }
    }

    fn info(&self, item: i32) -> f64 {
        let mut value = f64::NAN;
        // SAFETY: a live handle and a local out-value.
        let status = unsafe { wlra_get_info(self.0, item, &mut value) };
        assert_eq!(status, WLRA_OK, "info {item}: {}", self.error());
        value
    }

    fn factors(&self, n: usize, m: usize, k: usize) -> (Mat<f64>, Mat<f64>) {
        let (mut u, mut v) = (vec![0.0; n * k], vec![0.0; m * k]);
        // SAFETY: n x k and m x k row-major buffers.
        let status = unsafe {
            wlra_get_factors(self.0, u.as_mut_ptr(), k, v.as_mut_ptr(), k, WLRA_ROW_MAJOR)
        };
        assert_eq!(status, WLRA_OK);
        (
            Mat::from_fn(n, k, |i, d| u[i * k + d]),
            Mat::from_fn(m, k, |j, d| v[j * k + d]),
        )
    }

    /// wlra_transform of column-major rows; (status, u row-major).
    fn transform(&self, m: &Mat<f64>, w: Option<&Mat<f64>>, k: usize) -> (wlra_status, Vec<f64>) {
        let (n, cols) = m.shape();
        let (mc, wc) = (col_major(m), w.map(col_major));
        let wp = wc.as_ref().map_or(std::ptr::null(), |w| w.as_ptr());
        let mut u = vec![f64::NAN; n * k];
        // SAFETY: n x cols inputs (ld n) and an n x k column-major output.
        let status = unsafe {
            wlra_transform(
                self.0,
                n,
                mc.as_ptr(),
                n,
                wp,
                n,
                u.as_mut_ptr(),
                n,
                WLRA_COL_MAJOR,
            )
        };
        let _ = cols;
        (status, u)
    }

    fn predict(&self, pairs: &[(i64, i64)]) -> (wlra_status, Vec<f64>) {
        let rows: Vec<i64> = pairs.iter().map(|p| p.0).collect();
        let cols: Vec<i64> = pairs.iter().map(|p| p.1).collect();
        let mut out = vec![f64::NAN; pairs.len()];
        // SAFETY: three arrays of pairs.len() entries.
        let status = unsafe {
            wlra_predict(
                self.0,
                pairs.len(),
                rows.as_ptr(),
                cols.as_ptr(),
                out.as_mut_ptr(),
            )
        };
        (status, out)
    }

    fn error(&self) -> String {
        // SAFETY: never NULL, valid until the next call on the model.
        unsafe { CStr::from_ptr(wlra_last_error(self.0)) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by wlra_create, destroyed once.
        unsafe { wlra_destroy(self.0) };
    }
}

fn col_major(a: &Mat<f64>) -> Vec<f64> {
    (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| a[(i, j)]))
        .collect()
}

fn scaled(a: &Mat<f64>, c: f64) -> Mat<f64> {
    Mat::from_fn(a.nrows(), a.ncols(), |i, j| a[(i, j)] * c)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// A noisy planted rank-2 problem with weights in [0.1, 1].
fn noisy(n: usize, m: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let p = planted(n, m, 2, seed);
    let mut rng = Rng::new(seed + 7);
    let data = Mat::from_fn(n, m, |i, j| p.truth[(i, j)] + 0.1 * rng.normal());
    let w = rng.uniform_mat(n, m, 0.1, 1.0);
    (data, w)
}

/// The objectives the progress callback saw.
unsafe extern "C" fn record(user: *mut c_void, _iteration: usize, objective: f64) -> i32 {
    // SAFETY: `user` is the Vec<f64> the test passed.
    unsafe { (*user.cast::<Vec<f64>>()).push(objective) };
    0
}

// 1. Fork ---------------------------------------------------------------

const FORK_CHILD: &str = "WLRA_FORK_CHILD";

/// Fit in this process, fork, and in the child refit, transform and
/// predict on the inherited model. The child reports through its exit
/// status; the parent gives it 10 s.
fn fit_then_fork(threads: f64) {
    let (data, w) = noisy(40, 30, 1);
    let model = Handle::new(2, &[(WLRA_OPTION_THREADS, threads)]);
    assert_eq!(model.fit(&data, Some(&w)), WLRA_OK);
    let (_, u_parent) = model.transform(&data.subrows(0, 3).to_owned(), None, 2);
    // SAFETY: fork in a process whose only other threads are the model's
    // idle pool (this test runs alone in a child of the test binary).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let ok = model.fit(&data, Some(&w)) == WLRA_OK
            && model.transform(&data.subrows(0, 3).to_owned(), None, 2).1 == u_parent
            && model.predict(&[(0, 0), (39, 29)]).0 == WLRA_OK
            && {
                let fresh = Handle::new(2, &[(WLRA_OPTION_THREADS, threads)]);
                fresh.fit(&data, Some(&w)) == WLRA_OK
            };
        drop(model);
        // SAFETY: leave the child without running the parent's test harness.
        unsafe { libc::_exit(if ok { 0 } else { 3 }) };
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    loop {
        // SAFETY: waiting on our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung (THREADS = {threads})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "forked child failed (THREADS = {threads}), wait status {status}"
    );
}

#[test]
fn fork_child_body() {
    if std::env::var(FORK_CHILD).is_ok() {
        fit_then_fork(1.0);
        fit_then_fork(2.0);
    }
}

#[test]
fn forked_child_refits_transforms_and_predicts_an_inherited_model() {
    run_test_in_child("fork_child_body", &[(FORK_CHILD, "1")]);
}

// 2. Held-out RMSE at every scale --------------------------------------------

fn held_out_rmse(data: &Mat<f64>, w: &Mat<f64>, csr_input: bool) -> (wlra_status, f64) {
    let model = Handle::new(
        2,
        &[(WLRA_OPTION_FOLDS, 5.0), (WLRA_OPTION_HELD_OUT_FOLD, 1.0)],
    );
    let mask = Mat::from_fn(data.nrows(), data.ncols(), |_, _| 1.0);
    let status = if csr_input {
        model.fit_csr(&mask, data, w)
    } else {
        model.fit(data, Some(w))
    };
    assert_eq!(status, WLRA_OK, "{}", model.error());
    let mut value = f64::NAN;
    // SAFETY: a live handle and a local out-value.
    let s = unsafe { wlra_get_info(model.0, WLRA_INFO_HELD_OUT_RMSE, &mut value) };
    (s, value)
}

#[test]
fn held_out_rmse_follows_the_scale_of_m_and_ignores_that_of_w() {
    let (data, w) = noisy(30, 20, 2);
    for csr_input in [false, true] {
        let (s, unit) = held_out_rmse(&data, &w, csr_input);
        assert_eq!(s, WLRA_OK);
        let tiny = Mat::from_fn(30, 20, |_, _| 5e-324);
        let ones = Mat::from_fn(30, 20, |_, _| 1.0);
        let (_, at_ones) = held_out_rmse(&data, &ones, csr_input);
        let cases = [
            (
                scaled(&data, 1.0),
                scaled(&w, 1.7e308 / 1.0),
                unit,
                "W x 1.7e308",
            ),
            (scaled(&data, 1e200), w.clone(), unit * 1e200, "M x 1e200"),
            (
                scaled(&data, 1e-200),
                w.clone(),
                unit * 1e-200,
                "M x 1e-200",
            ),
            (data.clone(), tiny, at_ones, "every weight 5e-324"),
        ];
        for (m, wc, expected, what) in cases {
            let (s, rmse) = held_out_rmse(&m, &wc, csr_input);
            assert_eq!(s, WLRA_OK, "{what}");
            // The fits differ by the rounding of M x c (c not a power of
            // two), which a fit stopped by the tolerance carries to about
            // 1e-8; the failures were inf, NaN, 0 and 10 % off.
            assert!(
                close(rmse, expected, 1e-6),
                "{what} (CSR {csr_input}): held-out RMSE {rmse:e}, expected {expected:e}"
            );
        }
    }
}

// 3. Minimum norm under VarPro -----------------------------------------------

#[test]
fn varpro_keeps_unobserved_rows_and_columns_at_zero() {
    let (n, m, k) = (24, 18, 2);
    let (data, mut w) = noisy(n, m, 3);
    for i in 0..n {
        w[(i, 5)] = 0.0;
    }
    for j in 0..m {
        w[(7, j)] = 0.0;
    }
    let mask = Mat::from_fn(n, m, |i, j| if w[(i, j)] > 0.0 { 1.0 } else { 0.0 });
    for method in [WLRA_METHOD_VARPRO, WLRA_METHOD_AUTO] {
        for csr_input in [false, true] {
            let model = Handle::new(k, &[(WLRA_OPTION_METHOD, method as f64)]);
            let status = if csr_input {
                model.fit_csr(&mask, &data, &w)
            } else {
                model.fit(&data, Some(&w))
            };
            assert_eq!(status, WLRA_OK);
            // AUTO ran VarPro here before its probe (`outer::probe`); now
            // accelerated alternation converges first. Either way: zeros.
            let (u, v) = model.factors(n, m, k);
            let what = format!("method {method}, CSR {csr_input}");
            assert!(
                (0..k).all(|d| v[(5, d)] == 0.0),
                "{what}: V[5] = {:?}",
                v.row(5)
            );
            assert!(
                (0..k).all(|d| u[(7, d)] == 0.0),
                "{what}: U[7] = {:?}",
                u.row(7)
            );
            let (s, out) = model.predict(&[(0, 5), (7, 0)]);
            assert_eq!((s, out), (WLRA_OK, vec![0.0, 0.0]), "{what}");
        }
    }
}

// 4. Fold-in at every scale -------------------------------------------------

#[test]
fn fold_in_keeps_its_answer_for_subnormal_weights_and_huge_data() {
    let (n, m, k) = (30, 20, 2);
    let (data, w) = noisy(n, m, 4);
    let model = Handle::new(k, &[]);
    assert_eq!(model.fit(&data, Some(&w)), WLRA_OK);
    let rows = data.subrows(0, 4).to_owned();
    let (s, at_ones) = model.transform(&rows, None, k);
    assert_eq!(s, WLRA_OK);
    let tiny = Mat::from_fn(4, m, |_, _| 5e-324);
    let (s, at_tiny) = model.transform(&rows, Some(&tiny), k);
    assert_eq!(s, WLRA_OK);
    assert!(at_ones.iter().any(|&x| x != 0.0));
    for (a, b) in at_tiny.iter().zip(&at_ones) {
        assert!(
            close(*a, *b, 1e-10),
            "weights 5e-324: {a} against unit weights' {b}"
        );
    }
    // The model's own rows, after a fit on M x 1e250.
    let big = scaled(&data, 1e250);
    let huge = Handle::new(k, &[]);
    assert_eq!(huge.fit(&big, Some(&w)), WLRA_OK);
    let (u, _) = huge.factors(n, m, k);
    let (s, folded) = huge.transform(&big, Some(&w), k);
    assert_eq!(s, WLRA_OK, "{}", huge.error());
    for i in 0..n {
        for d in 0..k {
            let (a, b) = (folded[i + d * n], u[(i, d)]);
            assert!(
                (a - b).abs() <= 1e-6 * u.norm_max(),
                "row {i}: {a:e} against U's {b:e}"
            );
        }
    }
}

// 5. Version -------------------------------------------------------------

#[test]
fn version_is_cargo_version_and_counts_the_1_5_additions() {
    // SAFETY: static storage.
    let version = unsafe { CStr::from_ptr(wlra_version()) }.to_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let macros = format!("{WLRA_VERSION_MAJOR}.{WLRA_VERSION_MINOR}.{WLRA_VERSION_PATCH}");
    assert_eq!(macros, version);
    let header = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/wlra.h"))
        .expect("include/wlra.h");
    assert!(header.contains(&format!("#define WLRA_VERSION_MINOR {WLRA_VERSION_MINOR}")));
    // WLRA_ERROR_BUSY, the offsets, predict and transform with offsets are
    // 1.2's additions, wlra_set_fitted 1.3's, wlra_get_canonical 1.4's,
    // WLRA_OPTION_MIXED_PRECISION 1.5's (docs/api.md): a library that has
    // them says >= 1.5.
    assert!(header.contains("WLRA_ERROR_BUSY") && header.contains("wlra_predict"));
    assert!(header.contains("wlra_set_fitted") && header.contains("wlra_get_canonical"));
    assert!(header.contains("WLRA_OPTION_MIXED_PRECISION"));
    assert!(
        (WLRA_VERSION_MAJOR, WLRA_VERSION_MINOR) >= (1, 5),
        "{version}"
    );
}

// 6. Check order -----------------------------------------------------------

#[test]
fn null_pointers_are_reported_before_dimensions_and_layout() {
    let model = Handle::new(1, &[]);
    let null = std::ptr::null();
    // SAFETY: NULL data pointers, which the library must reject first.
    unsafe {
        assert_eq!(
            wlra_fit(model.0, 0, 0, null, 0, null, 0, WLRA_ROW_MAJOR),
            WLRA_ERROR_NULL_POINTER
        );
        assert_eq!(
            wlra_fit(model.0, 3, 3, null, 3, null, 3, 7),
            WLRA_ERROR_NULL_POINTER
        );
        assert_eq!(
            wlra_fit(model.0, 0, 0, null, 0, null, 0, 7),
            WLRA_ERROR_NULL_POINTER
        );
        let none: *const i64 = std::ptr::null();
        assert_eq!(
            wlra_fit_csr(model.0, 0, 0, none, none, null, null, 0.0, 0.0),
            WLRA_ERROR_NULL_POINTER
        );
    }
    assert!(model.error().contains("is NULL"), "{}", model.error());
}

// 7. A CSR row longer than n_cols -------------------------------------------

#[test]
fn csr_row_longer_than_n_cols_is_invalid_argument_naming_the_row() {
    let model = Handle::new(1, &[]);
    let row_ptr = [0i64, 1 << 40];
    let col_idx = [0i64, 1, 2, 3];
    let values = [1.0; 4];
    // SAFETY: row_ptr says 2^40 entries, more than any valid pattern of 4
    // columns: the library must refuse it before touching col_idx.
    let status = unsafe {
        wlra_fit_csr(
            model.0,
            1,
            4,
            row_ptr.as_ptr(),
            col_idx.as_ptr(),
            values.as_ptr(),
            std::ptr::null(),
            0.0,
            0.0,
        )
    };
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT, "{}", model.error());
    assert!(model.error().contains("row 0"), "{}", model.error());
}

// 8. Tolerance 0 ----------------------------------------------------------

#[test]
fn tolerance_zero_runs_every_iteration_of_every_method() {
    let p = planted(30, 20, 2, 8);
    let (data, w) = noisy(30, 20, 8);
    let methods = [
        WLRA_METHOD_ALTERNATING,
        WLRA_METHOD_ACCELERATED,
        WLRA_METHOD_VARPRO,
        WLRA_METHOD_AUTO,
    ];
    for method in methods {
        for weighted in [false, true] {
            let options = [
                (WLRA_OPTION_METHOD, method as f64),
                (WLRA_OPTION_TOLERANCE, 0.0),
                (WLRA_OPTION_MAX_ITERATIONS, 40.0),
                (WLRA_OPTION_RESTARTS, 0.0),
            ];
            let model = Handle::new(2, &options);
            let mut seen: Vec<f64> = Vec::new();
            let user = (&mut seen as *mut Vec<f64>).cast();
            // SAFETY: `seen` outlives the fit.
            assert_eq!(
                unsafe { wlra_set_progress(model.0, Some(record), user) },
                WLRA_OK
            );
            let status = if weighted {
                model.fit(&data, Some(&w))
            } else {
                model.fit(&p.truth, None)
            };
            assert_eq!(status, WLRA_OK);
            let what = format!("method {method}, weighted {weighted}");
            assert_eq!(model.info(WLRA_INFO_ITERATIONS), 40.0, "{what}");
            assert_eq!(model.info(WLRA_INFO_CONVERGED), 0.0, "{what}");
            assert_eq!(seen.len(), 40, "{what}");
            assert!(seen.windows(2).all(|p| p[1] <= p[0]), "{what}: {seen:?}");
        }
    }
}

// 9. A pool that cannot start --------------------------------------------

const POOL_CHILD: &str = "WLRA_POOL_CHILD";

#[test]
fn pool_child_body() {
    if std::env::var(POOL_CHILD).is_err() {
        return;
    }
    let (data, w) = noisy(20, 15, 9);
    let model = Handle::new(2, &[(WLRA_OPTION_THREADS, 1.0)]);
    assert_eq!(model.fit(&data, Some(&w)), WLRA_OK);
    let before = library_threads();
    // Room for some threads' stacks but not for 4096 of them.
    let rlimit = libc::rlimit {
        rlim_cur: vm_bytes("VmSize:") + (256 << 20),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
    model.set(WLRA_OPTION_THREADS, 4096.0);
    assert_eq!(model.fit(&data, Some(&w)), WLRA_ERROR_OUT_OF_MEMORY);
    // The model's old pool is let go before the new one starts.
    let after = library_threads();
    assert!(
        after <= before,
        "{after} threads running after a failed pool start, {before} before"
    );
    model.set(WLRA_OPTION_THREADS, 2.0);
    assert_eq!(model.fit(&data, Some(&w)), WLRA_OK, "{}", model.error());
    println!("pool child: verdict ok");
}

#[test]
fn failed_pool_start_leaves_no_thread_running() {
    let (stdout, _) = run_test_in_child("pool_child_body", &[(POOL_CHILD, "1")]);
    assert!(stdout.contains("verdict ok"), "{stdout}");
}

// 10. Predict near the top of the double range ---------------------------------

#[test]
fn predict_with_offsets_near_the_largest_double_does_not_overflow_midway() {
    // M = a 1^T + 1 b^T + u v^T exactly, in the fit's gauge (1^T u = 0,
    // 1^T v = 0, sum b = 0): a + u v alone exceeds the largest double where
    // b brings the entry back below it.
    let e = 1e308;
    let sign = [1.0, -1.0, 1.0, -1.0];
    let a = [1.5 * e, 1.0 * e, 1.5 * e, 1.0 * e];
    let b = [-0.25 * e, 0.25 * e, -0.25 * e, 0.25 * e];
    let data = Mat::from_fn(4, 4, |i, j| a[i] + (b[j] + 0.3 * e * sign[i] * sign[j]));
    assert!(col_major(&data).iter().all(|x| x.is_finite()));
    let model = Handle::new(
        1,
        &[
            (WLRA_OPTION_OFFSETS, WLRA_OFFSETS_BOTH as f64),
            (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
        ],
    );
    assert_eq!(model.fit(&data, None), WLRA_OK, "{}", model.error());
    let pairs: Vec<(i64, i64)> = (0..4).flat_map(|i| (0..4).map(move |j| (i, j))).collect();
    let (s, out) = model.predict(&pairs);
    assert_eq!(s, WLRA_OK);
    for (&(i, j), &value) in pairs.iter().zip(&out) {
        let expected = data[(i as usize, j as usize)];
        assert!(
            close(value, expected, 1e-10),
            "({i}, {j}): {value:e}, M = {expected:e}"
        );
    }
}

// 11. Clipping ------------------------------------------------------------

#[test]
fn clipping_never_raises_the_objective() {
    let mut rises = 0;
    for seed in 0..6 {
        let (data, mut w) = noisy(60, 40, 110 + seed);
        let mut rng = Rng::new(seed);
        w.col_iter_mut().for_each(|c| {
            c.iter_mut()
                .for_each(|x| *x *= f64::from(rng.uniform() < 0.5))
        });
        for clip in [1.0, 1.5, 3.0] {
            let options = [
                (WLRA_OPTION_CLIP, clip),
                (WLRA_OPTION_MAX_ITERATIONS, 20.0),
                (WLRA_OPTION_TOLERANCE, 0.0),
                (WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64),
            ];
            let model = Handle::new(3, &options);
            let mut seen: Vec<f64> = Vec::new();
            let user = (&mut seen as *mut Vec<f64>).cast();
            // SAFETY: `seen` outlives the fit.
            assert_eq!(
                unsafe { wlra_set_progress(model.0, Some(record), user) },
                WLRA_OK
            );
            assert_eq!(model.fit(&data, Some(&w)), WLRA_OK);
            rises += seen.windows(2).filter(|p| p[1] > p[0]).count();
            assert_eq!(*seen.last().unwrap(), model.info(WLRA_INFO_OBJECTIVE));
        }
    }
    assert_eq!(
        rises, 0,
        "clipped iterations raised the objective {rises} times"
    );
}

// 12. Exact data and the restart rule ------------------------------------------

#[test]
fn exact_data_stops_the_restarts_after_two_starts() {
    for (n, m, k) in [(40, 30, 3), (300, 3, 2)] {
        let p = planted(n, m, k, 12);
        let mut rng = Rng::new(13);
        let w = rng.uniform_mat(n, m, 0.1, 1.0);
        let model = Handle::new(k, &[(WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64)]);
        assert_eq!(model.fit(&p.truth, Some(&w)), WLRA_OK);
        let (u, v) = model.factors(n, m, k);
        assert!(common::relative_error(&u, &v, &p.truth) < 1e-8);
        assert_eq!(model.info(WLRA_INFO_STARTS), 2.0, "{n} x {m}");
        assert_eq!(model.info(WLRA_INFO_STARTS_AT_BEST), 2.0, "{n} x {m}");
    }
}
