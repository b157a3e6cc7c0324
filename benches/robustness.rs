//! The robustness claim, measured (issue 4, item 5): SKETCH with a fixed
//! inner accuracy from 1e-14 to 1e-1, on one planted problem, against the
//! optimum from a tight EXACT fit. Per accuracy: the outer iterations to
//! come within 1e-8 (relative) of the optimum, and the final gap. Then the
//! adaptive rule's run and the accuracies it chose.
//!
//!     cargo bench --bench robustness              # n = m = 400, k = 8
//!     cargo bench --bench robustness -- 1000 16
//!
//! Rows also go to target/bench/robustness.csv (docs/plot.py draws them).

use faer::Mat;
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use wlra::vocabulary::WLRA_INFO_OBJECTIVE;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};
#[path = "common/machine.rs"]
mod machine;

const MAX_ITERATIONS: f64 = 150.0;

fn lcg(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

fn fit(data: &DenseProblem<'_>, k: usize, options: &[(i32, f64)]) -> (Model, Vec<f64>) {
    let mut model = Model::new(k).unwrap();
    for &(id, v) in options {
        model.set_option(id, v).unwrap();
    }
    let trace = Rc::new(RefCell::new(Vec::new()));
    let sink = trace.clone();
    model.set_progress(Some(Box::new(move |_, f| {
        sink.borrow_mut().push(f);
        true
    })));
    model.fit(data).unwrap();
    let values = trace.borrow().clone();
    (model, values)
}

fn main() {
    println!("{}", machine::describe());
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(400);
    let k = args.get(1).copied().unwrap_or(8);
    println!("# cargo bench --bench robustness -- {n} {k}");
    // Planted rank-k signal, heteroscedastic noise, weights 1/variance.
    let mut state = 12345u64;
    let mut normal = || {
        let (a, b) = (lcg(&mut state), lcg(&mut state));
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    };
    let u = Mat::from_fn(n, k, |_, _| normal());
    let v = Mat::from_fn(n, k, |_, _| normal());
    let truth = &u * v.transpose();
    let sigma = Mat::from_fn(n, n, |_, _| {
        10f64.powf(-1.5 * (normal().abs().min(2.0) / 2.0))
    });
    let m = Mat::from_fn(n, n, |i, j| truth[(i, j)] + sigma[(i, j)] * normal());
    let w = Mat::from_fn(n, n, |i, j| 1.0 / (sigma[(i, j)] * sigma[(i, j)]));
    let data = DenseProblem::new(m.as_ref(), Some(w.as_ref()));

    let (reference, _) = fit(
        &data,
        k,
        &[
            (WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT as f64),
            (WLRA_OPTION_TOLERANCE, 1e-15),
            (WLRA_OPTION_MAX_ITERATIONS, 1000.0),
        ],
    );
    let optimum = reference.info(WLRA_INFO_OBJECTIVE).unwrap();
    println!("optimum (EXACT, tolerance 1e-15): {optimum:.15e}");
    std::fs::create_dir_all("target/bench").unwrap();
    let mut csv = std::fs::File::create("target/bench/robustness.csv").unwrap();
    writeln!(csv, "rule,accuracy,iterations_to_1e-8,final_gap").unwrap();
    println!(
        "{:>10} {:>22} {:>12}",
        "accuracy", "iterations to 1e-8", "final gap"
    );
    let base = [
        (WLRA_OPTION_SOLVER, WLRA_SOLVER_SKETCH as f64),
        (WLRA_OPTION_TOLERANCE, 1e-14),
        (WLRA_OPTION_MAX_ITERATIONS, MAX_ITERATIONS),
    ];
    let report = |rule: &str, accuracy: f64, values: &[f64], csv: &mut std::fs::File| {
        let reached = values
            .iter()
            .position(|f| (f - optimum) / optimum <= 1e-8)
            .map(|i| i + 1);
        let gap = (values.last().copied().unwrap_or(f64::NAN) - optimum) / optimum;
        let shown = reached.map_or(format!("not in {MAX_ITERATIONS}"), |i| i.to_string());
        println!("{accuracy:>10.0e} {shown:>22} {gap:>12.2e}   {rule}");
        writeln!(
            csv,
            "{rule},{accuracy},{},{gap}",
            reached.map_or(-1, |i| i as i64)
        )
        .unwrap();
    };
    for exponent in [-14, -12, -10, -8, -6, -5, -4, -3, -2, -1] {
        let accuracy = 10f64.powi(exponent);
        let mut options = base.to_vec();
        options.push((WLRA_OPTION_REGRESSION_TOLERANCE, accuracy));
        options.push((WLRA_OPTION_ADAPTIVE_ACCURACY, 0.0));
        let (_, values) = fit(&data, k, &options);
        report("fixed", accuracy, &values, &mut csv);
    }
    let (adaptive, values) = fit(&data, k, &base);
    report("adaptive", 1e-10, &values, &mut csv);
    let chosen = &adaptive.fitted().unwrap().accuracies;
    let shown: Vec<String> = chosen.iter().map(|a| format!("{a:.0e}")).collect();
    println!(
        "adaptive rule's accuracy per iteration: {}",
        shown.join(" ")
    );
    for (i, a) in chosen.iter().enumerate() {
        writeln!(csv, "adaptive_choice,{a},{},", i + 1).unwrap();
    }
}
