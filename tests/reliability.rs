//! Issue 15's reliability promises at the Rust level (docs/reliability.md
//! lists each with its test): a busy model refuses calls from another
//! thread, malformed sparse input is an `Err`, internal panics print
//! nothing, and messages print values like C's %g. The progress-callback
//! cases and the size-overflow cases are C programs (tests/c_api.rs).

use std::ffi::{c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use wlra::ffi::*;
use wlra::problem::sparse::{CsrInput, SparseProblem};
use wlra::vocabulary::*;
use wlra::{DenseProblem, Error, Model};

mod common;
use common::library_threads;

const N: usize = 60;
const M: usize = 40;
const K: usize = 3;
/// How long a test waits on another thread before it fails instead of
/// hanging (far above what any wait here takes).
const BOUND: Duration = Duration::from_secs(120);

/// A planted rank-K problem, row-major with ld = M.
struct Data {
    m: Vec<f64>,
    w: Vec<f64>,
    truth: faer::Mat<f64>,
}

fn data() -> Data {
    let truth = common::planted(N, M, K, 15).truth;
    let weights = common::Rng::new(16).uniform_mat(N, M, 0.1, 1.0);
    let row_major = |a: &faer::Mat<f64>| -> Vec<f64> {
        (0..N)
            .flat_map(|i| (0..M).map(move |j| a[(i, j)]))
            .collect()
    };
    Data {
        m: row_major(&truth),
        w: row_major(&weights),
        truth,
    }
}

/// A model handle that may cross to another thread: what the tests below
/// do on purpose, as a C caller could.
#[derive(Clone, Copy)]
struct Handle(*mut wlra_model);
// SAFETY: the library's busy guard makes concurrent calls on one handle
// an error status, never a data race; that is what these tests check.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

fn create(rank: usize) -> Handle {
    let mut model = std::ptr::null_mut();
    // SAFETY: `model` is writable storage for one pointer.
    assert_eq!(unsafe { wlra_create(rank, &mut model) }, WLRA_OK);
    Handle(model)
}

fn last_error(model: *const wlra_model) -> String {
    // SAFETY: NULL or a live handle; the text is NUL-terminated.
    unsafe { CStr::from_ptr(wlra_last_error(model)) }
        .to_string_lossy()
        .into_owned()
}

fn fit(model: Handle, d: &Data) -> wlra_status {
    let (m, w) = (d.m.as_ptr(), d.w.as_ptr());
    // SAFETY: a live handle; m and w are N x M row-major with ld = M.
    unsafe { wlra_fit(model.0, N, M, m, M, w, M, WLRA_ROW_MAJOR) }
}

fn factors(model: Handle) -> (Vec<f64>, Vec<f64>) {
    let (mut u, mut v) = (vec![0.0; N * K], vec![0.0; M * K]);
    let (pu, pv) = (u.as_mut_ptr(), v.as_mut_ptr());
    // SAFETY: a live handle; u, v hold N x K and M x K row-major.
    let status = unsafe { wlra_get_factors(model.0, pu, K, pv, K, WLRA_ROW_MAJOR) };
    assert_eq!(status, WLRA_OK, "{}", last_error(model.0));
    (u, v)
}

/// ||U V^T - truth|| / ||truth|| for row-major factors.
fn relative_error(d: &Data, (u, v): &(Vec<f64>, Vec<f64>)) -> f64 {
    let u = faer::Mat::from_fn(N, K, |i, c| u[i * K + c]);
    let v = faer::Mat::from_fn(M, K, |j, c| v[j * K + c]);
    common::relative_error(&u, &v, &d.truth)
}

/// The progress callback of `second_thread_gets_busy_while_a_fit_runs`:
/// on the first iteration it says the fit is running and waits (bounded)
/// until the other thread has seen BUSY, so the overlap is certain.
struct Gate {
    running: mpsc::SyncSender<()>,
    release: Mutex<mpsc::Receiver<()>>,
    first: AtomicBool,
    released: AtomicBool,
}

unsafe extern "C" fn hold_first_iteration(user_data: *mut c_void, _: usize, _: f64) -> i32 {
    // SAFETY: user_data is the test's Gate, alive until the fits end.
    let gate = unsafe { &*(user_data as *const Gate) };
    if gate.first.swap(false, Ordering::SeqCst) {
        let _ = gate.running.send(());
        let released = gate.release.lock().unwrap().recv_timeout(BOUND).is_ok();
        gate.released.store(released, Ordering::SeqCst);
    }
    0
}

/// Issue 15 row 4: a second thread's calls on a model that is fitting are
/// WLRA_ERROR_BUSY (two fits on one model hung on rayon latches), and the
/// fit itself is unharmed.
#[test]
fn second_thread_gets_busy_while_a_fit_runs() {
    let d = data();
    let model = create(K);
    let (running_tx, running_rx) = mpsc::sync_channel(1);
    let (release_tx, release_rx) = mpsc::sync_channel(1);
    let gate = Gate {
        running: running_tx,
        release: Mutex::new(release_rx),
        first: AtomicBool::new(true),
        released: AtomicBool::new(false),
    };
    let gate_ptr = &gate as *const Gate as *mut c_void;
    // SAFETY: a live handle; the gate outlives every fit below.
    let status = unsafe { wlra_set_progress(model.0, Some(hold_first_iteration), gate_ptr) };
    assert_eq!(status, WLRA_OK);

    let (first_status, first_factors) = std::thread::scope(|scope| {
        let fitter = scope.spawn(|| fit(model, &d));
        running_rx
            .recv_timeout(BOUND)
            .expect("the fit never reached its first iteration");
        // The fit is inside its callback now, holding the model.
        let mut value = -1.0;
        let (mut u, mut v) = (vec![0.0; N * K], vec![0.0; M * K]);
        let busy = |status: wlra_status, call: &str| {
            assert_eq!(status, WLRA_ERROR_BUSY, "{call} while the model fits");
            let message = last_error(model.0);
            assert!(
                message.starts_with(&format!("{call}: the model is busy")),
                "message: {message}"
            );
        };
        busy(fit(model, &d), "wlra_fit");
        let (row_ptr, col_idx, values) = ([0i64, 1], [0i64], [1.0]);
        // SAFETY: a live handle; a 1 x 1 pattern with one entry.
        busy(
            unsafe {
                wlra_fit_csr(
                    model.0,
                    1,
                    1,
                    row_ptr.as_ptr(),
                    col_idx.as_ptr(),
                    values.as_ptr(),
                    std::ptr::null(),
                    0.0,
                    0.0,
                )
            },
            "wlra_fit_csr",
        );
        // SAFETY (each call below): a live handle and outputs of the sizes
        // the calls write.
        busy(
            unsafe { wlra_set_option(model.0, WLRA_OPTION_THREADS, 1.0) },
            "wlra_set_option",
        );
        busy(
            unsafe { wlra_get_option(model.0, WLRA_OPTION_SEED, &mut value) },
            "wlra_get_option",
        );
        busy(
            unsafe { wlra_get_info(model.0, WLRA_INFO_ITERATIONS, &mut value) },
            "wlra_get_info",
        );
        busy(
            unsafe {
                wlra_get_factors(
                    model.0,
                    u.as_mut_ptr(),
                    K,
                    v.as_mut_ptr(),
                    K,
                    WLRA_ROW_MAJOR,
                )
            },
            "wlra_get_factors",
        );
        busy(
            unsafe {
                wlra_set_factors(model.0, N, M, u.as_ptr(), K, v.as_ptr(), K, WLRA_ROW_MAJOR)
            },
            "wlra_set_factors",
        );
        busy(
            unsafe { wlra_set_progress(model.0, None, std::ptr::null_mut()) },
            "wlra_set_progress",
        );
        let rows = vec![0.5; M];
        busy(
            unsafe {
                wlra_transform(
                    model.0,
                    1,
                    rows.as_ptr(),
                    M,
                    std::ptr::null(),
                    0,
                    u.as_mut_ptr(),
                    K,
                    WLRA_ROW_MAJOR,
                )
            },
            "wlra_transform",
        );
        // SAFETY: a live handle; refused, so it stays live.
        unsafe { wlra_destroy(model.0) };
        let message = last_error(std::ptr::null());
        assert!(
            message.starts_with("wlra_destroy: the model is busy")
                && message.contains("not destroyed"),
            "message: {message}"
        );
        assert_eq!(value, -1.0, "a refused call wrote its output");
        release_tx.send(()).unwrap();
        let status = fitter.join().unwrap();
        (status, factors(model))
    });
    assert!(
        gate.released.load(Ordering::SeqCst),
        "the callback timed out"
    );
    assert_eq!(first_status, WLRA_OK, "{}", last_error(model.0));
    let err = relative_error(&d, &first_factors);
    assert!(err <= 1e-6, "relative error {err}");
    // The refused calls changed nothing: the thread count is still the
    // default, and a second fit gives the same bits.
    let mut threads = -1.0;
    // SAFETY: a live handle; one writable double.
    let status = unsafe { wlra_get_option(model.0, WLRA_OPTION_THREADS, &mut threads) };
    assert_eq!((status, threads), (WLRA_OK, 0.0));
    assert_eq!(fit(model, &d), WLRA_OK, "{}", last_error(model.0));
    assert!(factors(model) == first_factors, "the second fit differs");
    // SAFETY: a live handle, destroyed once; no fit runs now.
    unsafe { wlra_destroy(model.0) };
}

/// Issue 15 row 4, without any synchronization: two threads fitting one
/// model get OK or BUSY, never hang, and the model ends with the factors a
/// lone fit gives. (Each BUSY overlaps a fit that returns OK, so at least
/// one fit is OK.)
#[test]
fn two_threads_fitting_one_model_get_ok_or_busy() {
    const ROUNDS: usize = 6;
    let d = Arc::new(data());
    let reference = create(K);
    assert_eq!(fit(reference, &d), WLRA_OK);
    let expected = factors(reference);
    // SAFETY: a live handle, destroyed once.
    unsafe { wlra_destroy(reference.0) };

    let model = create(K);
    let (done_tx, done_rx) = mpsc::channel();
    for _ in 0..2 {
        let (d, done) = (Arc::clone(&d), done_tx.clone());
        std::thread::spawn(move || {
            let statuses: Vec<wlra_status> = (0..ROUNDS).map(|_| fit(model, &d)).collect();
            let _ = done.send(statuses);
        });
    }
    let mut all = Vec::new();
    for _ in 0..2 {
        // A hang is a failure, not a stuck test run.
        let statuses = done_rx
            .recv_timeout(BOUND)
            .expect("two fits on one model hung");
        all.extend(statuses);
    }
    assert!(
        all.iter().all(|&s| s == WLRA_OK || s == WLRA_ERROR_BUSY),
        "statuses {all:?}"
    );
    let ok = all.iter().filter(|&&s| s == WLRA_OK).count();
    assert!(ok >= 1, "statuses {all:?}");
    println!("{ok} fits OK, {} BUSY of {}", all.len() - ok, all.len());
    assert!(
        factors(model) == expected,
        "the shared model's factors differ"
    );
    // SAFETY: a live handle, destroyed once; both threads have finished.
    unsafe { wlra_destroy(model.0) };
}

/// A valid 3 x 4 CSR input; each case below breaks one thing.
struct Csr {
    n_rows: usize,
    n_cols: usize,
    row_ptr: Vec<i64>,
    col_idx: Vec<i64>,
    m: Vec<f64>,
    w: Vec<f64>,
}

fn valid_csr() -> Csr {
    Csr {
        n_rows: 3,
        n_cols: 4,
        row_ptr: vec![0, 2, 3, 4],
        col_idx: vec![0, 2, 1, 3],
        m: vec![1.0, 2.0, 3.0, 4.0],
        w: vec![1.0, 0.5, 2.0, 1.0],
    }
}

fn sparse_problem(c: &Csr) -> Result<SparseProblem, Error> {
    SparseProblem::new(&CsrInput {
        n_rows: c.n_rows,
        n_cols: c.n_cols,
        row_ptr: &c.row_ptr,
        col_idx: &c.col_idx,
        m_values: &c.m,
        w_values: Some(&c.w),
        m_default: 0.0,
        w_default: 1.0,
    })
}

/// Issue 15 row 11: `SparseProblem::new` returns `Err` for every malformed
/// input (cargo-fuzz found a panic on a short row_ptr).
#[test]
fn sparse_problem_new_rejects_malformed_input_without_panicking() {
    assert!(sparse_problem(&valid_csr()).is_ok());
    type Break = fn(&mut Csr);
    let cases: [(&str, Break, &str); 12] = [
        ("short row_ptr", |c| c.row_ptr.truncate(3), "row_ptr has 3 entries, n_rows + 1 = 4"),
        ("empty row_ptr", |c| c.row_ptr.clear(), "row_ptr has 0 entries, n_rows + 1 = 4"),
        ("long row_ptr", |c| c.row_ptr.push(4), "row_ptr has 5 entries, n_rows + 1 = 4"),
        ("short col_idx", |c| c.col_idx.truncate(3), "col_idx has 3 entries, row_ptr[n_rows] = 4"),
        ("short m_values", |c| c.m.truncate(2), "m_values has 2 entries, row_ptr[n_rows] = 4"),
        ("short w_values", |c| c.w.truncate(1), "w_values has 1 entries, row_ptr[n_rows] = 4"),
        (
            "row_ptr past the arrays",
            |c| c.row_ptr[3] = 7,
            "col_idx has 4 entries, row_ptr[n_rows] = 7",
        ),
        (
            "a row longer than n_cols",
            |c| c.row_ptr[3] = 9,
            "row 2: row_ptr[3] - row_ptr[2] = 6 entries, more than n_cols = 4",
        ),
        (
            "decreasing row_ptr",
            |c| c.row_ptr[1] = -1,
            "row 0: row_ptr[1] = -1 is less than row_ptr[0] = 0 (row_ptr must not decrease)",
        ),
        (
            "n_cols = usize::MAX",
            |c| c.n_cols = usize::MAX,
            "n_cols = 18446744073709551615 is too large: the pattern's n_cols + 1 offsets cannot be addressed",
        ),
        (
            "n_rows = usize::MAX",
            |c| c.n_rows = usize::MAX,
            "n_rows = 18446744073709551615 is too large: the pattern's n_rows + 1 offsets cannot be addressed",
        ),
        (
            "n_rows = 0",
            |c| c.n_rows = 0,
            "n_rows = 0 and n_cols = 4 must both be at least 1",
        ),
    ];
    for (what, break_it, message) in cases {
        let mut c = valid_csr();
        break_it(&mut c);
        let result = std::panic::catch_unwind(|| sparse_problem(&c).map(|_| ()));
        match result {
            Ok(got) => assert_eq!(got, Err(Error::InvalidArgument(message.into())), "{what}"),
            Err(_) => panic!("{what}: SparseProblem::new panicked"),
        }
    }
}

const PANIC_CHILD: &str = "WLRA_RELIABILITY_PANIC_CHILD";
static HOST_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

/// Issue 15 row 12: a panic caught at the C boundary prints nothing on
/// stderr, even with RUST_BACKTRACE=1, on the calling thread and on the
/// model's pool workers; its text is in wlra_last_error, the busy lease is
/// released, and a panic in the host's own code still reaches the host's
/// hook. Runs in a child process (this binary again), whose stderr is the
/// one a host would see.
#[test]
fn internal_panics_print_nothing_and_keep_the_host_hook() {
    if std::env::var_os(PANIC_CHILD).is_some() {
        return panic_child();
    }
    let test = "internal_panics_print_nothing_and_keep_the_host_hook";
    let env = [(PANIC_CHILD, "1"), ("RUST_BACKTRACE", "1")];
    let (stdout, stderr) = common::run_test_in_child(test, &env);
    assert_eq!(stderr, "", "the library printed on the host's stderr");
    for line in [
        "calling thread: status 9: internal error (please report): wlra panic probe on the calling thread",
        "pool worker: status 9: internal error (please report): wlra panic probe on a pool worker",
        "after the panics: set_option 0, fit 0",
        "host hook: the host's own panic",
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line {line:?} in:\n{stdout}");
    }
}

fn panic_child() {
    // The host's hook, installed before its first call into the library.
    std::panic::set_hook(Box::new(|info| {
        HOST_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
        let text = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .unwrap_or("?");
        println!("host hook: {text}");
    }));
    let d = data();
    let model = create(K);
    for (on_pool_worker, place) in [(false, "calling thread"), (true, "pool worker")] {
        // SAFETY: a live handle.
        let status = unsafe { wlra::internals::boundary_panic_probe(model.0, on_pool_worker) };
        assert_eq!(last_error(model.0), last_error(std::ptr::null()));
        println!("{place}: status {status}: {}", last_error(model.0));
    }
    assert_eq!(
        HOST_HOOK_CALLS.load(Ordering::SeqCst),
        0,
        "the library's panics reached the host hook"
    );
    // The lease was released on the way out of each panic.
    // SAFETY: a live handle.
    let set = unsafe { wlra_set_option(model.0, WLRA_OPTION_THREADS, 2.0) };
    println!("after the panics: set_option {set}, fit {}", fit(model, &d));
    let host = std::panic::catch_unwind(|| panic!("the host's own panic"));
    assert!(host.is_err());
    assert_eq!(HOST_HOOK_CALLS.load(Ordering::SeqCst), 1);
    // SAFETY: a live handle, destroyed once.
    unsafe { wlra_destroy(model.0) };
}

/// Issue 15 row 13: values in messages print like C's %g (a weight of
/// -1e-300 or a thread count of 1e300 printed 300 digits).
#[test]
fn messages_print_values_like_percent_g() {
    let mut model = Model::new(2).unwrap();
    let option_cases = [
        (
            WLRA_OPTION_THREADS,
            1e300,
            "WLRA_OPTION_THREADS = 1e+300 must be an integer in [0, 4096]",
        ),
        (
            WLRA_OPTION_SEED,
            -1e-300,
            "WLRA_OPTION_SEED = -1e-300 must be an integer in [0, 9007199254740992]",
        ),
        (
            WLRA_OPTION_TOLERANCE,
            -1e300,
            "WLRA_OPTION_TOLERANCE = -1e+300 must be finite and >= 0",
        ),
        (
            WLRA_OPTION_SKETCH_SIZE_FACTOR,
            0.123456789,
            "WLRA_OPTION_SKETCH_SIZE_FACTOR = 0.123457 must be finite and >= 1",
        ),
        (
            WLRA_OPTION_REGRESSION_TOLERANCE,
            1e300,
            "WLRA_OPTION_REGRESSION_TOLERANCE = 1e+300 must be in (0, 1)",
        ),
        (
            WLRA_OPTION_OVERRELAXATION,
            1e300,
            "WLRA_OPTION_OVERRELAXATION = 1e+300 must be in (0, 2)",
        ),
    ];
    for (option, value, message) in option_cases {
        assert_eq!(
            model.set_option(option, value),
            Err(Error::InvalidArgument(message.into()))
        );
    }
    // The same text through the C ABI.
    let handle = create(2);
    // SAFETY: a live handle.
    let status = unsafe { wlra_set_option(handle.0, WLRA_OPTION_THREADS, 1e300) };
    assert_eq!(status, WLRA_ERROR_INVALID_ARGUMENT);
    assert_eq!(last_error(handle.0), option_cases[0].2);
    // SAFETY: a live handle, destroyed once.
    unsafe { wlra_destroy(handle.0) };

    let data = faer::Mat::<f64>::zeros(4, 3);
    let mut weights = faer::Mat::<f64>::from_fn(4, 3, |_, _| 1.0);
    weights[(1, 2)] = -1e-300;
    assert_eq!(
        model.fit(DenseProblem::new(data.as_ref(), Some(weights.as_ref()))),
        Err(Error::NegativeWeight(
            "W[1, 2] = -1e-300 is negative".into()
        ))
    );
    let mut c = valid_csr();
    c.w[1] = -1e-300;
    assert_eq!(
        sparse_problem(&c).map(|_| ()),
        Err(Error::NegativeWeight(
            "row 0: w_values[1] = -1e-300 is negative".into()
        ))
    );
    let c = valid_csr();
    let input = |m_default: f64, w_default: f64| CsrInput {
        n_rows: c.n_rows,
        n_cols: c.n_cols,
        row_ptr: &c.row_ptr,
        col_idx: &c.col_idx,
        m_values: &c.m,
        w_values: None,
        m_default,
        w_default,
    };
    assert_eq!(
        SparseProblem::new(&input(0.0, -1e-300)).map(|_| ()),
        Err(Error::NegativeWeight(
            "w_default = -1e-300 is negative".into()
        ))
    );
    assert_eq!(
        SparseProblem::new(&input(f64::NAN, 1e300)).map(|_| ()),
        Err(Error::NonFiniteInput(
            "m_default = NaN and w_default = 1e+300 must be finite".into()
        ))
    );
}

const POOL_CHILD: &str = "WLRA_RELIABILITY_POOL_CHILD";

/// wlra_destroy returns only after the model's pool threads have exited
/// (a host may dlclose the library next), and changing the thread count
/// joins the old pool before starting the new one. In a child process
/// (this binary again), so no other test's threads are counted.
#[test]
fn destroy_joins_the_models_pool_threads() {
    if std::env::var_os(POOL_CHILD).is_some() {
        return pool_child();
    }
    let test = "destroy_joins_the_models_pool_threads";
    let (stdout, _) = common::run_test_in_child(test, &[(POOL_CHILD, "1")]);
    for line in ["during: 3", "after the change: 2", "after destroy: 0"] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no line {line:?} in:\n{stdout}"
        );
    }
}

fn pool_child() {
    let d = data();
    let model = create(K);
    // SAFETY: a live handle throughout, destroyed once at the end.
    unsafe {
        assert_eq!(wlra_set_option(model.0, WLRA_OPTION_THREADS, 3.0), WLRA_OK);
        assert_eq!(fit(model, &d), WLRA_OK);
        println!("during: {}", library_threads());
        assert_eq!(wlra_set_option(model.0, WLRA_OPTION_THREADS, 2.0), WLRA_OK);
        assert_eq!(fit(model, &d), WLRA_OK);
        println!("after the change: {}", library_threads());
        wlra_destroy(model.0);
    }
    println!("after destroy: {}", library_threads());
}
