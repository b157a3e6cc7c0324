//! The exact half-step against faer's GEMM on the same threads, and the
//! peak extra memory of a whole fit (issue 3, item 8).
//!
//!     cargo bench --bench halfstep                           # n = m = 4000, k = 32
//!     cargo bench --bench halfstep -- 4000 16 32 64 128 256  # n = m = 4000, several k
//!
//! The half-step's Gram work is n m k (k+1) flops (symmetric Grams); the
//! baseline is the GEMM of the same shape, (n x m) * (m x k(k+1)/2), on the
//! same threads in the same run. Then an exact alternating fit's seconds
//! per iteration against two of those half-steps (issue 29: within 1.25x;
//! what an iteration does beyond them: the fixed factor's QR, the
//! objective, copies). The memory figures are for the first k.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use std::time::Instant;
use wlra::internals::orthonormal_basis;
use wlra::internals::ExactSolver;
use wlra::internals::{HalfStep, HalfStepSolver};
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;
#[path = "common/machine.rs"]
mod machine;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn pseudo_random(n: usize, m: usize, seed: u64, lo: f64, hi: f64) -> Mat<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Mat::from_fn(n, m, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        lo + (hi - lo) * ((state >> 11) as f64 / (1u64 << 53) as f64)
    })
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(4000);
    let ks = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![32]
    };
    let m = n;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let list = ks
        .iter()
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    println!("{}", machine::describe());
    println!("# cargo bench --bench halfstep -- {n} {list}   (n = m = {n}, {threads} threads)");
    let data = pseudo_random(n, m, 1, -1.0, 1.0);
    let weights = pseudo_random(n, m, 2, 0.1, 1.0);
    let problem = DenseProblem::new(data.as_ref(), Some(weights.as_ref()));
    for &k in &ks {
        compare_with_gemm(&pool, &problem, k);
    }
    memory(&pool, &problem, ks[0]);
}

/// The half-step the benchmark times: Y fixed, no ridge, no warm start.
fn exact_step<'a>(problem: &DenseProblem<'a>, y: faer::MatRef<'a, f64>) -> HalfStep<'a> {
    HalfStep {
        problem: (*problem).into(),
        fixed: y,
        ridge: 0.0,
        ridge_scale: None,
        unpenalized: None,
        warm_start: None,
        fixed_orthonormal: false,
        par: faer::Par::rayon(0),
    }
}

/// One k: the exact half-step's Gram rate against the same-shape GEMM.
fn compare_with_gemm(pool: &rayon::ThreadPool, problem: &DenseProblem<'_>, k: usize) {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let threads = pool.current_num_threads();
    let weights = problem.weights().expect("weighted");
    let y = orthonormal_basis(pseudo_random(m, k, 3, -1.0, 1.0).as_ref()).unwrap();

    // Baseline: GEMM of the same shape as the Gram work, same pool and threads.
    let t = k * (k + 1) / 2;
    let outer = pseudo_random(m, t, 4, -1.0, 1.0);
    let mut product = Mat::<f64>::zeros(n, t);
    let gemm_flops = 2.0 * n as f64 * m as f64 * t as f64;
    let par = Par::rayon(threads);
    let runs = if k >= 128 { 1 } else { 3 };
    let gemm_seconds = best_of(runs, || {
        pool.install(|| {
            matmul(
                product.as_mut(),
                Accum::Replace,
                weights,
                outer.as_ref(),
                1.0,
                par,
            )
        })
    });
    let gemm_rate = gemm_flops / gemm_seconds / 1e9;
    drop(product);
    drop(outer);

    let step = exact_step(problem, y.as_ref());
    let half_seconds = best_of(runs, || pool.install(|| ExactSolver.solve(&step).unwrap()));
    let rhs_seconds = best_of(runs, || {
        pool.install(|| problem.weighted_data_times(y.as_ref(), faer::Par::rayon(0)))
    });
    let gram_flops = n as f64 * m as f64 * k as f64 * (k + 1) as f64;
    let half_rate = gram_flops / half_seconds / 1e9;
    println!("k = {k}:");
    println!(
        "  faer GEMM ({n} x {m}) * ({m} x {t}):  {gemm_seconds:8.3} s  {gemm_rate:7.1} GFLOP/s"
    );
    println!(
        "  exact half-step (Gram flops n m k (k+1)): {half_seconds:8.3} s  {half_rate:7.1} GFLOP/s  \
         = {:.0}% of GEMM",
        100.0 * half_rate / gemm_rate
    );
    println!(
        "  (a separate pass for the right-hand sides (W o M) Y would take {rhs_seconds:.3} s; \
         the half-step does them in its Gram pass)"
    );
    let iteration = exact_iteration_seconds(problem, k, threads);
    let objective_seconds = best_of(runs, || {
        pool.install(|| {
            wlra::internals::objective(&(*problem).into(), y.as_ref(), y.as_ref(), 0.0).unwrap()
        })
    });
    println!(
        "  exact alternating fit: {iteration:8.3} s per iteration = {:.2} x two half-steps \
         (issue 29: at most 1.25); of it the objective pass (U V^T blocks against W and M) \
         {objective_seconds:.3} s",
        iteration / (2.0 * half_seconds)
    );
}

