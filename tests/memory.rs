//! What a first fit costs in memory, as the kernel counts it (issue 12): each
//! case runs in a fresh child process (this test binary run again with
//! WLRA_MEMORY_CHILD set), so the new thread pool and its GEMM buffers are part
//! of what is measured. Limits are formulas of the problem and the thread
//! count, never of the machine's caches.

use wlra::vocabulary::*;
use wlra::{DenseProblem, Error, Model};

mod common;

use common::vm_bytes;

const CHILD: &str = "WLRA_MEMORY_CHILD";
const MIB: u64 = 1 << 20;
const THREADS: u64 = 2;
const N: usize = 4000;
const K: usize = 32;

/// The dense 4000 x 4000 problem of the acceptance test: random data and
/// weights in [0.1, 1], built without temporaries so the resident peak
/// before the fit is the inputs themselves.
fn inputs() -> (faer::Mat<f64>, faer::Mat<f64>) {
    let mut rng = common::Rng::new(12);
    (
        rng.uniform_mat(N, N, -1.0, 1.0),
        rng.uniform_mat(N, N, 0.1, 1.0),
    )
}

fn fit_first_time(data: &faer::Mat<f64>, weights: &faer::Mat<f64>) -> Result<(), Error> {
    let mut model = Model::new(K)?;
    model.set_option(WLRA_OPTION_THREADS, THREADS as f64)?;
    model.set_option(WLRA_OPTION_MAX_ITERATIONS, 2.0)?;
    model.set_option(WLRA_OPTION_TOLERANCE, 0.0)?;
    model.fit(DenseProblem::new(data.as_ref(), Some(weights.as_ref())))
}

/// Run `test` alone in a fresh process as child `mode`; its stdout.
fn run_child(test: &str, mode: &str) -> String {
    common::run_test_in_child(test, &[(CHILD, mode)]).0
}

/// The value of `name=<u64>` in a child's output.
fn reported(stdout: &str, name: &str) -> u64 {
    stdout
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("child printed no {name}:\n{stdout}"))
        .parse()
        .expect("a number")
}

/// Resident growth allowed for a first fit: 64 MiB plus the factors' 8 (n + m) k
/// bytes per thread (the bound).
fn resident_limit(n: usize, m: usize, k: usize, threads: u64) -> u64 {
    64 * MIB + threads * (8 * (n + m) * k) as u64
}

/// Address-space growth allowed: the resident limit plus 96 MiB per pool
/// thread for its stack and allocator arena.
fn address_limit(n: usize, m: usize, k: usize, threads: u64) -> u64 {
    resident_limit(n, m, k, threads) + threads * 96 * MIB
}

#[test]
fn first_dense_fit_memory_is_bounded_by_the_problem() {
    const NAME: &str = "first_dense_fit_memory_is_bounded_by_the_problem";
    if std::env::var_os(CHILD).is_some() {
        let (data, weights) = inputs();
        let (hwm, peak) = (vm_bytes("VmHWM:"), vm_bytes("VmPeak:"));
        fit_first_time(&data, &weights).expect("the fit");
        println!(
            "resident_growth={} address_growth={}",
            vm_bytes("VmHWM:") - hwm,
            vm_bytes("VmPeak:") - peak
        );
        return;
    }
    let out = run_child(NAME, "measure");
    let (resident, address) = (
        reported(&out, "resident_growth"),
        reported(&out, "address_growth"),
    );
    let (r_limit, a_limit) = (
        resident_limit(N, N, K, THREADS),
        address_limit(N, N, K, THREADS),
    );
    println!(
        "first fit, n = m = {N}, k = {K}, {THREADS} threads: resident +{:.1} MiB (limit {:.1}), \
         address space +{:.1} MiB (limit {:.1}); GEMM buffer {:.1} MiB per thread",
        resident as f64 / MIB as f64,
        r_limit as f64 / MIB as f64,
        address as f64 / MIB as f64,
        a_limit as f64 / MIB as f64,
        wlra::internals::gemm_workspace_bytes_per_thread() as f64 / MIB as f64
    );
    assert!(
        resident <= r_limit,
        "resident growth {resident} > {r_limit}"
    );
    assert!(
        address <= a_limit,
        "address-space growth {address} > {a_limit}"
    );
}

/// Under `ulimit -v` a first fit returns OK or OUT_OF_MEMORY and the process
/// lives on: at 200 MiB of headroom (the case: OK), at 16 MiB (too
/// little for the GEMM buffers) and at 4 MiB (too little for the threads).
#[test]
fn fit_under_an_address_space_limit_never_aborts() {
    const NAME: &str = "fit_under_an_address_space_limit_never_aborts";
    if let Some(mode) = std::env::var_os(CHILD) {
        let headroom: u64 = mode.to_str().and_then(|s| s.parse().ok()).expect("MiB");
        let (data, weights) = inputs();
        let limit = vm_bytes("VmSize:") + headroom * MIB;
        let rlimit = libc::rlimit {
            rlim_cur: limit,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads the struct we pass and nothing else.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
        let verdict = match fit_first_time(&data, &weights) {
            Ok(()) => "OK".to_string(),
            Err(Error::OutOfMemory(msg)) => format!("OUT_OF_MEMORY ({msg})"),
            Err(e) => format!("unexpected {e:?}"),
        };
        println!("headroom {headroom} MiB: {verdict}");
        return;
    }
    for headroom in [200, 16, 4] {
        let out = run_child(NAME, &headroom.to_string());
        let line = out
            .lines()
            .find_map(|l| l.find("headroom ").map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("no verdict:\n{out}"));
        println!("{line}");
        assert!(
            line.ends_with(": OK") || line.contains(": OUT_OF_MEMORY ("),
            "{line}"
        );
        if headroom == 200 {
            assert!(
                line.ends_with(": OK"),
                "200 MiB is enough for this fit: {line}"
            );
        }
    }
}
