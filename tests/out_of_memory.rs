//! Running out of memory is a status, never an abort (issue 15, rows 5 and 6
//! and acceptance 4). Each case runs in a fresh child process (this test
//! binary run again with WLRA_OOM_CHILD set) under setrlimit(RLIMIT_AS): the
//! address space in use plus a headroom that is a fraction of what the
//! problem's factors alone take (8 (n + m) k bytes, a lower bound on any
//! fit's memory), so the fit cannot succeed whatever the machine. The child
//! fits a small problem on model A and on model B first (B's thread pool
//! then exists before the limit), then the big one on A under the limit, and
//! checks: status WLRA_ERROR_OUT_OF_MEMORY, a non-empty message, A's earlier
//! factors bit-identical, and B fitting again with WLRA_OK. The parent
//! asserts the child exited normally (an abort is a signal) and printed its
//! verdict.

mod common;

use common::vm_bytes;
use std::ffi::CStr;
use wlra::ffi::*;
use wlra::vocabulary::*;

const CHILD: &str = "WLRA_OOM_CHILD";
const THREADS: f64 = 2.0;

fn limit_address_space(headroom: u64) {
    let rlimit = libc::rlimit {
        rlim_cur: vm_bytes("VmSize:") + headroom,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rlimit) }, 0);
}

/// The input of a fit: dense (row-major, W = NULL for unit weights) or CSR.
enum Input {
    Dense {
        n: usize,
        m: usize,
        data: Vec<f64>,
        weights: Option<Vec<f64>>,
    },
    Csr {
        n: usize,
        m: usize,
        row_ptr: Vec<i64>,
        col_idx: Vec<i64>,
        values: Vec<f64>,
        w_default: f64,
    },
}

impl Input {
    fn shape(&self) -> (usize, usize) {
        match self {
            Input::Dense { n, m, .. } | Input::Csr { n, m, .. } => (*n, *m),
        }
    }
}

/// A seeded dense problem; weights in [0.1, 1] unless `unit`.
fn dense(n: usize, m: usize, unit: bool) -> Input {
    let mut state = 0x9E3779B97F4A7C15u64 ^ (n * 31 + m) as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let data = (0..n * m).map(|_| next() - 0.5).collect();
    let weights = (!unit).then(|| (0..n * m).map(|_| 0.1 + 0.9 * next()).collect());
    Input::Dense {
        n,
        m,
        data,
        weights,
    }
}

/// A CSR problem with `per_row` entries per row on a diagonal band.
fn csr(n: usize, m: usize, per_row: usize, w_default: f64) -> Input {
    let mut row_ptr = vec![0i64];
    let mut col_idx = Vec::with_capacity(n * per_row);
    for i in 0..n {
        let mut cols: Vec<i64> = (0..per_row)
            .map(|t| ((i * 7 + t * 13) % m) as i64)
            .collect();
        cols.sort_unstable();
        cols.dedup();
        col_idx.extend_from_slice(&cols);
        row_ptr.push(col_idx.len() as i64);
    }
    let values = (0..col_idx.len())
        .map(|p| ((p % 17) as f64) / 17.0 - 0.5)
        .collect();
    Input::Csr {
        n,
        m,
        row_ptr,
        col_idx,
        values,
        w_default,
    }
}

struct Model(*mut wlra_model);

impl Model {
    fn new(rank: usize) -> Model {
        let mut model = std::ptr::null_mut();
        // SAFETY: out_model points to a live pointer variable.
        assert_eq!(unsafe { wlra_create(rank, &mut model) }, WLRA_OK);
        let model = Model(model);
        model.set(WLRA_OPTION_THREADS, THREADS);
        model
    }

    fn set(&self, option: i32, value: f64) {
        // SAFETY: self.0 is a live model from wlra_create.
        assert_eq!(unsafe { wlra_set_option(self.0, option, value) }, WLRA_OK);
    }

    fn fit(&self, input: &Input) -> wlra_status {
        // SAFETY: every pointer below points to a live array of the length
        // its dimensions say (row-major, ld = n_cols).
        unsafe {
            match input {
                Input::Dense {
                    n,
                    m,
                    data,
                    weights,
                } => wlra_fit(
                    self.0,
                    *n,
                    *m,
                    data.as_ptr(),
                    *m,
                    weights.as_ref().map_or(std::ptr::null(), |w| w.as_ptr()),
                    *m,
                    WLRA_ROW_MAJOR,
                ),
                Input::Csr {
                    n,
                    m,
                    row_ptr,
                    col_idx,
                    values,
                    w_default,
                } => wlra_fit_csr(
                    self.0,
                    *n,
                    *m,
                    row_ptr.as_ptr(),
                    col_idx.as_ptr(),
                    values.as_ptr(),
                    std::ptr::null(),
                    0.0,
                    *w_default,
                ),
            }
        }
    }

