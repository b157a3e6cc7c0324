//! EXACT, SKETCH, SHARED_PCG and AUTO on whole fits (issue 4, item 6).
//!
//!     cargo bench --bench solvers                        # n = m = 2000, k = 8..256
//!     cargo bench --bench solvers -- 4000 32 64 128      # n (= m), then the ranks
//!
//! Knobs (environment): WLRA_BENCH_MAX_ITERATIONS (default 60) caps the
//! outer iterations, so large problems can be timed per half-step;
//! WLRA_BENCH_SKETCH_MAX_K (default 64) skips SKETCH above that rank, where
//! its setup alone costs several exact half-steps; WLRA_BENCH_CSV names the
//! CSV (default target/bench/solvers.csv).
//!
//! For each weight family and rank: a whole fit to tolerance 1e-10 with each
//! solver (same SVD start), its time, outer iterations, time per half-step
//! (fit time / 2 iterations) and the objective, plus EXACT / solver ratios
//! measured in the same run. Rows also go to target/bench/solvers.csv.

use faer::Mat;
use std::io::Write;
use std::time::Instant;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};
#[path = "common/machine.rs"]
mod machine;

struct Xorshift(u64);

impl Xorshift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// Planted rank-k signal plus noise, and the family's weights.
fn problem(n: usize, k: usize, family: &str) -> (Mat<f64>, Mat<f64>) {
    let mut rng = Xorshift(0x9E3779B97F4A7C15 ^ (n * 31 + k) as u64);
    let u = Mat::from_fn(n, k, |_, _| rng.normal());
    let v = Mat::from_fn(n, k, |_, _| rng.normal() / (k as f64).sqrt());
    let truth = &u * v.transpose();
    let (mut m, mut w) = (Mat::zeros(n, n), Mat::zeros(n, n));
    for j in 0..n {
        for i in 0..n {
            // uniform: weights in [0.1, 1], noise 0.1; heteroscedastic:
            // noise sd 10^U(-2, 0), weight 1/variance (dynamic range 1e4).
            let sigma = match family {
                "uniform" => {
                    w[(i, j)] = 0.1 + 0.9 * rng.uniform();
                    0.1
                }
                _ => {
                    let s = 10f64.powf(-2.0 * rng.uniform());
                    w[(i, j)] = 1.0 / (s * s);
                    s
                }
            };
            m[(i, j)] = truth[(i, j)] + sigma * rng.normal();
        }
    }
    (m, w)
}

fn main() {
    println!("{}", machine::describe());
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2000);
    let ranks: Vec<usize> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![8, 16, 32, 64, 128, 256]
    };
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rank_list: Vec<String> = ranks.iter().map(|k| k.to_string()).collect();
    println!(
        "# cargo bench --bench solvers -- {n} {}   ({threads} threads)",
        rank_list.join(" ")
    );
    let knob = |name: &str, default: f64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let max_iterations = knob("WLRA_BENCH_MAX_ITERATIONS", 60.0);
    let sketch_max_k = knob("WLRA_BENCH_SKETCH_MAX_K", 64.0) as usize;
    let csv_path =
        std::env::var("WLRA_BENCH_CSV").unwrap_or_else(|_| "target/bench/solvers.csv".into());
    println!("# WLRA_BENCH_MAX_ITERATIONS={max_iterations} WLRA_BENCH_SKETCH_MAX_K={sketch_max_k} WLRA_BENCH_CSV={csv_path}");
    if let Some(dir) = std::path::Path::new(&csv_path).parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let mut csv = std::fs::File::create(&csv_path).unwrap();
    writeln!(csv, "family,k,solver,seconds,iterations,inner_iterations,seconds_per_half_step,objective,solver_used").unwrap();
    let solvers = [
        ("EXACT", WLRA_SOLVER_EXACT),
        ("SKETCH", WLRA_SOLVER_SKETCH),
        ("SHARED_PCG", WLRA_SOLVER_SHARED_PCG),
        ("AUTO", WLRA_SOLVER_AUTO),
    ];
    for family in ["uniform", "heteroscedastic"] {
        println!("\n## weights: {family}, n = m = {n}");
        println!(
            "{:>4} {:>11} {:>9} {:>6} {:>6} {:>11} {:>20} {:>12}",
            "k", "solver", "fit s", "iters", "inner", "s/half-step", "objective", "EXACT/this"
        );
        for &k in &ranks {
            let (m, w) = problem(n, k, family);
            let data = DenseProblem::new(m.as_ref(), Some(w.as_ref()));
            let mut exact_seconds = 0.0;
            let mut exact_objective = 0.0;
            for (name, solver) in solvers {
                if solver == WLRA_SOLVER_SKETCH && k > sketch_max_k {
                    continue;
                }
                let mut model = Model::new(k).unwrap();
                model.set_option(WLRA_OPTION_SOLVER, solver as f64).unwrap();
                model.set_option(WLRA_OPTION_TOLERANCE, 1e-10).unwrap();
                model
                    .set_option(WLRA_OPTION_MAX_ITERATIONS, max_iterations)
                    .unwrap();
                let start = Instant::now();
                model.fit(data).unwrap();
                let seconds = start.elapsed().as_secs_f64();
                let iterations = model.info(WLRA_INFO_ITERATIONS).unwrap();
                let objective = model.info(WLRA_INFO_OBJECTIVE).unwrap();
                let used = model.info(WLRA_INFO_SOLVER_USED).unwrap();
                let inner = model.info(WLRA_INFO_INNER_ITERATIONS).unwrap();
                if solver == WLRA_SOLVER_EXACT {
                    exact_seconds = seconds;
                    exact_objective = objective;
                }
                let per_half = seconds / (2.0 * iterations.max(1.0));
                let gap = (objective - exact_objective).abs() / exact_objective;
                println!(
                    "{k:>4} {name:>11} {seconds:>9.3} {iterations:>6} {inner:>6.1} {per_half:>11.4} {objective:>20.12e} {:>12.2}{}",
                    exact_seconds / seconds,
                    if gap > 1e-8 { format!("  (objective off by {gap:.1e})") } else { String::new() }
                );
                writeln!(csv, "{family},{k},{name},{seconds},{iterations},{inner},{per_half},{objective},{used}").unwrap();
            }
        }
    }
}
