//! Sparse input (issue 7): the same problem sparse and densified gives the
//! same fit, and matrix completion recovers a planted matrix.

mod common;

use common::{csr, planted, Csr, Rng};
use faer::Mat;
use wlra::problem::sparse::{CsrInput, SparseProblem};
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

/// The sparse problem of `pattern` (shape n x m) with M = m_default and
/// W = w_default outside it; `weighted = false` passes no weights (all 1).
fn sparse(
    pattern: &Csr,
    shape: (usize, usize),
    defaults: (f64, f64),
    weighted: bool,
) -> SparseProblem {
    SparseProblem::new(&CsrInput {
        n_rows: shape.0,
        n_cols: shape.1,
        row_ptr: &pattern.row_ptr,
        col_idx: &pattern.col_idx,
        m_values: &pattern.m,
        w_values: weighted.then_some(&pattern.w[..]),
        m_default: defaults.0,
        w_default: defaults.1,
    })
    .unwrap()
}

fn model(k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, v) in options {
        model.set_option(id, v).unwrap();
    }
    model
}

fn product(model: &Model) -> Mat<f64> {
    let (u, v) = model.factors().unwrap();
    u * v.transpose()
}

#[test]
fn sparse_and_densified_problems_give_the_same_fit() {
    let (n, m, k) = (70, 50, 3);
    let p = planted(n, m, k, 90);
    let mut rng = Rng::new(91);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(0.1);
    let mask = Mat::from_fn(n, m, |_, _| if rng.uniform() < 0.4 { 1.0 } else { 0.0 });
    let w_in = rng.uniform_mat(n, m, 0.5, 3.0);
    for (w_default, m_default) in [(0.0, 0.0), (1.0, 0.25)] {
        let pattern = csr(&mask, &noisy, &w_in);
        let dense_m = Mat::from_fn(n, m, |i, j| {
            if mask[(i, j)] != 0.0 {
                noisy[(i, j)]
            } else {
                m_default
            }
        });
        let dense_w = Mat::from_fn(n, m, |i, j| {
            if mask[(i, j)] != 0.0 {
                w_in[(i, j)]
            } else {
                w_default
            }
        });
        // The same iterations on both paths (a fixed count, well before
        // rounding stalls the objective): only rounding may differ.
        // Plain alternation: accelerated alternation's extrapolation
        // amplifies the two paths' rounding (3.7e-9 apart after 15
        // iterations with w_default = 1).
        let options = [
            (WLRA_OPTION_TOLERANCE, 0.0),
            (WLRA_OPTION_MAX_ITERATIONS, 15.0),
            (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
        ];
        let mut dense = model(k, &options);
        dense
            .fit(DenseProblem::new(dense_m.as_ref(), Some(dense_w.as_ref())))
            .unwrap();
        let sparse_problem = sparse(&pattern, (n, m), (m_default, w_default), true);
        let mut sparse = model(k, &options);
        sparse.fit(sparse_problem.view()).unwrap();
        let (pd, ps) = (product(&dense), product(&sparse));
        let diff = (&pd - &ps).norm_l2() / pd.norm_l2();
        let (fd, fs) = (
            dense.info(WLRA_INFO_OBJECTIVE).unwrap(),
            sparse.info(WLRA_INFO_OBJECTIVE).unwrap(),
        );
        println!(
            "w_default {w_default}: U V^T differ by {diff:.2e}; objectives {fd:.12e} vs {fs:.12e}"
        );
        assert_eq!(dense.info(WLRA_INFO_ITERATIONS).unwrap(), 15.0);
        assert_eq!(sparse.info(WLRA_INFO_ITERATIONS).unwrap(), 15.0);
        assert!(
            diff <= 1e-10,
            "w_default = {w_default}: U V^T differ by {diff:e}"
        );
        assert!((fd - fs).abs() <= 1e-10 * fd, "objectives {fd} vs {fs}");
    }
}

#[test]
fn completion_recovers_unobserved_entries_to_1e_6() {
    let (n, k) = (200, 5);
    let p = planted(n, n, k, 92);
    let mut rng = Rng::new(93);
    let mask = Mat::from_fn(n, n, |_, _| if rng.uniform() < 0.35 { 1.0 } else { 0.0 });
    let ones = Mat::from_fn(n, n, |_, _| 1.0);
    let pattern = csr(&mask, &p.truth, &ones);
    let problem = sparse(&pattern, (n, n), (0.0, 0.0), false);
    let mut fit = model(
        k,
        &[
            (WLRA_OPTION_TOLERANCE, 1e-16),
            (WLRA_OPTION_MAX_ITERATIONS, 3000.0),
        ],
    );
    fit.fit(problem.view()).unwrap();
    let estimate = product(&fit);
    let (mut num, mut den) = (0.0, 0.0);
    for j in 0..n {
        for i in 0..n {
            if mask[(i, j)] == 0.0 {
                num += (estimate[(i, j)] - p.truth[(i, j)]).powi(2);
                den += p.truth[(i, j)].powi(2);
            }
        }
    }
    let err = (num / den).sqrt();
    println!("relative error on the unobserved entries: {err:.2e}");
    assert!(err <= 1e-6, "unobserved entries off by {err:e}");
}

/// (objective, iterations, solver used) of a fit of `problem` with `solver`.
fn fit_with(
    problem: &SparseProblem,
    k: usize,
    solver: i32,
    extra: &[(i32, f64)],
) -> (f64, f64, f64, Mat<f64>) {
    let mut options = vec![
        (WLRA_OPTION_SOLVER, solver as f64),
        (WLRA_OPTION_TOLERANCE, 1e-10),
        (WLRA_OPTION_MAX_ITERATIONS, 500.0),
    ];
    options.extend_from_slice(extra);
    let mut fit = model(k, &options);
    fit.fit(problem.view()).unwrap();
    (
        fit.info(WLRA_INFO_OBJECTIVE).unwrap(),
        fit.info(WLRA_INFO_ITERATIONS).unwrap(),
        fit.info(WLRA_INFO_SOLVER_USED).unwrap(),
        product(&fit),
    )
}

#[test]
fn iterative_solvers_on_sparse_rows_reach_the_exact_objective() {
    let (n, m, k) = (120, 90, 4);
    let p = planted(n, m, k, 94);
    let mut rng = Rng::new(95);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(0.05);
    // Rows 0 and 1 have no entries and two (< k): only the exact
    // minimum-norm path is right for them when w_default = 0.
    let mask = Mat::from_fn(n, m, |i, j| match i {
        0 => 0.0,
        1 => f64::from(j < 2),
        _ => f64::from(rng.uniform() < 0.4),
    });
    let counts = Mat::from_fn(n, m, |_, _| (1.0 / rng.uniform()).floor().min(50.0));
    let confidence = Mat::from_fn(n, m, |i, j| 1.0 + 10.0 * counts[(i, j)]);
    let ones = Mat::from_fn(n, m, |_, _| 1.0);
    let uniform = rng.uniform_mat(n, m, 0.1, 1.0);
    let cases = [
        ("completion", csr(&mask, &noisy, &uniform), 0.0, 0.0, 0.0),
        (
            "implicit feedback",
            csr(&mask, &ones, &confidence),
            0.0,
            1.0,
            0.0,
        ),
        (
            "implicit feedback, ridge",
            csr(&mask, &ones, &confidence),
            0.0,
            1.0,
            50.0,
        ),
    ];
    for (name, pattern, m_default, w_default, ridge) in cases {
        let problem = sparse(&pattern, (n, m), (m_default, w_default), true);
        // Inner solves at full accuracy throughout: every solver follows the
        // exact alternation, to the same objective in as many iterations.
        let extra = [
            (WLRA_OPTION_RIDGE, ridge),
            (WLRA_OPTION_ADAPTIVE_ACCURACY, 0.0),
            // Inner solvers compared under one outer method.
            (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
        ];
        let (f_exact, it_exact, used, _) = fit_with(&problem, k, WLRA_SOLVER_EXACT, &extra);
        assert_eq!(used, WLRA_SOLVER_EXACT as f64);
        for solver in [WLRA_SOLVER_SHARED_PCG, WLRA_SOLVER_AUTO, WLRA_SOLVER_SKETCH] {
            let (f, it, used, _) = fit_with(&problem, k, solver, &extra);
            println!("{name}, solver {solver}: objective {f:.12e} vs exact {f_exact:.12e}, {it} vs {it_exact} iterations, ran {used}");
            assert!(
                (f - f_exact).abs() <= 1e-8 * f_exact,
                "{name}, solver {solver}: {f} vs {f_exact}"
            );
            assert!(
                it <= it_exact + 1.0,
                "{name}, solver {solver}: {it} iterations vs {it_exact}"
            );
            let expected = match solver {
                WLRA_SOLVER_SHARED_PCG => vec![WLRA_SOLVER_SHARED_PCG as f64],
                // With w_default > 0 a row's design has all m rows: EXACT runs.
                WLRA_SOLVER_SKETCH if w_default > 0.0 => vec![WLRA_SOLVER_EXACT as f64],
                WLRA_SOLVER_SKETCH => vec![WLRA_SOLVER_SKETCH as f64],
                _ => vec![
                    WLRA_SOLVER_EXACT as f64,
                    WLRA_SOLVER_SHARED_PCG as f64,
                    WLRA_SOLVER_SKETCH as f64,
                ],
            };
            assert!(
                expected.contains(&used),
                "{name}, solver {solver} reported {used}"
            );
        }
        // With the default loose start, the iterative solvers take another
        // path (on these non-convex problems possibly to another local
        // minimum), but must end at a fixed point of exact alternation:
        // restarted there, EXACT finds nothing more to gain.
        for solver in [WLRA_SOLVER_SHARED_PCG, WLRA_SOLVER_AUTO] {
            let extra = [(WLRA_OPTION_RIDGE, ridge)];
            let mut loose = model(
                k,
                &[
                    (WLRA_OPTION_SOLVER, solver as f64),
                    (WLRA_OPTION_TOLERANCE, 1e-10),
                    (WLRA_OPTION_MAX_ITERATIONS, 500.0),
                    extra[0],
                ],
            );
            loose.fit(problem.view()).unwrap();
            assert_eq!(
                loose.info(WLRA_INFO_CONVERGED).unwrap(),
                1.0,
                "{name}, solver {solver}"
            );
            let f_loose = loose.info(WLRA_INFO_OBJECTIVE).unwrap();
            let (u, v) = loose.factors().unwrap();
            let mut restart = model(
                k,
                &[
                    (WLRA_OPTION_SOLVER, WLRA_SOLVER_EXACT as f64),
                    (WLRA_OPTION_INIT, WLRA_INIT_GIVEN as f64),
                    (WLRA_OPTION_MAX_ITERATIONS, 3.0),
                    (WLRA_OPTION_TOLERANCE, 0.0),
                    extra[0],
                ],
            );
            restart.set_start_factors(u, v).unwrap();
            restart.fit(problem.view()).unwrap();
            let f_restart = restart.info(WLRA_INFO_OBJECTIVE).unwrap();
            println!("{name}, solver {solver}, loose start: objective {f_loose:.12e} (exact {f_exact:.12e}), exact restart {f_restart:.12e}");
            assert!(
                f_loose - f_restart <= 1e-8 * f_loose,
                "{name}, solver {solver}: {f_loose} falls to {f_restart} under exact steps"
            );
        }
    }
}

#[test]
fn sparse_pcg_is_bitwise_reproducible_across_thread_counts() {
    let (n, m, k) = (300, 200, 6);
    let p = planted(n, m, k, 96);
    let mut rng = Rng::new(97);
    let mask = Mat::from_fn(n, m, |_, _| f64::from(rng.uniform() < 0.2));
    let confidence = Mat::from_fn(n, m, |_, _| {
        1.0 + 10.0 * (1.0 / rng.uniform()).floor().min(50.0)
    });
    let pattern = csr(&mask, &p.truth, &confidence);
    let problem = sparse(&pattern, (n, m), (0.0, 1.0), true);
    let runs: Vec<Mat<f64>> = [1.0, 2.0, 2.0]
        .iter()
        .map(|&threads| {
            fit_with(
                &problem,
                k,
                WLRA_SOLVER_SHARED_PCG,
                &[
                    (WLRA_OPTION_THREADS, threads),
                    (WLRA_OPTION_MAX_ITERATIONS, 8.0),
                ],
            )
            .3
        })
        .collect();
    for run in &runs[1..] {
        let same =
            (0..n).all(|i| (0..m).all(|j| run[(i, j)].to_bits() == runs[0][(i, j)].to_bits()));
        assert!(same, "thread counts changed the bits");
    }
}

/// A fit of `problem` with over-relaxation `omega`: (objective, iterations,
/// rises of the objective between iterations, U V^T).
fn relaxed_fit(
    problem: &SparseProblem,
    k: usize,
    omega: f64,
    solver: i32,
    tolerance: f64,
) -> (f64, f64, usize, Mat<f64>) {
    let mut fit = model(
        k,
        &[
            (WLRA_OPTION_SOLVER, solver as f64),
            (WLRA_OPTION_OVERRELAXATION, omega),
            (WLRA_OPTION_TOLERANCE, tolerance),
            (WLRA_OPTION_MAX_ITERATIONS, 3000.0),
        ],
    );
    let trace = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = trace.clone();
    fit.set_progress(Some(Box::new(move |_, f| {
        sink.lock().unwrap().push(f);
        true
    })));
    fit.fit(problem.view()).unwrap();
    let trace = trace.lock().unwrap().clone();
    let rises = trace.windows(2).filter(|w| w[1] > w[0]).count();
    (
        fit.info(WLRA_INFO_OBJECTIVE).unwrap(),
        fit.info(WLRA_INFO_ITERATIONS).unwrap(),
        rises,
        product(&fit),
    )
}

#[test]
fn overrelaxation_keeps_every_iteration_a_descent() {
    // Implicit feedback with heavy-tailed confidences: non-convex enough that
    // each omega may settle in its own local minimum, so only descent is
    // asserted here.
    let (n, m, k) = (120, 90, 4);
    let mut rng = Rng::new(98);
    let mask = Mat::from_fn(n, m, |_, _| f64::from(rng.uniform() < 0.3));
    let confidence = Mat::from_fn(n, m, |_, _| {
        1.0 + 10.0 * (1.0 / rng.uniform()).floor().min(50.0)
    });
    let ones = Mat::from_fn(n, m, |_, _| 1.0);
    let pattern = csr(&mask, &ones, &confidence);
    let problem = sparse(&pattern, (n, m), (0.0, 1.0), true);
    for omega in [1.0, 1.2, 1.5, 1.8] {
        for solver in [WLRA_SOLVER_EXACT, WLRA_SOLVER_SHARED_PCG] {
            let (f, it, rises, _) = relaxed_fit(&problem, k, omega, solver, 1e-10);
            println!("omega {omega}, solver {solver}: objective {f:.12e} after {it} iterations, {rises} rises");
            assert_eq!(
                rises, 0,
                "omega {omega}, solver {solver}: the objective rose"
            );
        }
    }
    let mut bad = Model::new(k).unwrap();
    for value in [0.0, 2.0, -1.0, f64::NAN] {
        let err = bad
            .set_option(WLRA_OPTION_OVERRELAXATION, value)
            .unwrap_err();
        assert!(
            matches!(err, wlra::Error::InvalidArgument(_)),
            "{value}: {err:?}"
        );
    }
    assert_eq!(bad.get_option(WLRA_OPTION_OVERRELAXATION).unwrap(), 1.0);
}

#[test]
fn overrelaxation_completes_a_planted_matrix_in_fewer_iterations() {
    // 12 % observed: plain alternation converges slowly (about 100
    // iterations), where relaxation pays. At 30 % observed it converges in
    // 33 and omega = 1.5 took 52: hence it is opt-in.
    let (n, k) = (200, 5);
    let p = planted(n, n, k, 99);
    let mut rng = Rng::new(100);
    let mask = Mat::from_fn(n, n, |_, _| f64::from(rng.uniform() < 0.12));
    let ones = Mat::from_fn(n, n, |_, _| 1.0);
    let pattern = csr(&mask, &p.truth, &ones);
    let problem = sparse(&pattern, (n, n), (0.0, 0.0), false);
    let error = |estimate: &Mat<f64>| (estimate - &p.truth).norm_l2() / p.truth.norm_l2();
    let (_, plain_it, plain_rises, plain) = relaxed_fit(&problem, k, 1.0, WLRA_SOLVER_EXACT, 1e-16);
    for solver in [WLRA_SOLVER_EXACT, WLRA_SOLVER_AUTO] {
        let (_, it, rises, relaxed) = relaxed_fit(&problem, k, 1.5, solver, 1e-16);
        println!(
            "solver {solver}: omega 1.5 error {:.2e} in {it} iterations; omega 1 error {:.2e} in {plain_it}",
            error(&relaxed),
            error(&plain)
        );
        assert_eq!(rises + plain_rises, 0);
        assert!(error(&relaxed) <= 1e-8 && error(&plain) <= 1e-8);
        assert!(it < 0.75 * plain_it, "{it} iterations vs {plain_it}");
    }
}

#[test]
fn sketch_on_long_completion_rows_matches_exact_whatever_the_threads() {
    // Rows of about 1800 weighted entries (s = 16 sketch rows at k = 4),
    // weights spanning 1e-2 .. 1e2: the SRHT preconditioner's case.
    let (n, m, k) = (60, 3000, 4);
    let p = planted(n, m, k, 101);
    let mut rng = Rng::new(102);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(0.01);
    let mask = Mat::from_fn(n, m, |_, _| f64::from(rng.uniform() < 0.6));
    let weights = Mat::from_fn(n, m, |_, _| 10f64.powf(4.0 * rng.uniform() - 2.0));
    let problem = sparse(&csr(&mask, &noisy, &weights), (n, m), (0.0, 0.0), true);
    let (f_exact, it_exact, _, _) = fit_with(&problem, k, WLRA_SOLVER_EXACT, &[]);
    let runs: Vec<(f64, f64, f64, Mat<f64>)> = [1.0, 2.0]
        .iter()
        .map(|&threads| {
            fit_with(
                &problem,
                k,
                WLRA_SOLVER_SKETCH,
                &[(WLRA_OPTION_THREADS, threads)],
            )
        })
        .collect();
    let (f, it, used, ref product) = runs[0];
    println!("sketch: objective {f:.12e} vs exact {f_exact:.12e}, {it} vs {it_exact} iterations");
    assert_eq!(used, WLRA_SOLVER_SKETCH as f64);
    assert!((f - f_exact).abs() <= 1e-8 * f_exact, "{f} vs {f_exact}");
    assert!(it <= it_exact + 1.0, "{it} iterations vs {it_exact}");
    let same =
        (0..n).all(|i| (0..m).all(|j| product[(i, j)].to_bits() == runs[1].3[(i, j)].to_bits()));
    assert!(same, "1 and 2 threads gave different bits");
}
