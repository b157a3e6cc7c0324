//! VarPro with and without Newton's steps in its tail (docs/optimum.md,
//! "Newton's model in the tail"): explicit VARPRO, one random start per
//! seed, every other option at its default, on the shared missing-data
//! problems; per problem and model the summed iterations, Newton steps,
//! damping trials and seconds over the seeds, and the seeds that end at
//! the best known RMS.
//!
//!     cargo bench --bench varpro_newton              # 10 seeds, all four problems
//!     cargo bench --bench varpro_newton -- 5 giraffe face

use std::time::Instant;
use wlra::internals::{varpro_newton_tally, varpro_trial_tally};
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};
#[path = "../tests/common/lrmf.rs"]
mod lrmf;
#[path = "common/machine.rs"]
mod machine;

#[derive(Default)]
struct Sum {
    iterations: f64,
    newton_steps: usize,
    trials: usize,
    seconds: f64,
    at_best: usize,
}

fn fit(p: &lrmf::LrmfProblem, seed: usize, gauss_newton_only: bool, sum: &mut Sum) {
    let mut model = Model::new(p.rank).unwrap();
    let options = [
        (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
        (WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64),
        (WLRA_OPTION_SEED, seed as f64),
        (WLRA_OPTION_RESTARTS, 0.0),
    ];
    for (id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model.force_gauss_newton_varpro(gauss_newton_only);
    let (newton, trials) = (varpro_newton_tally(), varpro_trial_tally());
    let start = Instant::now();
    model
        .fit(DenseProblem::new(p.m.as_ref(), Some(p.w.as_ref())))
        .unwrap();
    sum.seconds += start.elapsed().as_secs_f64();
    sum.newton_steps += varpro_newton_tally() - newton;
    sum.trials += varpro_trial_tally() - trials;
    sum.iterations += model.info(WLRA_INFO_ITERATIONS).unwrap();
    let rms = p.rms(model.info(WLRA_INFO_OBJECTIVE).unwrap());
    sum.at_best += usize::from(p.is_success(rms));
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seeds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let named: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let all = ["dino", "face", "giraffe", "um_boy"];
    let names = if named.is_empty() {
        &all[..]
    } else {
        &named[..]
    };
    println!("{}", machine::describe());
    println!(
        "# cargo bench --bench varpro_newton -- {seeds} {}",
        names.join(" ")
    );
    println!("# explicit VARPRO, random starts, seeds 0..{seeds}; sums over the seeds");
    println!(
        "{:>14} {:>22} {:>10} {:>8} {:>8} {:>9} {:>8}",
        "problem", "model", "iterations", "Newton", "trials", "seconds", "at best"
    );
    for name in names {
        let file = match *name {
            "dino" => "dino_trimmed",
            "face" => "face_trimmed",
            other => other,
        };
        let p = lrmf::load(file);
        for (label, gauss_newton_only) in
            [("Gauss-Newton only", true), ("Newton in the tail", false)]
        {
            let mut sum = Sum::default();
            (0..seeds).for_each(|seed| fit(&p, seed, gauss_newton_only, &mut sum));
            println!(
                "{:>14} {:>22} {:>10} {:>8} {:>8} {:>9.3} {:>5}/{}",
                name,
                label,
                sum.iterations,
                sum.newton_steps,
                sum.trials,
                sum.seconds,
                sum.at_best,
                seeds
            );
        }
    }
}
