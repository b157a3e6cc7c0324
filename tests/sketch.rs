//! The sketched solver (issue 4): the SRHT preconditioner's quality, per
//! regression agreement with the exact solve, and whole fits that match
//! EXACT's objective and iteration count.

mod common;

use common::{factors, fit, planted, unridged_step, Rng};
use faer::prelude::SolveLstsq;
use faer::Mat;
use wlra::internals::ExactSolver;
use wlra::internals::RFactorWorkspace;
use wlra::internals::{srht_sketch, SketchSolver};
use wlra::internals::{stream, Purpose};
use wlra::internals::{HalfStepSolver, StreamPosition};
use wlra::vocabulary::*;
use wlra::DenseProblem;

const M: usize = 2000;

const K: usize = 40;

/// Y with column scales from 1 to 1e-4 and weights spanning 1e-3..1e3 with
/// half of them zero: cond(D_sqrt(w) Y) is well above 1e4.
fn hard_regression() -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let mut rng = Rng::new(40);
    let mut y = rng.normal_mat(M, K);
    for d in 0..K {
        let scale = 10f64.powf(-4.0 * d as f64 / (K - 1) as f64);
        for j in 0..M {
            y[(j, d)] *= scale;
        }
    }
    let w = Mat::from_fn(1, M, |_, j| {
        if j % 2 == 0 {
            0.0
        } else {
            10f64.powf(rng.between(-3.0, 3.0))
        }
    });
    let data = Mat::from_fn(1, M, |_, _| rng.normal());
    (y, w, data)
}

fn weighted_design(y: &Mat<f64>, w: &Mat<f64>) -> Mat<f64> {
    let rows: Vec<usize> = (0..M).filter(|&j| w[(0, j)] > 0.0).collect();
    Mat::from_fn(rows.len(), K, |i, d| {
        w[(0, rows[i])].sqrt() * y[(rows[i], d)]
    })
}

fn condition_number(a: &Mat<f64>) -> f64 {
    let s = a.singular_values().unwrap();
    let (hi, lo) = (
        s.iter().cloned().fold(0.0, f64::max),
        s.iter().cloned().fold(f64::INFINITY, f64::min),
    );
    hi / lo
}

