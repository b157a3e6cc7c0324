//! Numerical acceptance of the dense fit (issue 3): recovery, agreement with
//! the SVD, brute-force half-steps, monotonicity, degenerate weights.

mod common;

use common::{factors, fit, planted, relative_error, unridged_step, Rng};
use faer::prelude::SolveLstsq;
use faer::Mat;
use wlra::internals::ExactSolver;
use wlra::internals::HalfStepSolver;
use wlra::vocabulary::*;
use wlra::DenseProblem;

const TIGHT: [(i32, f64); 2] = [
    (WLRA_OPTION_TOLERANCE, 1e-15),
    (WLRA_OPTION_MAX_ITERATIONS, 500.0),
];

#[test]
fn noiseless_planted_problem_is_recovered_to_1e_8() {
    let p = planted(300, 300, 5, 1);
    let w = Rng::new(2).uniform_mat(300, 300, 0.1, 1.0);
    let model = fit(&p.truth, Some(&w), 5, &TIGHT);
    let (u, v) = factors(&model);
    let err = relative_error(&u, &v, &p.truth);
    assert!(err <= 1e-8, "relative error {err:e}");
}

/// Optimal rank-k squared error of M: the tail of its squared singular values.
fn optimal_rank_k_error(m: &Mat<f64>, k: usize) -> f64 {
    let s = m.singular_values().unwrap();
    s.iter().skip(k).map(|x| x * x).sum()
}

fn gapped_matrix(n: usize, m: usize, k: usize) -> Mat<f64> {
    let p = planted(n, m, k, 3);
    let noise = Rng::new(4).normal_mat(n, m);
    p.truth + noise * faer::Scale(0.05)
}

#[test]
fn uniform_weights_match_truncated_svd_from_svd_and_random_init() {
    let (n, m, k) = (120, 80, 4);
    let data = gapped_matrix(n, m, k);
    let best = optimal_rank_k_error(&data, k);
    for init in [WLRA_INIT_SVD, WLRA_INIT_RANDOM] {
        let mut options = TIGHT.to_vec();
        options.push((WLRA_OPTION_INIT, init as f64));
        let model = fit(&data, None, k, &options);
        let objective = model.info(WLRA_INFO_OBJECTIVE).unwrap();
        let rel = (objective - best).abs() / best;
        assert!(
            rel <= 1e-10,
            "init {init}: objective {objective} vs optimum {best} (rel {rel:e})"
        );
        assert_eq!(model.info(WLRA_INFO_CONVERGED).unwrap(), 1.0);
    }
}

/// Brute force: row i's weighted least squares by QR of diag(sqrt w) Y.
fn brute_force_half_step(data: &Mat<f64>, w: &Mat<f64>, y: &Mat<f64>) -> Mat<f64> {
    let (n, m, k) = (data.nrows(), data.ncols(), y.ncols());
    let mut x = Mat::zeros(n, k);
    for i in 0..n {
        let a = Mat::from_fn(m, k, |j, d| w[(i, j)].sqrt() * y[(j, d)]);
        let b = Mat::from_fn(m, 1, |j, _| w[(i, j)].sqrt() * data[(i, j)]);
        let sol = a.qr().solve_lstsq(&b);
        for d in 0..k {
            x[(i, d)] = sol[(d, 0)];
        }
    }
    x
}

#[test]
fn tiny_half_steps_match_brute_force_least_squares() {
    let mut rng = Rng::new(5);
    for trial in 0..40 {
        let n = 2 + trial % 5;
        let m = 2 + (trial / 5) % 5;
        let k = 1 + trial % 2;
        let data = rng.normal_mat(n, m);
        let w = rng.uniform_mat(n, m, 0.1, 1.0);
        let y = rng.normal_mat(m, k);
        let x_star = rng.normal_mat(n, k);
        let problem = DenseProblem::new(data.as_ref(), Some(w.as_ref()));
        let step = unridged_step(problem, &y, faer::Par::rayon(0));
        let x = ExactSolver.solve(&step).unwrap();
        let expected = brute_force_half_step(&data, &w, &y);
        let diff = (&x - &expected).norm_max() / expected.norm_max().max(1.0);
        assert!(
            diff <= 1e-12,
            "trial {trial} ({n}x{m}, k={k}): U step off by {diff:e}"
        );
        // The V half-step is the same solve on the transposed problem.
        let step = unridged_step(problem.transposed(), &x_star, faer::Par::rayon(0));
        let v = ExactSolver.solve(&step).unwrap();
        let expected = brute_force_half_step(
            &data.transpose().to_owned(),
            &w.transpose().to_owned(),
            &x_star,
        );
        let diff = (&v - &expected).norm_max() / expected.norm_max().max(1.0);
        assert!(diff <= 1e-12, "trial {trial}: V step off by {diff:e}");
    }
}