    fn last_error(&self) -> String {
        // SAFETY: wlra_last_error never returns NULL and the text lives
        // until the next call on this model.
        unsafe { CStr::from_ptr(wlra_last_error(self.0)) }
            .to_string_lossy()
            .into_owned()
    }

    /// U and V (row-major) of the last fit of an n x m problem.
    fn factors(&self, n: usize, m: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
        let (mut u, mut v) = (vec![0.0; n * k], vec![0.0; m * k]);
        // SAFETY: u and v hold n k and m k doubles, ld = k.
        let status = unsafe {
            wlra_get_factors(self.0, u.as_mut_ptr(), k, v.as_mut_ptr(), k, WLRA_ROW_MAJOR)
        };
        assert_eq!(status, WLRA_OK, "{}", self.last_error());
        (u, v)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: self.0 came from wlra_create and is destroyed once.
        unsafe { wlra_destroy(self.0) }
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// One case: the options of the big fit, the big problem, the rank and the
/// headroom as a fraction of the big problem's factors (8 (n + m) k bytes).
struct Case {
    options: &'static [(i32, f64)],
    big: fn() -> Input,
    rank: usize,
    fraction: f64,
}

/// The child's side of `case`: prints `verdict=OK` when every check held.
fn child(case: &Case) {
    // Every allocation above 128 KiB maps fresh memory and unmaps it when
    // freed (no dynamic threshold): the limit then counts each large buffer
    // instead of letting the heap reuse what the small fits freed.
    // SAFETY: mallopt only changes the allocator's tuning.
    assert_eq!(
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) },
        1
    );
    // One arena: each thread's own arena reserves 64 MiB of address space
    // up front, room the limit would not count (measured: with them the
    // 4000 x 3000, k = 400 fit succeeded under 10.7 MiB of headroom).
    // SAFETY: as above.
    assert_eq!(unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) }, 1);
    let k = case.rank;
    // Small fits before the limit: unit weights, EXACT and one iteration,
    // cheap at any k (the rows share one Gram).
    let small = dense(k + 8, k + 4, true);
    let (sn, sm) = small.shape();
    // B is another model with a problem of its own, small enough to fit
    // in what the limit leaves whatever the case.
    let (a, b) = (Model::new(k), Model::new(2));
    let small_b = dense(40, 30, false);
    for (model, problem) in [(&a, &small), (&b, &small_b)] {
        model.set(WLRA_OPTION_SOLVER, f64::from(WLRA_SOLVER_EXACT));
        model.set(WLRA_OPTION_INIT, f64::from(WLRA_INIT_RANDOM));
        model.set(WLRA_OPTION_MAX_ITERATIONS, 1.0);
        assert_eq!(model.fit(problem), WLRA_OK, "{}", model.last_error());
    }
    let before = a.factors(sn, sm, k);
    for &(option, value) in case.options {
        a.set(option, value);
    }
    let big = (case.big)();
    let (n, m) = big.shape();
    let factor_bytes = 8.0 * ((n + m) * k) as f64;
    let headroom = (case.fraction * factor_bytes) as u64;
    limit_address_space(headroom);
    let status = a.fit(&big);
    let message = a.last_error();
    println!(
        "{n} x {m}, k = {k}, headroom {:.1} MiB: status {status} ({message})",
        headroom as f64 / 1048576.0
    );
    assert_eq!(status, WLRA_ERROR_OUT_OF_MEMORY, "{message}");
    assert!(!message.is_empty());
    let after = a.factors(sn, sm, k);
    assert!(
        bits(&after.0) == bits(&before.0) && bits(&after.1) == bits(&before.1),
        "the failed fit changed the earlier factors"
    );
    assert_eq!(b.fit(&small_b), WLRA_OK, "{}", b.last_error());
    println!("verdict=OK");
}

