//! Determinism across thread counts and concurrent models (issue 3, item 7).

mod common;

use common::{factors, fit, planted, Rng};
use faer::Mat;
use wlra::vocabulary::*;

fn bits(a: &Mat<f64>) -> Vec<u64> {
    a.col_iter()
        .flat_map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

/// A problem with more than one row block (128 rows) and column block
/// (256 columns), so parallel blocks really run.
fn problem(seed: u64) -> (Mat<f64>, Mat<f64>) {
    let p = planted(300, 280, 4, seed);
    let mut rng = Rng::new(seed + 100);
    let noisy = p.truth + rng.normal_mat(300, 280) * faer::Scale(0.1);
    let w = rng.uniform_mat(300, 280, 0.0, 1.0);
    (noisy, w)
}

fn options(threads: usize) -> Vec<(i32, f64)> {
    vec![
        (WLRA_OPTION_THREADS, threads as f64),
        (WLRA_OPTION_MAX_ITERATIONS, 8.0),
        (WLRA_OPTION_TOLERANCE, 0.0),
    ]
}

#[test]
fn one_and_two_threads_give_bitwise_identical_factors() {
    let (m, w) = problem(1);
    // Every solver: the iterative ones reuse their block buffers across a
    // thread's run of row blocks, and the runs differ with the thread count.
    let solvers = [
        WLRA_SOLVER_AUTO,
        WLRA_SOLVER_EXACT,
        WLRA_SOLVER_SKETCH,
        WLRA_SOLVER_SHARED_PCG,
    ];
    for init in [WLRA_INIT_SVD, WLRA_INIT_RANDOM] {
        for solver in solvers {
            let run = |threads| {
                let mut opts = options(threads);
                opts.push((WLRA_OPTION_INIT, init as f64));
                opts.push((WLRA_OPTION_SOLVER, solver as f64));
                factors(&fit(&m, Some(&w), 4, &opts))
            };
            let (u1, v1) = run(1);
            let (u2, v2) = run(2);
            assert!(
                bits(&u1) == bits(&u2) && bits(&v1) == bits(&v2),
                "init {init}, solver {solver}: bits differ"
            );
        }
    }
}

#[test]
fn models_on_two_threads_at_once_match_running_alone() {
    let problems = [problem(2), problem(3)];
    let alone: Vec<_> = problems
        .iter()
        .map(|(m, w)| factors(&fit(m, Some(w), 4, &options(2))))
        .collect();
    let together: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = problems
            .iter()
            .map(|(m, w)| scope.spawn(move || factors(&fit(m, Some(w), 4, &options(2)))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, ((ua, va), (ut, vt))) in alone.iter().zip(&together).enumerate() {
        assert!(
            bits(ua) == bits(ut) && bits(va) == bits(vt),
            "model {i} differs when run concurrently"
        );
    }
}
