//! Reaching the best known optimum on the missing-data structure-from-motion
//! problems of ../shared/data/lrmf (trimmed Dinosaur and Face, Giraffe, UM
//! boy).
//!
//!     cargo bench --bench lrmf                 # 20 random starts per method, Dinosaur and Face
//!     cargo bench --bench lrmf -- 5            # 5 random starts
//!     cargo bench --bench lrmf -- 5 giraffe um_boy   # other problems by name
//!
//! For each problem and outer method (ALTERNATING, VARPRO, AUTO): random
//! starts (WLRA_INIT_RANDOM, seeds 0..starts) and the SVD start, otherwise
//! default options; per method the successes (RMS within 1e-6 relative of
//! the best known), median RMS, iterations and seconds, with the median time
//! against ALTERNATING's in the same run; then restarts (AUTO,
//! WLRA_OPTION_RESTARTS = 20, seed 0). Every start goes to
//! target/lrmf/results.csv (benches/lrmf/plot.py draws docs/lrmf.svg).
//!
//! Knobs (environment, unset = the library's defaults): WLRA_LRMF_MAX_ITERATIONS,
//! WLRA_LRMF_TOLERANCE; WLRA_LRMF_DIR names the data directory;
//! WLRA_LRMF_METHODS=VARPRO,AUTO runs only the methods named.

use std::io::Write;
use std::time::Instant;
use wlra::vocabulary::*;
use wlra::vocabulary::{WLRA_INFO_CONVERGED, WLRA_INFO_ITERATIONS, WLRA_INFO_OBJECTIVE};
use wlra::{DenseProblem, Model};
#[path = "../tests/common/lrmf.rs"]
mod lrmf;
#[path = "common/machine.rs"]
mod machine;

// Info items of issue 14, by their agreed values; read as NaN from a
// library that does not have them yet.
const WLRA_INFO_METHOD_USED: i32 = 7;
const WLRA_INFO_STARTS: i32 = 8;
const WLRA_INFO_STARTS_AT_BEST: i32 = 9;

const RESTARTS: usize = 20;

struct Run {
    rms: f64,
    success: bool,
    iterations: f64,
    seconds: f64,
    objective: f64,
    converged: f64,
    method_used: f64,
    starts: f64,
    starts_at_best: f64,
}