/// Run test `name` in a child process for `case` and check its verdict.
fn run(name: &str, case: Case) {
    if std::env::var_os(CHILD).is_some() {
        child(&case);
        return;
    }
    let (stdout, stderr) = common::run_test_in_child(name, &[(CHILD, "1")]);
    print!("{stdout}");
    assert!(
        stdout.contains("verdict=OK"),
        "the child gave no verdict:\n{stdout}\n{stderr}"
    );
}

const SVD: (i32, f64) = (WLRA_OPTION_INIT, WLRA_INIT_SVD as f64);
const RANDOM: (i32, f64) = (WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64);
const AUTO: (i32, f64) = (WLRA_OPTION_SOLVER, WLRA_SOLVER_AUTO as f64);
const EXACT: (i32, f64) = (WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT as f64);
const SKETCH: (i32, f64) = (WLRA_OPTION_SOLVER, WLRA_SOLVER_SKETCH as f64);
const SHARED_PCG: (i32, f64) = (WLRA_OPTION_SOLVER, WLRA_SOLVER_SHARED_PCG as f64);
const ALTERNATING: (i32, f64) = (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64);
const VARPRO: (i32, f64) = (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64);
const ACCELERATED: (i32, f64) = (WLRA_OPTION_METHOD, WLRA_METHOD_ACCELERATED as f64);
const TWO_ITERATIONS: (i32, f64) = (WLRA_OPTION_MAX_ITERATIONS, 2.0);

/// Half the start's factors: no fit of these problems can run.
const HALF: f64 = 0.5;
/// Exactly the start's factors: the start fits, the first half-step's
/// solution (n x k beside them) cannot.
const FACTORS_ONLY: f64 = 1.0;

/// Dense 4000 x 3000 with weights, k = 400: 21 MiB of factors.
fn big_dense() -> Input {
    dense(4000, 3000, false)
}
const BIG_DENSE_RANK: usize = 400;

/// CSR 200000 x 100000, four entries a row, k = 64: 147 MiB of factors.
fn big_csr() -> Input {
    csr(200_000, 100_000, 4, 0.0)
}
/// The same pattern with every other entry weighing 0.5 (implicit feedback).
fn big_implicit_csr() -> Input {
    csr(200_000, 100_000, 4, 0.5)
}
const BIG_CSR_RANK: usize = 64;

fn dense_case(options: &'static [(i32, f64)]) -> Case {
    Case {
        options,
        big: big_dense,
        rank: BIG_DENSE_RANK,
        fraction: HALF,
    }
}

fn csr_case(options: &'static [(i32, f64)], big: fn() -> Input) -> Case {
    Case {
        options,
        big,
        rank: BIG_CSR_RANK,
        fraction: HALF,
    }
}

// Acceptance 4: every solver, outer method and start, dense and CSR.

#[test]
fn dense_exact_is_out_of_memory() {
    run(
        "dense_exact_is_out_of_memory",
        dense_case(&[EXACT, ALTERNATING, SVD]),
    );
}

#[test]
fn dense_sketch_is_out_of_memory() {
    run(
        "dense_sketch_is_out_of_memory",
        dense_case(&[SKETCH, ALTERNATING, SVD]),
    );
}

#[test]
fn dense_shared_pcg_is_out_of_memory() {
    let case = dense_case(&[SHARED_PCG, ALTERNATING, RANDOM]);
    run("dense_shared_pcg_is_out_of_memory", case);
}

#[test]
fn dense_auto_is_out_of_memory() {
    run("dense_auto_is_out_of_memory", dense_case(&[AUTO, SVD]));
}

#[test]
fn dense_accelerated_is_out_of_memory() {
    let case = dense_case(&[AUTO, ACCELERATED, RANDOM]);
    run("dense_accelerated_is_out_of_memory", case);
}

#[test]
fn dense_varpro_is_out_of_memory() {
    run("dense_varpro_is_out_of_memory", dense_case(&[VARPRO, SVD]));
}

#[test]
fn csr_exact_is_out_of_memory() {
    let case = csr_case(&[EXACT, ALTERNATING, SVD], big_csr);
    run("csr_exact_is_out_of_memory", case);
}

#[test]
fn csr_sketch_is_out_of_memory() {
    let case = csr_case(&[SKETCH, ALTERNATING, RANDOM], big_csr);
    run("csr_sketch_is_out_of_memory", case);
}

#[test]
fn csr_jacobi_cg_is_out_of_memory() {
    let case = csr_case(&[SHARED_PCG, ALTERNATING, RANDOM], big_csr);
    run("csr_jacobi_cg_is_out_of_memory", case);
}

