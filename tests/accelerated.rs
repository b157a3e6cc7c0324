//! WLRA_METHOD_ACCELERATED (issue 14): the same optimum as alternation,
//! a monotone objective, thread-count determinism, fewer iterations where
//! alternation crawls, and its option value checked.

mod common;

use common::{factors, heteroscedastic, planted, Rng};
use faer::Mat;
use std::cell::RefCell;
use std::rc::Rc;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

/// A planted rank-3 problem with noise and uniform random weights.
fn noisy(seed: u64) -> (Mat<f64>, Mat<f64>) {
    let (n, m) = (150, 130);
    let p = planted(n, m, 3, seed);
    let mut rng = Rng::new(seed + 100);
    let data = p.truth + rng.normal_mat(n, m) * faer::Scale(0.1);
    (data, rng.uniform_mat(n, m, 0.0, 1.0))
}

/// A fit with `options`, and the objectives its callback saw.
fn traced(m: &Mat<f64>, w: &Mat<f64>, k: usize, options: &[(i32, f64)]) -> (Model, Vec<f64>) {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    model.set_progress(Some(Box::new(move |_, f| {
        sink.borrow_mut().push(f);
        true
    })));
    model
        .fit(DenseProblem::new(m.as_ref(), Some(w.as_ref())))
        .unwrap();
    let values = seen.borrow().clone();
    (model, values)
}

fn method(value: i32) -> (i32, f64) {
    (WLRA_OPTION_METHOD, value as f64)
}

#[test]
fn accelerated_and_alternating_reach_the_same_objective() {
    let (m, w) = noisy(1);
    for ridge in [0.0, 0.1] {
        let run = |value| {
            let options = [
                method(value),
                (WLRA_OPTION_RIDGE, ridge),
                (WLRA_OPTION_TOLERANCE, 1e-15),
                (WLRA_OPTION_MAX_ITERATIONS, 3000.0),
            ];
            let (model, _) = traced(&m, &w, 3, &options);
            assert_eq!(
                model.info(WLRA_INFO_METHOD_USED).unwrap(),
                value as f64,
                "ridge {ridge}: method {value} did not run"
            );
            model.info(WLRA_INFO_OBJECTIVE).unwrap()
        };
        let (alternating, accelerated) =
            (run(WLRA_METHOD_ALTERNATING), run(WLRA_METHOD_ACCELERATED));
        let gap = (accelerated - alternating).abs() / alternating;
        println!("ridge {ridge}: alternating {alternating:.15e}, accelerated {accelerated:.15e}, gap {gap:.1e}");
        assert!(gap <= 1e-10, "ridge {ridge}: relative gap {gap:e}");
    }
}

#[test]
fn callback_objectives_never_rise() {
    let (m, w) = heteroscedastic(120, 110, 4, 2);
    for ridge in [0.0, 1e-3] {
        for solver in [WLRA_SOLVER_AUTO, WLRA_SOLVER_SHARED_PCG] {
            let options = [
                method(WLRA_METHOD_ACCELERATED),
                (WLRA_OPTION_RIDGE, ridge),
                (WLRA_OPTION_SOLVER, solver as f64),
                (WLRA_OPTION_TOLERANCE, 0.0),
                (WLRA_OPTION_MAX_ITERATIONS, 300.0),
            ];
            let (model, seen) = traced(&m, &w, 4, &options);
            assert!(
                seen.len() > 5,
                "ridge {ridge}, solver {solver}: {} calls",
                seen.len()
            );
            for (i, pair) in seen.windows(2).enumerate() {
                assert!(
                    pair[1] <= pair[0],
                    "ridge {ridge}, solver {solver}: iteration {} raised f from {:e} to {:e}",
                    i + 2,
                    pair[0],
                    pair[1]
                );
            }
            let reported = model.info(WLRA_INFO_OBJECTIVE).unwrap();
            assert_eq!(
                reported,
                *seen.last().unwrap(),
                "ridge {ridge}, solver {solver}"
            );
        }
    }
}