/// Seconds per iteration of an exact alternating fit (tolerance 0, 6
/// iterations) on `threads` threads: between its first progress report
/// and its last, so the start and the setup are no iteration's.
fn exact_iteration_seconds(problem: &DenseProblem<'_>, k: usize, threads: usize) -> f64 {
    let mut model = Model::new(k).unwrap();
    for (id, value) in [
        (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
        (WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT as f64),
        (WLRA_OPTION_MAX_ITERATIONS, 6.0),
        (WLRA_OPTION_TOLERANCE, 0.0),
        (WLRA_OPTION_THREADS, threads as f64),
    ] {
        model.set_option(id, value).unwrap();
    }
    let marks = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = std::rc::Rc::clone(&marks);
    model.set_progress(Some(Box::new(move |_, _| {
        seen.borrow_mut().push(Instant::now());
        true
    })));
    model.fit(*problem).unwrap();
    let marks = marks.borrow();
    match (marks.first(), marks.last()) {
        (Some(first), Some(last)) if marks.len() > 1 => {
            last.duration_since(*first).as_secs_f64() / (marks.len() - 1) as f64
        }
        _ => f64::NAN,
    }
}

/// Peak extra memory of a half-step's parts and of whole fits, at rank k.
fn memory(pool: &rayon::ThreadPool, problem: &DenseProblem<'_>, k: usize) {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let problem = *problem;
    let y = orthonormal_basis(pseudo_random(m, k, 3, -1.0, 1.0).as_ref()).unwrap();
    let step = exact_step(&problem, y.as_ref());
    if std::env::var_os("WLRA_BENCH_MEMORY_DETAIL").is_some() {
        let measure = |name: &str, f: &dyn Fn()| {
            let before = counting_alloc::reset_peak();
            f();
            println!(
                "  peak extra of {name}: {:.1} MiB",
                counting_alloc::peak_since(before) as f64 / 1048576.0
            );
        };
        measure("half-step", &|| {
            pool.install(|| ExactSolver.solve(&step).unwrap());
        });
        measure("rhs", &|| {
            pool.install(|| {
                problem
                    .weighted_data_times(y.as_ref(), faer::Par::rayon(0))
                    .unwrap()
            });
        });
        measure("objective", &|| {
            pool.install(|| {
                wlra::internals::objective(&problem.into(), y.as_ref(), y.as_ref(), 0.0).unwrap()
            });
        });
        measure("svd init", &|| {
            pool.install(|| wlra::internals::svd_factors(&problem.into(), k, 0).unwrap());
        });
    }

    // Peak extra memory of a whole fit (3 iterations), over the live inputs.
    // The first fit on a new model also starts its thread pool, whose
    // threads keep faer's GEMM packing buffers; the second fit shows the
    // fit's own working memory.
    let mut model = Model::new(k).unwrap();
    model.set_option(WLRA_OPTION_MAX_ITERATIONS, 3.0).unwrap();
    model.set_option(WLRA_OPTION_TOLERANCE, 0.0).unwrap();
    let mut peaks = Vec::new();
    let mut fit_seconds = 0.0;
    for _ in 0..2 {
        let before = counting_alloc::reset_peak();
        let fit_start = Instant::now();
        model.fit(problem).unwrap();
        fit_seconds = fit_start.elapsed().as_secs_f64();
        peaks.push(counting_alloc::peak_since(before) as f64);
    }
    let (first, extra) = (peaks[0], peaks[1]);
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);
    let factors = ((n + m) * k * 8) as f64;
    let naive = n as f64 * m as f64 * (k * k) as f64 / 2.0 * 8.0;
    println!(
        "fit (SVD init + 3 iterations): {fit_seconds:.2} s; peak extra memory {:.1} MiB \
         = {:.1} x (n + m) k doubles ({:.1} MiB); all row Grams at once would need {:.0} MiB",
        mib(extra),
        extra / factors,
        mib(factors),
        mib(naive)
    );
    println!(
        "  (first fit on a new model, including its new threads' GEMM buffers: {:.1} MiB)",
        mib(first)
    );
}
