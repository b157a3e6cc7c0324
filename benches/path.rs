//! A regularization path against independent fits (issue 17, acceptance 2):
//! ten ridges from a large one down, a factor 2.5 apart, fitted once as a
//! path (WLRA_INIT_WARM: each fit starts where the last ended) and once as
//! ten independent fits from the SVD start, tolerance 1e-12 for both and
//! every other option at its default. Prints per ridge both objectives, their relative gap, the
//! iterations and seconds, then the ratio of total times, measured in the
//! same run.
//!
//!     cargo bench --bench path                 # 2000 x 1500, k = 10
//!     cargo bench --bench path -- 600 400 6    # n, m, k
//!
//! The problem: a planted rank-k matrix (standard normal factors) plus
//! 0.1 N(0, 1) noise, weights uniform in [0.1, 1], the largest ridge 0.05
//! sqrt(n m) (about a twentieth of the planted singular values).

use faer::Mat;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::Instant;
use wlra::vocabulary::*;
use wlra::vocabulary::{WLRA_INFO_ITERATIONS, WLRA_INFO_METHOD_USED, WLRA_INFO_OBJECTIVE};
use wlra::{DenseProblem, Model};
#[path = "common/machine.rs"]
mod machine;

const PENALTIES: i32 = 10;
const RATIO: f64 = 2.5;
/// Both kinds of fit stop here, tight enough that they agree to 1e-8.
const TOLERANCE: f64 = 1e-12;

struct Rng(Xoshiro256PlusPlus);

impl Rng {
    fn uniform(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// One fit at `ridge` with `init`; (objective, iterations, seconds, method).
fn fit(
    model: &mut Model,
    problem: DenseProblem<'_>,
    ridge: f64,
    init: i32,
) -> (f64, f64, f64, f64) {
    model.set_option(WLRA_OPTION_RIDGE, ridge).unwrap();
    model.set_option(WLRA_OPTION_INIT, init as f64).unwrap();
    model.set_option(WLRA_OPTION_TOLERANCE, TOLERANCE).unwrap();
    let started = Instant::now();
    model.fit(problem).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let info = |item| model.info(item).unwrap();
    (
        info(WLRA_INFO_OBJECTIVE),
        info(WLRA_INFO_ITERATIONS),
        seconds,
        info(WLRA_INFO_METHOD_USED),
    )
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (n, m, k) = match args[..] {
        [n, m, k, ..] => (n, m, k),
        _ => (2000, 1500, 10),
    };
    println!("{}", machine::describe());
    let mut rng = Rng(Xoshiro256PlusPlus::seed_from_u64(17));
    let u = Mat::from_fn(n, k, |_, _| rng.normal());
    let v = Mat::from_fn(m, k, |_, _| rng.normal());
    let truth = &u * v.transpose();
    let data = Mat::from_fn(n, m, |i, j| truth[(i, j)] + 0.1 * rng.normal());
    let w = Mat::from_fn(n, m, |_, _| 0.1 + 0.9 * rng.uniform());
    let problem = || DenseProblem::new(data.as_ref(), Some(w.as_ref()));
    let largest = 0.05 * ((n * m) as f64).sqrt();
    println!("# planted {n} x {m}, k = {k}, noise 0.1, weights in [0.1, 1], tolerance {TOLERANCE:e}; ridges {largest:.3} / {RATIO}^p, p = 0..{}; 2 threads", PENALTIES - 1);
    println!(
        "{:>10}  {:>20} {:>6} {:>8}  {:>20} {:>6} {:>8}  {:>8}",
        "ridge", "path objective", "iter", "s", "independent", "iter", "s", "gap"
    );
    let threads = |model: &mut Model| model.set_option(WLRA_OPTION_THREADS, 2.0).unwrap();
    let mut path = Model::new(k).unwrap();
    threads(&mut path);
    let (mut path_seconds, mut alone_seconds, mut worst_gap) = (0.0, 0.0, 0.0f64);
    let (mut path_iterations, mut alone_iterations) = (0.0, 0.0);
    for p in 0..PENALTIES {
        let ridge = largest / RATIO.powi(p);
        let (fp, ip, sp, method) = fit(&mut path, problem(), ridge, WLRA_INIT_WARM);
        let mut alone = Model::new(k).unwrap();
        threads(&mut alone);
        let (fa, ia, sa, _) = fit(&mut alone, problem(), ridge, WLRA_INIT_SVD);
        let gap = (fp - fa).abs() / fa;
        worst_gap = worst_gap.max(gap);
        println!("{ridge:10.4}  {fp:20.12e} {ip:6} {sp:8.3}  {fa:20.12e} {ia:6} {sa:8.3}  {gap:8.1e}   (method {method})");
        path_seconds += sp;
        alone_seconds += sa;
        path_iterations += ip;
        alone_iterations += ia;
    }
    println!();
    println!(
        "path: {path_seconds:.2} s, {path_iterations} iterations; independent fits: {alone_seconds:.2} s, {alone_iterations} iterations"
    );
    println!(
        "independent / path: {:.2}x in time, {:.2}x in iterations (target >= 2x); largest objective gap {worst_gap:.1e} (target <= 1e-8)",
        alone_seconds / path_seconds,
        alone_iterations / path_iterations
    );
}