fn bits(a: &Mat<f64>) -> Vec<u64> {
    a.col_iter()
        .flat_map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn one_and_two_threads_give_bitwise_identical_factors() {
    // More than one row block (128) and column block (256) of the products.
    let (m, w) = heteroscedastic(300, 280, 4, 3);
    for ridge in [0.0, 1e-3] {
        for solver in [WLRA_SOLVER_AUTO, WLRA_SOLVER_EXACT, WLRA_SOLVER_SKETCH] {
            let run = |threads: usize| {
                let options = [
                    method(WLRA_METHOD_ACCELERATED),
                    (WLRA_OPTION_THREADS, threads as f64),
                    (WLRA_OPTION_RIDGE, ridge),
                    (WLRA_OPTION_SOLVER, solver as f64),
                    (WLRA_OPTION_TOLERANCE, 0.0),
                    (WLRA_OPTION_MAX_ITERATIONS, 20.0),
                ];
                factors(&traced(&m, &w, 4, &options).0)
            };
            let ((u1, v1), (u2, v2)) = (run(1), run(2));
            assert!(
                bits(&u1) == bits(&u2) && bits(&v1) == bits(&v2),
                "ridge {ridge}, solver {solver}: bits differ"
            );
        }
    }
}

/// Iterations until the trace is within `gap` (relative) of `best`.
fn iterations_to(seen: &[f64], best: f64, gap: f64) -> Option<usize> {
    seen.iter()
        .position(|&f| f - best <= gap * best)
        .map(|i| i + 1)
}

#[test]
fn accelerated_needs_fewer_iterations_on_an_ill_conditioned_problem() {
    let (m, w) = heteroscedastic(300, 300, 8, 4);
    let run = |value| {
        let options = [
            method(value),
            (WLRA_OPTION_TOLERANCE, 0.0),
            (WLRA_OPTION_MAX_ITERATIONS, 1000.0),
        ];
        traced(&m, &w, 8, &options).1
    };
    let (alternating, accelerated) = (run(WLRA_METHOD_ALTERNATING), run(WLRA_METHOD_ACCELERATED));
    let best = alternating
        .iter()
        .chain(&accelerated)
        .copied()
        .fold(f64::INFINITY, f64::min);
    for gap in [1e-4, 1e-6, 1e-8] {
        let plain = iterations_to(&alternating, best, gap);
        let fast = iterations_to(&accelerated, best, gap);
        println!("to {gap:e} of f* = {best:.15e}: alternating {plain:?}, accelerated {fast:?} iterations");
        let (Some(plain), Some(fast)) = (plain, fast) else {
            panic!("to {gap:e}: alternating {plain:?}, accelerated {fast:?}");
        };
        // Measured: 66 / 20, 84 / 23, 102 / 26 (3.3x to 3.9x); asserted
        // at 2.5x, with room for a different rounding.
        assert!(
            5 * fast <= 2 * plain,
            "to {gap:e}: accelerated took {fast} iterations, alternating {plain}"
        );
    }
}

#[test]
fn method_values_beyond_accelerated_are_refused() {
    let mut model = Model::new(2).unwrap();
    model
        .set_option(WLRA_OPTION_METHOD, WLRA_METHOD_ACCELERATED as f64)
        .unwrap();
    assert_eq!(model.get_option(WLRA_OPTION_METHOD).unwrap(), 3.0);
    let error = model
        .set_option(WLRA_OPTION_METHOD, 4.0)
        .expect_err("WLRA_OPTION_METHOD = 4 was accepted");
    assert!(
        matches!(error, wlra::Error::InvalidArgument(_)),
        "{error:?}"
    );
    assert_eq!(status_of(&error), WLRA_ERROR_INVALID_ARGUMENT);
    assert!(error.message().contains("WLRA_OPTION_METHOD"), "{error}");
    assert_eq!(model.get_option(WLRA_OPTION_METHOD).unwrap(), 3.0);
}

#[test]
fn clipping_or_overrelaxation_runs_plain_alternation() {
    let (m, w) = noisy(5);
    for option in [(WLRA_OPTION_CLIP, 2.0), (WLRA_OPTION_OVERRELAXATION, 1.5)] {
        let options = [method(WLRA_METHOD_ACCELERATED), option];
        let (model, _) = traced(&m, &w, 3, &options);
        assert_eq!(
            model.info(WLRA_INFO_METHOD_USED).unwrap(),
            WLRA_METHOD_ALTERNATING as f64,
            "option {} = {}",
            option.0,
            option.1
        );
    }
}

#[test]
fn auto_with_a_ridge_runs_accelerated_alternation_not_varpro() {
    // A problem where VarPro is affordable at ridge 0; with a ridge VarPro's
    // Gauss-Newton model converges only linearly, so AUTO accelerates
    // alternation and never switches, and both reach alternation's optimum.
    let (m, w) = noisy(2);
    for ridge in [0.0, 0.2] {
        let common = [
            (WLRA_OPTION_RIDGE, ridge),
            (WLRA_OPTION_TOLERANCE, 1e-14),
            (WLRA_OPTION_MAX_ITERATIONS, 5000.0),
            (WLRA_OPTION_RESTARTS, 0.0),
        ];
        let (auto, _) = traced(&m, &w, 3, &common);
        let mut with_method = common.to_vec();
        with_method.push(method(WLRA_METHOD_ALTERNATING));
        let (alternating, _) = traced(&m, &w, 3, &with_method);
        let used = auto.info(WLRA_INFO_METHOD_USED).unwrap() as i32;
        // At ridge 0 AUTO runs VarPro only if accelerated alternation
        // crawls (`outer::probe`); with a ridge never.
        if ridge > 0.0 {
            assert_eq!(used, WLRA_METHOD_ACCELERATED, "ridge {ridge}");
        } else {
            assert!(
                [WLRA_METHOD_ACCELERATED, WLRA_METHOD_VARPRO].contains(&used),
                "ridge 0: {used}"
            );
        }
        let (a, b) = (
            auto.info(WLRA_INFO_OBJECTIVE).unwrap(),
            alternating.info(WLRA_INFO_OBJECTIVE).unwrap(),
        );
        assert!((a - b).abs() <= 1e-9 * b, "ridge {ridge}: {a} against {b}");
    }
}

#[test]
fn auto_fits_an_ordinary_problem_with_one_start_of_accelerated_alternation() {
    // Planted rank 3 with noise and weights in [0, 1]: VarPro is affordable
    // (390 unknowns), but accelerated alternation converges at a rate that
    // never projects a crawl (`outer::probe`), so AUTO is one start of it,
    // bit for bit the explicit ACCELERATED fit, with no VarPro restarts.
    let (m, w) = noisy(3);
    let (auto, auto_seen) = traced(&m, &w, 3, &[]);
    let (explicit, _) = traced(&m, &w, 3, &[method(WLRA_METHOD_ACCELERATED)]);
    assert_eq!(
        auto.info(WLRA_INFO_METHOD_USED).unwrap(),
        WLRA_METHOD_ACCELERATED as f64
    );
    assert_eq!(auto.info(WLRA_INFO_STARTS).unwrap(), 1.0);
    assert_eq!(auto.info(WLRA_INFO_CONVERGED).unwrap(), 1.0);
    let (a, b) = (
        auto.info(WLRA_INFO_OBJECTIVE).unwrap(),
        explicit.info(WLRA_INFO_OBJECTIVE).unwrap(),
    );
    assert_eq!(a.to_bits(), b.to_bits(), "AUTO {a}, ACCELERATED {b}");
    assert!(auto_seen.len() < 100, "{} iterations", auto_seen.len());
}
