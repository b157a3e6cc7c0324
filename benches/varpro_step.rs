//! The cost of one VarPro step against its flop count (issue 25, acceptance
//! 4): on each missing-data problem, explicit VARPRO from the SVD start
//! without restarts for a fixed number of iterations, the seconds per
//! iteration beside the flops one iteration performs at the rate of a faer
//! GEMM of 1000 x 1000 matrices measured in the same run on the same
//! threads. An iteration assembles the Gauss-Newton matrix once (sum over
//! eliminated rows of (entries k)^2) and then takes damping trials until
//! one lowers the objective, each a Cholesky factor ((p k)^3 / 3) and an
//! elimination at the trial point (3 k^2 per entry); the trials are
//! counted (`varpro_trial_tally`), and the table prints the ratio both
//! with the step's own trials and as if it had taken one. A step's seconds
//! are those between the first iteration's progress report and the last,
//! over the steps between: the fit's setup (the SVD start, the pair plan)
//! is no step's; the fit's seconds per iteration, setup included, are
//! printed beside them.
//!
//!     cargo bench --bench varpro_step             # up to 30 iterations, 1 thread
//!     cargo bench --bench varpro_step -- 10 2     # 10 iterations, 2 threads
//!     cargo bench --bench varpro_step -- 10 1 um_boy   # one problem by name
//!
//! Then each part of a step alone against its flops (multiply and add
//! counted as two): the elimination of the larger side (3 k^2 + 8 k per
//! entry, 1.5 k^3 per row), the assembly of the Gauss-Newton matrix
//! (2 k^2 + 3 k per pair of entries sharing an eliminated row, 4 k per
//! entry for the gradient) and one damped solve ((pk)^3 / 3 for the
//! Cholesky factor, 6 (pk)^2 for the solves and the prediction).
//!
//! Seconds on one thread are the process's CPU seconds: on a quiet
//! machine the same as the wall clock, on a loaded one they leave out the
//! time other processes ran. On more threads they are wall seconds.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use std::cell::RefCell;
use std::rc::Rc;
use wlra::internals::{process_cpu_seconds, step_parts, varpro_trial_tally};
use wlra::problem::Problem;
use wlra::vocabulary::*;
use wlra::vocabulary::{WLRA_INFO_ITERATIONS, WLRA_INFO_METHOD_USED};
use wlra::{DenseProblem, Model};
#[path = "../tests/common/lrmf.rs"]
mod lrmf;
#[path = "common/machine.rs"]
mod machine;

/// The flops of a VarPro iteration, as `outer::varpro::cost` counts them:
/// the free side is the one with fewer rows, eliminated rows are the
/// other side's.
struct StepFlops {
    unknowns: usize,
    /// The Gauss-Newton matrix's assembly, once per iteration.
    assembly: f64,
    /// A damping trial: the Cholesky factor and the elimination.
    trial: f64,
}

fn step_flops(p: &lrmf::LrmfProblem) -> StepFlops {
    let (n, m, k) = (p.m.nrows(), p.m.ncols(), p.rank as f64);
    let (free, eliminated_by_rows) = if n <= m { (n, false) } else { (m, true) };
    let count = |e: usize| -> usize {
        if eliminated_by_rows {
            (0..m).filter(|&j| p.w[(e, j)] > 0.0).count()
        } else {
            (0..n).filter(|&i| p.w[(i, e)] > 0.0).count()
        }
    };
    let q = if eliminated_by_rows { n } else { m };
    let (mut assembly, mut entries) = (0.0, 0.0);
    for e in 0..q {
        let c = count(e) as f64;
        assembly += (c * k).powi(2);
        entries += c;
    }
    let unknowns = free * p.rank;
    StepFlops {
        unknowns,
        assembly,
        trial: 3.0 * entries * k * k + (unknowns as f64).powi(3) / 3.0,
    }
}

/// Seconds on one thread: the process's CPU seconds, which leave out the
/// time other processes ran on a loaded machine. On more: the wall clock
/// (CPU seconds would count a thread left idle as no time at all).
fn clock(threads: usize) -> fn() -> f64 {
    fn wall() -> f64 {
        use std::sync::OnceLock;
        static START: OnceLock<std::time::Instant> = OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
    }
    if threads == 1 {
        process_cpu_seconds
    } else {
        wall
    }
}

fn gemm_rate(threads: usize) -> f64 {
    let n = 1000;
    let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64 - 8.0);
    let b = Mat::from_fn(n, n, |i, j| ((i * 5 + j * 3) % 11) as f64 - 5.0);
    let mut c = Mat::<f64>::zeros(n, n);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let par = if threads == 1 {
        Par::Seq
    } else {
        Par::rayon(threads)
    };
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let now = clock(threads);
        let started = now();
        pool.install(|| matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, par));
        best = best.min(now() - started);
    }
    2.0 * (n as f64).powi(3) / best / 1e9
}