#[test]
fn csr_implicit_feedback_jacobi_cg_is_out_of_memory() {
    let case = csr_case(&[SHARED_PCG, ACCELERATED, SVD], big_implicit_csr);
    run("csr_implicit_feedback_jacobi_cg_is_out_of_memory", case);
}

#[test]
fn csr_auto_is_out_of_memory() {
    run(
        "csr_auto_is_out_of_memory",
        csr_case(&[AUTO, SVD], big_implicit_csr),
    );
}

/// VarPro on CSR where it really runs: 64 free columns at k = 32 (2048
/// unknowns), 400000 eliminated rows: 98 MiB of factors.
#[test]
fn csr_varpro_is_out_of_memory() {
    let case = Case {
        options: &[VARPRO, RANDOM],
        big: || csr(400_000, 64, 2, 0.0),
        rank: 32,
        fraction: HALF,
    };
    run("csr_varpro_is_out_of_memory", case);
}

// Rows 5 and 6 of the table, scaled down, the same failing sites.

/// Row 5: a 20000 x 20000 fit at k = 10000 under 4 GB aborted allocating
/// the start's n x k factor (1.6e9 bytes). Here 4000 x 3000 at k = 400
/// with room for half the factors: the start's first n x k block fails.
#[test]
fn start_larger_than_the_address_space_is_out_of_memory() {
    run(
        "start_larger_than_the_address_space_is_out_of_memory",
        dense_case(&[]),
    );
}

/// Row 5: SHARED_PCG at 2000 x 2000, k = 2000 under 2 GB aborted in the
/// half-step. Here 500 x 4000 at k = 500 (full rank) with room for the
/// factors only: the start fits, the half-step's buffers beside it (an
/// m x k design and k x k scratch per thread) do not. Eight times the
/// small fit before it, so what that fit freed cannot hold this one.
#[test]
fn shared_pcg_at_full_rank_is_out_of_memory() {
    let case = Case {
        options: &[SHARED_PCG, ALTERNATING, RANDOM, TWO_ITERATIONS],
        big: || dense(500, 4000, false),
        rank: 500,
        fraction: FACTORS_ONLY,
    };
    run("shared_pcg_at_full_rank_is_out_of_memory", case);
}

/// Row 5: `wlra_fit_csr` with n_cols = 2^40 aborted allocating the pattern
/// by columns (8.8e12 bytes). Now OUT_OF_MEMORY, whatever the limit.
#[test]
fn csr_with_2_to_the_40_columns_is_out_of_memory() {
    let case = Case {
        options: &[],
        big: || csr(4, 1 << 40, 2, 0.0),
        rank: 1,
        // 2^40 columns x 8 bytes x 1e-5: 84 MiB.
        fraction: 1e-5,
    };
    run("csr_with_2_to_the_40_columns_is_out_of_memory", case);
}

/// Row 6: SKETCH at 2000 x 2000, k = 2000 under 2 GB gave INTERNAL
/// ("called `Result::unwrap()` on an `Err` value: AllocError": faer's
/// scratch from `MemBuffer::new`). Here 500 x 500 at k = 500 with room for
/// four times the factors: the per-row QR scratch and the n k x k
/// preconditioners do not fit.
#[test]
fn sketch_at_full_rank_is_out_of_memory() {
    let case = Case {
        options: &[SKETCH, ALTERNATING, RANDOM, TWO_ITERATIONS],
        big: || dense(500, 500, false),
        rank: 500,
        fraction: 4.0,
    };
    run("sketch_at_full_rank_is_out_of_memory", case);
}

/// Row 6: AUTO at 2000 x 2000, k = 2000 under 2 GB gave INTERNAL, as
/// SKETCH. Here 500 x 4000 at k = 500 with room for the factors only (the
/// SVD start's range finder and faer's SVD scratch come first).
#[test]
fn auto_at_full_rank_is_out_of_memory() {
    let case = Case {
        options: &[AUTO, SVD, TWO_ITERATIONS],
        big: || dense(500, 4000, false),
        rank: 500,
        fraction: FACTORS_ONLY,
    };
    run("auto_at_full_rank_is_out_of_memory", case);
}

/// Row 6: CSR 200000 x 100000 under 4 GB gave INTERNAL. Here k = 64 with
/// room for half the factors.
#[test]
fn large_csr_is_out_of_memory() {
    run("large_csr_is_out_of_memory", csr_case(&[], big_csr));
}
