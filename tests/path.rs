//! A regularization path (issue 17, acceptance 2): fits from a large ridge
//! down, each started where the last ended (WLRA_INIT_WARM), reach the
//! optimum an independent fit at that ridge reaches, in fewer iterations.

mod common;

use common::{planted, Rng};
use faer::Mat;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

/// Ten ridges from `largest` down, a factor 2.5 apart.
fn ridges(largest: f64) -> Vec<f64> {
    (0..10).map(|p| largest / 2.5f64.powi(p)).collect()
}

/// A planted rank-4 problem with noise and weights in [0.1, 1].
fn noisy(n: usize, m: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let p = planted(n, m, 4, seed);
    let mut rng = Rng::new(seed + 1);
    let data = p.truth + rng.normal_mat(n, m) * faer::Scale(0.1);
    (data, rng.uniform_mat(n, m, 0.1, 1.0))
}

fn options(model: &mut Model, ridge: f64, init: i32) {
    model.set_option(WLRA_OPTION_RIDGE, ridge).unwrap();
    model.set_option(WLRA_OPTION_INIT, init as f64).unwrap();
    model.set_option(WLRA_OPTION_TOLERANCE, 1e-14).unwrap();
    model
        .set_option(WLRA_OPTION_MAX_ITERATIONS, 5000.0)
        .unwrap();
}

#[test]
fn each_fit_of_a_warm_path_equals_an_independent_fit() {
    let (data, w) = noisy(90, 70, 3);
    let problem = || DenseProblem::new(data.as_ref(), Some(w.as_ref()));
    let mut path = Model::new(4).unwrap();
    let (mut path_iterations, mut independent_iterations) = (0.0, 0.0);
    for ridge in ridges(20.0) {
        options(&mut path, ridge, WLRA_INIT_WARM);
        path.fit(problem()).unwrap();
        let mut independent = Model::new(4).unwrap();
        options(&mut independent, ridge, WLRA_INIT_SVD);
        independent.fit(problem()).unwrap();
        let on_path = path.info(WLRA_INFO_OBJECTIVE).unwrap();
        let alone = independent.info(WLRA_INFO_OBJECTIVE).unwrap();
        let gap = (on_path - alone).abs() / alone;
        let (p, i) = (
            path.info(WLRA_INFO_ITERATIONS).unwrap(),
            independent.info(WLRA_INFO_ITERATIONS).unwrap(),
        );
        println!("ridge {ridge:9.5}: path {on_path:.12e} ({p} iterations), independent {alone:.12e} ({i}), relative gap {gap:.1e}");
        assert!(gap < 1e-8, "ridge {ridge}: {gap:e}");
        path_iterations += p;
        independent_iterations += i;
    }
    println!(
        "iterations over the path {path_iterations}, independent fits {independent_iterations}"
    );
    assert!(path_iterations < independent_iterations);
}

#[test]
fn warm_start_without_a_fit_of_that_shape_is_the_svd_start() {
    let (data, w) = noisy(40, 30, 5);
    let (other, other_w) = noisy(30, 30, 6);
    let fit = |warm_first: bool| {
        let mut model = Model::new(4).unwrap();
        if warm_first {
            // A fit of another shape: nothing to start from.
            model
                .fit(DenseProblem::new(other.as_ref(), Some(other_w.as_ref())))
                .unwrap();
        }
        let init = if warm_first {
            WLRA_INIT_WARM
        } else {
            WLRA_INIT_SVD
        };
        options(&mut model, 0.5, init);
        model.set_option(WLRA_OPTION_MAX_ITERATIONS, 3.0).unwrap();
        model
            .fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
            .unwrap();
        let (u, v) = model.factors().unwrap();
        (u.to_owned(), v.to_owned())
    };
    let (warm, svd) = (fit(true), fit(false));
    assert_eq!(warm.0, svd.0);
    assert_eq!(warm.1, svd.1);
    let mut model = Model::new(2).unwrap();
    assert_eq!(
        model
            .set_option(WLRA_OPTION_INIT, 4.0)
            .map_err(|e| wlra::vocabulary::status_of(&e)),
        Err(wlra::vocabulary::WLRA_ERROR_INVALID_ARGUMENT)
    );
    model.set_option(WLRA_OPTION_INIT, 3.0).unwrap();
    assert_eq!(model.get_option(WLRA_OPTION_INIT).unwrap(), 3.0);
}