fn run(p: &lrmf::LrmfProblem, options: &[(i32, f64)]) -> Run {
    let mut model = Model::new(p.rank).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    let start = Instant::now();
    model
        .fit(DenseProblem::new(p.m.as_ref(), Some(p.w.as_ref())))
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let item = |id| model.info(id).unwrap_or(f64::NAN);
    let objective = item(WLRA_INFO_OBJECTIVE);
    let rms = p.rms(objective);
    Run {
        rms,
        success: p.is_success(rms),
        iterations: item(WLRA_INFO_ITERATIONS),
        seconds,
        objective,
        converged: item(WLRA_INFO_CONVERGED),
        method_used: item(WLRA_INFO_METHOD_USED),
        starts: item(WLRA_INFO_STARTS),
        starts_at_best: item(WLRA_INFO_STARTS_AT_BEST),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// An integer info value, "n/a" where the library lacks the item.
fn count(value: f64) -> String {
    if value.is_nan() {
        "n/a".into()
    } else {
        format!("{value}")
    }
}

fn method_name(value: f64) -> &'static str {
    match value {
        v if v == WLRA_METHOD_ALTERNATING as f64 => "ALTERNATING",
        v if v == WLRA_METHOD_VARPRO as f64 => "VARPRO",
        v if v == WLRA_METHOD_ACCELERATED as f64 => "ACCELERATED",
        v if v == WLRA_METHOD_SVD as f64 => "SVD",
        v if v.is_nan() => "n/a",
        _ => "?",
    }
}

fn main() {
    println!("{}", machine::describe());
    let starts: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let mut defaults = Vec::new();
    let mut knobs = Vec::new();
    for (name, option) in [
        ("WLRA_LRMF_MAX_ITERATIONS", WLRA_OPTION_MAX_ITERATIONS),
        ("WLRA_LRMF_TOLERANCE", WLRA_OPTION_TOLERANCE),
    ] {
        if let Ok(text) = std::env::var(name) {
            let value: f64 = text
                .parse()
                .unwrap_or_else(|_| panic!("{name}={text} is not a number"));
            defaults.push((option, value));
            knobs.push(format!("{name}={text} "));
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    println!(
        "# {}cargo bench --bench lrmf -- {starts}   ({threads} threads; data {})",
        knobs.concat(),
        lrmf::data_dir().display()
    );
    let csv_path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/lrmf/results.csv");
    std::fs::create_dir_all(std::path::Path::new(csv_path).parent().unwrap()).unwrap();
    let mut csv = std::fs::File::create(csv_path).unwrap();
    writeln!(csv, "problem,best_rms,method,start,seed,rms,success,iterations,seconds,objective,converged,method_used,starts,starts_at_best").unwrap();
    // (name, method, restarts: None = the default, AUTO restarts around VarPro)
    // WLRA_LRMF_METHODS=VARPRO,AUTO runs only those.
    let methods_wanted: Vec<String> = std::env::var("WLRA_LRMF_METHODS")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let methods = [
        ("ALTERNATING", WLRA_METHOD_ALTERNATING, Some(0.0)),
        ("VARPRO", WLRA_METHOD_VARPRO, Some(0.0)),
        ("AUTO", WLRA_METHOD_AUTO, None),
    ];
    // Problems by name after the count (dino, face, giraffe, um_boy);
    // without names the trimmed Dinosaur and Face.
    let names: Vec<String> = std::env::args()
        .skip(1)
        // cargo bench appends its own flag (--bench).
        .filter(|a| a.parse::<usize>().is_err() && !a.starts_with("--"))
        .collect();
    let wanted = |n: &str| names.iter().any(|a| n.starts_with(a.as_str()));
    let mut problems = Vec::new();
    for (name, load) in [
        ("dino", lrmf::dinosaur as fn() -> lrmf::LrmfProblem),
        ("face", lrmf::face),
        ("giraffe", lrmf::giraffe),
        ("um_boy", lrmf::um_boy),
    ] {
        let default = names.is_empty() && (name == "dino" || name == "face");
        if default || wanted(name) {
            problems.push(load());
        }
    }
    for p in problems {
        println!(
            "\n## {}: {} x {}, rank {}, {} observed, best known RMS {}",
            p.name,
            p.m.nrows(),
            p.m.ncols(),
            p.rank,
            p.observed,
            p.best_rms
        );
        println!(
            "{:>11} {:>9} {:>11} {:>7} {:>9} {:>8} {:>11} {:>9} {:>11}",
            "method",
            "success",
            "median RMS",
            "iters",
            "median s",
            "vs ALT",
            "ran",
            "SVD RMS",
            "SVD success"
        );
        let mut alternating_seconds = f64::NAN;
        let mut record = |method: &str, start: &str, seed: i64, r: &Run| {
            writeln!(
                csv,
                "{},{},{method},{start},{seed},{},{},{},{},{},{},{},{},{}",
                p.name,
                p.best_rms,
                r.rms,
                u8::from(r.success),
                r.iterations,
                r.seconds,
                r.objective,
                r.converged,
                r.method_used,
                r.starts,
                r.starts_at_best
            )
            .unwrap();
        };
        for (name, method, restarts) in methods {
            if !methods_wanted.is_empty() && !methods_wanted.iter().any(|m| m == name) {
                continue;
            }
            let mut base = defaults.clone();
            base.push((WLRA_OPTION_METHOD, method as f64));
            if let Some(r) = restarts {
                base.push((WLRA_OPTION_RESTARTS, r));
            }
            let random: Vec<Run> = (0..starts)
                .map(|seed| {
                    let mut options = base.clone();
                    options.push((WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64));
                    options.push((WLRA_OPTION_SEED, seed as f64));
                    let r = run(&p, &options);
                    record(name, "random", seed as i64, &r);
                    r
                })
                .collect();
            let svd = run(&p, &base);
            record(name, "svd", -1, &svd);
            let successes = random.iter().filter(|r| r.success).count();
            let seconds = median(random.iter().map(|r| r.seconds).collect());
            if method == WLRA_METHOD_ALTERNATING {
                alternating_seconds = seconds;
            }
            let ran: Vec<&str> = random.iter().map(|r| method_name(r.method_used)).collect();
            let mut ran_kinds = ran.clone();
            ran_kinds.dedup();
            println!(
                "{name:>11} {:>9} {:>11.7} {:>7} {seconds:>9.4} {:>8.2} {:>11} {:>9.7} {:>11}",
                format!("{successes}/{starts}"),
                median(random.iter().map(|r| r.rms).collect()),
                median(random.iter().map(|r| r.iterations).collect()),
                seconds / alternating_seconds,
                if ran_kinds.len() == 1 {
                    ran_kinds[0]
                } else {
                    "mixed"
                },
                svd.rms,
                if svd.success { "yes" } else { "no" }
            );
        }
        if !methods_wanted.is_empty() {
            continue;
        }
        let mut options = defaults.clone();
        options.push((WLRA_OPTION_METHOD, WLRA_METHOD_AUTO as f64));
        options.push((WLRA_OPTION_RESTARTS, RESTARTS as f64));
        let r = run(&p, &options);
        record("AUTO", "restarts", 0, &r);
        println!(
            "restarts (AUTO, WLRA_OPTION_RESTARTS = {RESTARTS}, seed 0): {} starts run, {} at best, RMS {:.7} ({}), {:.3} s",
            count(r.starts),
            count(r.starts_at_best),
            r.rms,
            if r.success { "success" } else { "not the best known" },
            r.seconds
        );
    }
    println!("\n# every start: {csv_path}; plot: python3 benches/lrmf/plot.py");
}