#[test]
fn objective_never_increases_between_iterations() {
    let p = planted(150, 100, 6, 6);
    let mut rng = Rng::new(7);
    let noisy = &p.truth + rng.normal_mat(150, 100) * faer::Scale(1.0);
    let w = rng.uniform_mat(150, 100, 0.0, 1.0);
    for init in [WLRA_INIT_SVD, WLRA_INIT_RANDOM] {
        let mut model = wlra::Model::new(6).unwrap();
        model.set_option(WLRA_OPTION_INIT, init as f64).unwrap();
        model.set_option(WLRA_OPTION_TOLERANCE, 0.0).unwrap();
        model.set_option(WLRA_OPTION_MAX_ITERATIONS, 60.0).unwrap();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = seen.clone();
        model.set_progress(Some(Box::new(move |_, f| {
            sink.borrow_mut().push(f);
            true
        })));
        model
            .fit(DenseProblem::new(noisy.as_ref(), Some(w.as_ref())))
            .unwrap();
        let values = seen.borrow();
        assert!(values.len() >= 5, "only {} iterations ran", values.len());
        for pair in values.windows(2) {
            assert!(
                pair[1] <= pair[0],
                "objective rose from {} to {}",
                pair[0],
                pair[1]
            );
        }
        assert_eq!(
            model.info(WLRA_INFO_ITERATIONS).unwrap() as usize,
            values.len()
        );
    }
}

fn all_finite(a: &Mat<f64>) -> bool {
    a.col_iter().all(|c| c.iter().all(|v| v.is_finite()))
}

#[test]
fn zero_and_sparse_weight_rows_and_columns_get_finite_factors() {
    let (n, m, k) = (40, 30, 3);
    let p = planted(n, m, k, 8);
    let mut w = Rng::new(9).uniform_mat(n, m, 0.1, 1.0);
    for j in 0..m {
        w[(0, j)] = 0.0; // row 0: no weight at all
        w[(1, j)] = if j < k - 1 { 1.0 } else { 0.0 }; // row 1: fewer than k
    }
    for i in 0..n {
        w[(i, 0)] = 0.0; // column 0: no weight
        w[(i, 1)] = if i == 5 { 1.0 } else { 0.0 }; // column 1: one weight
    }
    for init in [WLRA_INIT_SVD, WLRA_INIT_RANDOM] {
        let model = fit(&p.truth, Some(&w), k, &[(WLRA_OPTION_INIT, init as f64)]);
        let (u, v) = factors(&model);
        assert!(
            all_finite(&u) && all_finite(&v),
            "init {init}: non-finite factors"
        );
        assert!(model.info(WLRA_INFO_OBJECTIVE).unwrap().is_finite());
        // Unweighted rows carry nothing: the minimum-norm solution is zero.
        assert!(u.row(0).norm_l2() < 1e-12, "row 0 of U is {:?}", u.row(0));
    }
}

#[test]
fn all_zero_weights_give_finite_factors_and_zero_objective() {
    let p = planted(20, 15, 2, 10);
    let w = Mat::<f64>::zeros(20, 15);
    for init in [WLRA_INIT_SVD, WLRA_INIT_RANDOM] {
        let model = fit(&p.truth, Some(&w), 2, &[(WLRA_OPTION_INIT, init as f64)]);
        let (u, v) = factors(&model);
        assert!(all_finite(&u) && all_finite(&v));
        assert_eq!(model.info(WLRA_INFO_OBJECTIVE).unwrap(), 0.0);
    }
}

#[test]
fn ridge_objective_includes_the_penalty_and_decreases() {
    let p = planted(60, 50, 3, 11);
    let w = Rng::new(12).uniform_mat(60, 50, 0.1, 1.0);
    let ridge = 0.5;
    let model = fit(
        &p.truth,
        Some(&w),
        3,
        &[(WLRA_OPTION_RIDGE, ridge), (WLRA_OPTION_TOLERANCE, 1e-12)],
    );
    let (u, v) = factors(&model);
    let residual = &p.truth - &u * v.transpose();
    let mut expected = ridge * (u.squared_norm_l2() + v.squared_norm_l2());
    for j in 0..50 {
        for i in 0..60 {
            expected += w[(i, j)] * residual[(i, j)] * residual[(i, j)];
        }
    }
    let reported = model.info(WLRA_INFO_OBJECTIVE).unwrap();
    assert!(
        (reported - expected).abs() <= 1e-10 * expected,
        "{reported} vs {expected}"
    );
    // Shrinkage: with a ridge the fit cannot be exact.
    assert!(relative_error(&u, &v, &p.truth) > 1e-6);
}