/// cond(A R^-1) for R from the SRHT sketch with s rows, one draw.
fn preconditioned_condition(a: &Mat<f64>, s: usize, draw: u64) -> f64 {
    let mut rng = stream(7, Purpose::Sketch, draw);
    let mut padded = Mat::zeros(a.nrows().next_power_of_two(), K);
    let mut out = Mat::zeros(s, K);
    let mut order = Vec::new();
    let sketch = srht_sketch(a.as_ref(), s, &mut rng, &mut padded, &mut order, &mut out).to_owned();
    let mut qr = RFactorWorkspace::new(s, K).unwrap();
    let r = qr.r_factor(sketch.as_ref()).to_owned();
    // Row i of A R^-1 solves x R = a_i: forward substitution along the row.
    let mut preconditioned = a.clone();
    for i in 0..a.nrows() {
        for d in 0..K {
            let mut v = a[(i, d)];
            for e in 0..d {
                v -= preconditioned[(i, e)] * r[(e, d)];
            }
            preconditioned[(i, d)] = v / r[(d, d)];
        }
    }
    condition_number(&preconditioned)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn srht_preconditioner_makes_a_hard_design_well_conditioned() {
    let (y, w, _) = hard_regression();
    let a = weighted_design(&y, &w);
    let raw = condition_number(&a);
    assert!(raw >= 1e4, "the test design is too easy: cond {raw:e}");
    let at_4k = median(
        (0..10)
            .map(|d| preconditioned_condition(&a, 4 * K, d))
            .collect(),
    );
    let at_2k = median(
        (0..10)
            .map(|d| preconditioned_condition(&a, 2 * K, 100 + d))
            .collect(),
    );
    println!(
        "cond(A) = {raw:.3e}; median cond(A R^-1): {at_4k:.3} at s = 4k, {at_2k:.3} at s = 2k"
    );
    assert!(at_4k <= 3.0, "median cond at s = 4k is {at_4k}");
    assert!(at_2k <= 8.0, "median cond at s = 2k is {at_2k}");
}

#[test]
fn sketched_regression_matches_the_exact_solve_to_1e_10() {
    let (y, w, data) = hard_regression();
    let problem = DenseProblem::new(data.as_ref(), Some(w.as_ref()));
    let step = unridged_step(problem, &y, faer::Par::rayon(0));
    let exact = ExactSolver.solve(&step).unwrap();
    let mut solver = SketchSolver::new(4.0, 1e-13, 3);
    let sketched = solver.solve(&step).unwrap();
    // Reference: Householder QR least squares on the weighted design.
    let a = weighted_design(&y, &w);
    let rows: Vec<usize> = (0..M).filter(|&j| w[(0, j)] > 0.0).collect();
    let b = Mat::from_fn(rows.len(), 1, |i, _| {
        w[(0, rows[i])].sqrt() * data[(0, rows[i])]
    });
    let reference = a.qr().solve_lstsq(&b);
    let norm = reference.norm_l2();
    let sketch_err = (0..K)
        .map(|d| (sketched[(0, d)] - reference[(d, 0)]).powi(2))
        .sum::<f64>()
        .sqrt()
        / norm;
    let exact_err = (0..K)
        .map(|d| (exact[(0, d)] - reference[(d, 0)]).powi(2))
        .sum::<f64>()
        .sqrt()
        / norm;
    let between = (&sketched - &exact).norm_l2() / exact.norm_l2();
    println!("relative errors: sketch {sketch_err:.2e}, exact {exact_err:.2e}, between {between:.2e}; inner iterations {}", solver.last_inner_iterations);
    assert!(between <= 1e-10, "sketch vs exact: {between:e}");
    assert!(sketch_err <= 1e-10, "sketch vs QR: {sketch_err:e}");
}

/// The three planted families of issue 4.
fn families() -> Vec<(&'static str, Mat<f64>, Mat<f64>)> {
    let (n, m, k) = (120, 100, 4);
    let p = planted(n, m, k, 50);
    let mut rng = Rng::new(51);
    let noise = rng.normal_mat(n, m);
    let dense_w = rng.uniform_mat(n, m, 0.1, 1.0);
    let noisy = &p.truth + &noise * faer::Scale(0.1);
    let sigma = Mat::from_fn(n, m, |_, _| 10f64.powf(rng.between(-2.0, 0.0)));
    let hetero_m = Mat::from_fn(n, m, |i, j| p.truth[(i, j)] + sigma[(i, j)] * noise[(i, j)]);
    let hetero_w = Mat::from_fn(n, m, |i, j| 1.0 / (sigma[(i, j)] * sigma[(i, j)]));
    let mask = Mat::from_fn(n, m, |_, _| if rng.uniform() < 0.3 { 1.0 } else { 0.0 });
    vec![
        ("dense weights in [0.1, 1]", noisy.clone(), dense_w),
        ("heteroscedastic", hetero_m, hetero_w),
        ("0/1 weights, 30% observed", noisy, mask),
    ]
}

#[test]
fn sketch_fits_reach_the_exact_objective_in_as_many_iterations() {
    for (name, m, w) in families() {
        let run = |solver: i32| {
            fit(
                &m,
                Some(&w),
                4,
                &[
                    (WLRA_OPTION_SOLVER, solver as f64),
                    (WLRA_OPTION_TOLERANCE, 1e-10),
                    (WLRA_OPTION_MAX_ITERATIONS, 300.0),
                    (WLRA_OPTION_REGRESSION_TOLERANCE, 1e-12),
                    // Inner solvers compared under one outer method.
                    (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
                ],
            )
        };
        let exact = run(WLRA_SOLVER_EXACT);
        let fe = exact.info(WLRA_INFO_OBJECTIVE).unwrap();
        let ie = exact.info(WLRA_INFO_ITERATIONS).unwrap();
        for solver in [WLRA_SOLVER_SKETCH, WLRA_SOLVER_SHARED_PCG, WLRA_SOLVER_AUTO] {
            let other = run(solver);
            if solver != WLRA_SOLVER_AUTO {
                assert_eq!(other.info(WLRA_INFO_SOLVER_USED).unwrap(), solver as f64);
            }
            let fs = other.info(WLRA_INFO_OBJECTIVE).unwrap();
            let is = other.info(WLRA_INFO_ITERATIONS).unwrap();
            println!("{name}: objective exact {fe:.10e}, solver {solver} {fs:.10e}; iterations {ie} vs {is}");
            assert!(
                (fe - fs).abs() <= 1e-8 * fe,
                "{name}, solver {solver}: objectives {fe} vs {fs}"
            );
            assert!(
                is <= ie + 1.0,
                "{name}: solver {solver} took {is} iterations, exact {ie}"
            );
        }
    }
}

#[test]
fn sketch_fits_are_reproducible_and_thread_count_independent() {
    let (_, m, w) = families().remove(0);
    let run = |threads: usize, solver: i32| {
        let model = fit(
            &m,
            Some(&w),
            4,
            &[
                (WLRA_OPTION_SOLVER, solver as f64),
                (WLRA_OPTION_THREADS, threads as f64),
                (WLRA_OPTION_SEED, 11.0),
                (WLRA_OPTION_MAX_ITERATIONS, 5.0),
            ],
        );
        let (u, v) = factors(&model);
        let bits = |a: &Mat<f64>| {
            a.col_iter()
                .flat_map(|c| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        (bits(&u), bits(&v))
    };
    for solver in [WLRA_SOLVER_SKETCH, WLRA_SOLVER_SHARED_PCG] {
        let first = run(1, solver);
        assert!(
            first == run(1, solver),
            "solver {solver}: same seed, different bits"
        );
        assert!(
            first == run(2, solver),
            "solver {solver}: 1 and 2 threads differ"
        );
    }
}

#[test]
fn fixed_inner_accuracy_matches_adaptive_objective() {
    let (_, m, w) = families().remove(1);
    let run = |adaptive: f64| {
        fit(
            &m,
            Some(&w),
            4,
            &[
                (WLRA_OPTION_SOLVER, WLRA_SOLVER_SHARED_PCG as f64),
                (WLRA_OPTION_ADAPTIVE_ACCURACY, adaptive),
                (WLRA_OPTION_TOLERANCE, 1e-10),
                (WLRA_OPTION_MAX_ITERATIONS, 300.0),
            ],
        )
    };
    let (adaptive, fixed) = (run(1.0), run(0.0));
    let (fa, ff) = (
        adaptive.info(WLRA_INFO_OBJECTIVE).unwrap(),
        fixed.info(WLRA_INFO_OBJECTIVE).unwrap(),
    );
    assert!((fa - ff).abs() <= 1e-8 * ff, "adaptive {fa} vs fixed {ff}");
    // Loose early solves must cost fewer inner iterations, not more.
    let (ia, ifx) = (
        adaptive.info(WLRA_INFO_INNER_ITERATIONS).unwrap(),
        fixed.info(WLRA_INFO_INNER_ITERATIONS).unwrap(),
    );
    println!("inner iterations per row and half-step: adaptive {ia:.2}, fixed {ifx:.2}");
    assert!(ia < ifx, "adaptive {ia} vs fixed {ifx}");
}

#[test]
fn sketch_preconditioners_are_reused_and_stay_exact() {
    // Three half-steps on one problem: sides alternate U, V, so the third
    // (side U again) re-uses the first one's sketched preconditioners.
    let (n, m, k) = (60, 300, 6);
    let mut rng = Rng::new(77);
    let data = rng.normal_mat(n, m);
    let w = rng.uniform_mat(n, m, 0.05, 1.0);
    let y = wlra::internals::orthonormal_basis(rng.normal_mat(m, k).as_ref()).unwrap();
    let problem = DenseProblem::new(data.as_ref(), Some(w.as_ref()));
    let step = unridged_step(problem, &y, faer::Par::rayon(0));
    let exact = ExactSolver.solve(&step).unwrap();
    let mut solver = SketchSolver::new(4.0, 1e-12, 5);
    for _ in 0..3 {
        let x = solver.solve(&step).unwrap();
        let err = (&x - &exact).norm_l2() / exact.norm_l2();
        assert!(err <= 1e-9, "sketched half-step off by {err:e}");
    }
    assert_eq!(solver.method.reused_half_steps, 1);
}

/// A distributed fit's SKETCH (issue 27): each rank solves its own rows,
/// told where they stand in the whole side (`StreamPosition`), and decides
/// to keep or rebuild its preconditioners from the whole side's inner
/// iterations. Split into two row blocks, three half-steps (the third
/// re-using the first one's preconditioners) give the whole solver's
/// solutions bit for bit, and the same re-use.
#[test]
fn a_split_sketch_half_step_gives_the_whole_ones_bits() {
    let (n, m, k, split) = (61, 300, 6, 23);
    let mut rng = Rng::new(78);
    let data = rng.normal_mat(n, m);
    let w = rng.uniform_mat(n, m, 0.05, 1.0);
    let y = wlra::internals::orthonormal_basis(rng.normal_mat(m, k).as_ref()).unwrap();
    let step_of = |rows: std::ops::Range<usize>| {
        let problem = DenseProblem::new(
            data.as_ref().subrows(rows.start, rows.len()),
            Some(w.as_ref().subrows(rows.start, rows.len())),
        );
        unridged_step(problem, &y, faer::Par::Seq)
    };
    let mut whole = SketchSolver::new(4.0, 1e-12, 5);
    let mut parts = [
        SketchSolver::new(4.0, 1e-12, 5),
        SketchSolver::new(4.0, 1e-12, 5),
    ];
    let blocks = [0..split, split..n];
    for half_step in 0..3 {
        let expected = whole.solve(&step_of(0..n)).unwrap();
        let mut total = 0;
        let mut solved = Vec::new();
        for (solver, rows) in parts.iter_mut().zip(blocks.clone()) {
            solver.set_stream_position(StreamPosition {
                half_step,
                first_row: rows.start,
                whole_rows: n,
            });
            solved.push(solver.solve(&step_of(rows)).unwrap());
            total += solver.inner_iterations();
        }
        for solver in &mut parts {
            solver.set_whole_inner_iterations(total as f64);
        }
        assert_eq!(total, whole.inner_iterations(), "half-step {half_step}");
        for (x, rows) in solved.iter().zip(blocks.clone()) {
            for i in rows.clone() {
                for d in 0..k {
                    let (a, b) = (x[(i - rows.start, d)], expected[(i, d)]);
                    assert_eq!(a.to_bits(), b.to_bits(), "half-step {half_step}, row {i}");
                }
            }
        }
    }
    assert_eq!(whole.method.reused_half_steps, 1);
    assert!(parts.iter().all(|p| p.method.reused_half_steps == 1));
}
