//! AUTO's closed form where the truncated SVD is the optimum
//! (`outer::eckart_young`): dense input with rank-one positive weights
//! (unit weights included), no ridge, no offsets. It must give the
//! Eckart-Young objective computed independently (faer's SVD of
//! D_a^1/2 M D_b^1/2), run no iteration, report WLRA_METHOD_SVD, and agree
//! with explicit methods iterated to convergence; everywhere else AUTO
//! iterates as before.

mod common;

use common::{fit, Rng};
use faer::Mat;
use wlra::vocabulary::*;
use wlra::Model;

fn gaussian(n: usize, m: usize, rng: &mut Rng) -> Mat<f64> {
    Mat::from_fn(n, m, |_, _| rng.normal())
}

/// Planted rank `r` plus noise: a spectrum with a clear gap after r.
fn data(n: usize, m: usize, r: usize, seed: u64) -> Mat<f64> {
    let mut rng = Rng::new(seed);
    let (a, b) = (gaussian(n, r, &mut rng), gaussian(m, r, &mut rng));
    &a * b.transpose() + gaussian(n, m, &mut rng) * faer::Scale(0.1)
}

/// sum of the squared singular values after the k-th, of `a`.
fn eckart_young(a: &Mat<f64>, k: usize) -> f64 {
    let s = a.singular_values().unwrap();
    s.iter().skip(k).map(|x| x * x).sum()
}

fn info(model: &Model, item: i32) -> f64 {
    model.info(item).unwrap()
}

/// sum w (m - u v^T)^2 of the model's factors, computed here.
fn objective(model: &Model, m: &Mat<f64>, w: Option<&Mat<f64>>) -> f64 {
    let (u, v) = model.factors().unwrap();
    let x = u * v.transpose();
    let mut sum = 0.0;
    for j in 0..m.ncols() {
        for i in 0..m.nrows() {
            let r = m[(i, j)] - x[(i, j)];
            sum += w.map_or(1.0, |w| w[(i, j)]) * r * r;
        }
    }
    sum
}

#[test]
fn unit_and_rank_one_weights_give_the_truncated_svd_without_iterating() {
    // Tall, wide, k beyond the short side's planted rank, k = short side.
    for (n, m, r, k) in [
        (300, 40, 6, 4),
        (25, 200, 5, 5),
        (120, 60, 3, 8),
        (90, 7, 7, 7),
    ] {
        let x = data(n, m, r, n as u64 + m as u64);
        let mut rng = Rng::new(7);
        let (a, b): (Vec<f64>, Vec<f64>) = (
            (0..n).map(|_| rng.between(0.2, 5.0)).collect(),
            (0..m).map(|_| rng.between(0.2, 5.0)).collect(),
        );
        let w = Mat::from_fn(n, m, |i, j| a[i] * b[j]);
        let scaled = Mat::from_fn(n, m, |i, j| x[(i, j)] * (a[i] * b[j]).sqrt());
        for (what, weights, truth) in [
            ("W = NULL", None, eckart_young(&x, k)),
            ("W = a b^T", Some(&w), eckart_young(&scaled, k)),
        ] {
            let model = fit(&x, weights, k, &[]);
            let case = format!("{n} x {m}, k = {k}, {what}");
            let reported = info(&model, WLRA_INFO_OBJECTIVE);
            let scale = x.norm_l2().powi(2) * b.iter().fold(1.0f64, |s, v| s.max(*v)) * 25.0;
            let tolerance = 1e-12 * truth.max(1e-3 * scale);
            assert!(
                (reported - truth).abs() <= tolerance,
                "{case}: {reported} vs {truth}"
            );
            let own = objective(&model, &x, weights);
            assert!(
                (own - truth).abs() <= tolerance,
                "{case}: factors give {own}, not {truth}"
            );
            assert_eq!(info(&model, WLRA_INFO_ITERATIONS), 0.0, "{case}");
            assert_eq!(info(&model, WLRA_INFO_CONVERGED), 1.0, "{case}");
            assert_eq!(
                info(&model, WLRA_INFO_METHOD_USED),
                WLRA_METHOD_SVD as f64,
                "{case}"
            );
        }
    }
}

#[test]
fn explicit_methods_iterated_to_convergence_reach_the_closed_form() {
    let (n, m, k) = (150, 50, 5);
    let x = data(n, m, 8, 3);
    let w = Mat::from_fn(n, m, |i, j| (1.0 + (i % 7) as f64) * (0.5 + (j % 3) as f64));
    for weights in [None, Some(&w)] {
        let closed = info(&fit(&x, weights, k, &[]), WLRA_INFO_OBJECTIVE);
        for method in [WLRA_METHOD_ALTERNATING, WLRA_METHOD_ACCELERATED] {
            let options = [
                (WLRA_OPTION_METHOD, method as f64),
                (WLRA_OPTION_TOLERANCE, 1e-15),
                (WLRA_OPTION_MAX_ITERATIONS, 5000.0),
            ];
            let iterated = info(&fit(&x, weights, k, &options), WLRA_INFO_OBJECTIVE);
            // The closed form is the optimum: nothing iterated gets below it.
            assert!(
                closed <= iterated * (1.0 + 1e-12) && iterated <= closed * (1.0 + 1e-9),
                "method {method}: iterated {iterated}, closed form {closed}"
            );
        }
    }
}

/// (what, weights, options).
type Case<'a> = (&'a str, Option<&'a Mat<f64>>, Vec<(i32, f64)>);

#[test]
fn elsewhere_auto_iterates() {
    let (n, m, k) = (80, 30, 3);
    let x = data(n, m, 4, 5);
    let mut rng = Rng::new(9);
    let general = Mat::from_fn(n, m, |_, _| rng.between(0.1, 1.0));
    let mut one_missing = Mat::from_fn(n, m, |_, _| 1.0);
    one_missing[(4, 2)] = 0.0;
    let cases: [Case; 5] = [
        ("general weights", Some(&general), vec![]),
        ("one entry missing", Some(&one_missing), vec![]),
        ("ridge", None, vec![(WLRA_OPTION_RIDGE, 0.5)]),
        (
            "column offsets",
            None,
            vec![(WLRA_OPTION_OFFSETS, WLRA_OFFSETS_COLUMNS as f64)],
        ),
        (
            "random start",
            None,
            vec![(WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64)],
        ),
    ];
    for (what, weights, options) in cases {
        let model = fit(&x, weights, k, &options);
        assert_ne!(
            info(&model, WLRA_INFO_METHOD_USED),
            WLRA_METHOD_SVD as f64,
            "{what}"
        );
        assert!(info(&model, WLRA_INFO_ITERATIONS) > 0.0, "{what}");
    }
}

#[test]
fn a_rank_deficient_short_side_falls_back_to_iterating() {
    // Exact rank 2 asked at k = 4: the 3rd and 4th eigenvalues of the Gram
    // matrix are rounding, so the closed form is not trusted; alternation
    // reaches the exact fit.
    let (n, m) = (60, 12);
    let mut rng = Rng::new(11);
    let (a, b) = (gaussian(n, 2, &mut rng), gaussian(m, 2, &mut rng));
    let x = &a * b.transpose();
    let model = fit(&x, None, 4, &[]);
    assert_ne!(info(&model, WLRA_INFO_METHOD_USED), WLRA_METHOD_SVD as f64);
    let floor = 1e-20 * x.norm_l2().powi(2);
    assert!(objective(&model, &x, None) <= floor.max(1e-24));
}