fn main() {
    println!("{}", machine::describe());
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let iterations = args.first().copied().unwrap_or(30);
    let threads = args.get(1).copied().unwrap_or(1);
    println!("# cargo bench --bench varpro_step -- {iterations} {threads}");
    let rate = gemm_rate(threads);
    println!("faer GEMM 1000 x 1000, {threads} threads: {rate:.1} GFLOP/s");
    println!(
        "| problem | unknowns | trials per step | GFLOP per step | s per step | s per iteration, setup included | at GEMM rate | ratio | ratio if one trial |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // Problems by name after the numbers (dino, face, giraffe, um_boy);
    // without names all four.
    let names: Vec<String> = std::env::args()
        .skip(1)
        // cargo bench appends its own flag (--bench).
        .filter(|a| a.parse::<usize>().is_err() && !a.starts_with("--"))
        .collect();
    type Loader = fn() -> lrmf::LrmfProblem;
    let loaders: [(&str, Loader); 4] = [
        ("dino", lrmf::dinosaur),
        ("face", lrmf::face),
        ("giraffe", lrmf::giraffe),
        ("um_boy", lrmf::um_boy),
    ];
    let wanted =
        |name: &str| names.is_empty() || names.iter().any(|n| name.starts_with(n.as_str()));
    let problems: Vec<lrmf::LrmfProblem> = loaders
        .iter()
        .filter(|(name, _)| wanted(name))
        .map(|(_, load)| load())
        .collect();
    for p in &problems {
        let flops = step_flops(p);
        let mut model = Model::new(p.rank).unwrap();
        for (id, value) in [
            (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
            (WLRA_OPTION_RESTARTS, 0.0),
            (WLRA_OPTION_MAX_ITERATIONS, iterations as f64),
            (WLRA_OPTION_THREADS, threads as f64),
        ] {
            model.set_option(id, value).unwrap();
        }
        // (seconds, damping trials so far) at each iteration's progress
        // report: the steps between the first report and the last, so the
        // fit's setup (the SVD start, the pair plan) is left out.
        let marks = Rc::new(RefCell::new(Vec::new()));
        let now = clock(threads);
        let seen = Rc::clone(&marks);
        model.set_progress(Some(Box::new(move |_, _| {
            seen.borrow_mut().push((now(), varpro_trial_tally()));
            true
        })));
        let started = now();
        model
            .fit(DenseProblem::new(p.m.as_ref(), Some(p.w.as_ref())))
            .unwrap();
        let fit_seconds = now() - started;
        assert_eq!(
            model.info(WLRA_INFO_METHOD_USED).unwrap(),
            WLRA_METHOD_VARPRO as f64
        );
        let done = model.info(WLRA_INFO_ITERATIONS).unwrap();
        let marks = marks.borrow();
        let (Some(first), Some(last)) = (marks.first(), marks.last()) else {
            continue;
        };
        let steps = (marks.len() - 1).max(1) as f64;
        let per_step = (last.0 - first.0) / steps;
        let trials = (last.1 - first.1) as f64 / steps;
        let step = flops.assembly + trials * flops.trial;
        let ideal = step / (rate * 1e9);
        let one_trial = (flops.assembly + flops.trial) / (rate * 1e9);
        println!(
            "| {} | {} | {trials:.2} | {:.3} | {per_step:.4} | {:.4} | {ideal:.4} | {:.1} | {:.1} |",
            p.name,
            flops.unknowns,
            step / 1e9,
            fit_seconds / done,
            per_step / ideal,
            per_step / one_trial
        );
    }
    parts_table(&problems, threads, rate);
}

/// Each part of a step alone (median of 9 runs): elimination, assembly of
/// the Gauss-Newton matrix, one damped solve, against its own flops.
fn parts_table(problems: &[lrmf::LrmfProblem], threads: usize, rate: f64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    println!("\n| problem | part | s | GFLOP | GFLOP/s | s / (flops at GEMM rate) |");
    println!("|---|---|---|---|---|---|");
    for p in problems {
        let dense = DenseProblem::new(p.m.as_ref(), Some(p.w.as_ref()));
        let problem = Problem::from(&dense);
        let parts = pool
            .install(|| step_parts(&problem, p.rank, 9, clock(threads)))
            .unwrap();
        for part in parts {
            println!(
                "| {} | {} | {:.5} | {:.4} | {:.1} | {:.1} |",
                p.name,
                part.name,
                part.seconds,
                part.flops / 1e9,
                part.flops / part.seconds / 1e9,
                part.seconds / (part.flops / (rate * 1e9))
            );
        }
    }
}
