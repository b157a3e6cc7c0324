//! VarPro's Newton steps (src/outer/varpro/newton.rs, docs/optimum.md
//! "Newton's model in the tail"): where the data are far from rank k,
//! Gauss-Newton converges only linearly; once its decreases shrink by a
//! steady ratio VarPro takes Newton's steps. Against the same fits with
//! Gauss-Newton's model throughout (`Model::force_gauss_newton_varpro`),
//! from the same starts: Newton steps are taken, the fits end at the same
//! optimum (objective and U V^T), and in fewer iterations. That H v of
//! Newton's model is the derivative of the gradient is a unit test beside
//! the code.
//!
//!     cargo test --release --test varpro_newton -- --nocapture

mod common;

use common::{isolated_mask, planted, Rng};
use faer::Mat;
use wlra::internals::varpro_newton_tally;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

const SHAPE: (usize, usize, usize) = (40, 150, 3);

/// Planted rank 3 plus noise of standard deviation `noise` against the
/// planted entries' 1.7 (so the optimum's residual is far from zero), on a
/// 60 % mask with weights U(0.5, 1.5).
fn problem(noise: f64) -> (Mat<f64>, Mat<f64>) {
    let (n, m, k) = SHAPE;
    let p = planted(n, m, k, 70);
    let mut rng = Rng::new(71);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(noise);
    let mask = isolated_mask(n, m, k, 0.6, 72);
    let weights = rng.uniform_mat(n, m, 0.5, 1.5);
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * weights[(i, j)]);
    (noisy, w)
}

struct Run {
    objective: f64,
    product: Mat<f64>,
    iterations: f64,
    newton_steps: usize,
}

/// Explicit VARPRO, one random start (`seed`), default tolerance.
fn varpro(m: &Mat<f64>, w: &Mat<f64>, seed: u64, ridge: f64, gauss_newton_only: bool) -> Run {
    let mut model = Model::new(SHAPE.2).unwrap();
    let options = [
        (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
        (WLRA_OPTION_RESTARTS, 0.0),
        (WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64),
        (WLRA_OPTION_SEED, seed as f64),
        (WLRA_OPTION_RIDGE, ridge),
        (WLRA_OPTION_TOLERANCE, 1e-12),
        (WLRA_OPTION_MAX_ITERATIONS, 5000.0),
    ];
    for (id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model.force_gauss_newton_varpro(gauss_newton_only);
    let before = varpro_newton_tally();
    model
        .fit(DenseProblem::new(m.as_ref(), Some(w.as_ref())))
        .unwrap();
    let newton_steps = varpro_newton_tally() - before;
    assert_eq!(model.info(WLRA_INFO_CONVERGED).unwrap(), 1.0, "seed {seed}");
    let (u, v) = model.factors().unwrap();
    Run {
        objective: model.info(WLRA_INFO_OBJECTIVE).unwrap(),
        product: u * v.transpose(),
        iterations: model.info(WLRA_INFO_ITERATIONS).unwrap(),
        newton_steps,
    }
}

#[test]
fn newton_steps_reach_gauss_newtons_optimum_in_fewer_iterations() {
    let (m, w) = problem(3.0);
    for ridge in [0.0, 0.5] {
        let (mut newton_iterations, mut gauss_newton_iterations) = (0.0, 0.0);
        for seed in 0..4 {
            let newton = varpro(&m, &w, seed, ridge, false);
            let gauss_newton = varpro(&m, &w, seed, ridge, true);
            let objective_gap =
                (newton.objective - gauss_newton.objective).abs() / gauss_newton.objective;
            let product_gap = (&newton.product - &gauss_newton.product).norm_l2()
                / gauss_newton.product.norm_l2();
            println!(
                "ridge {ridge}, seed {seed}: f = {:.12e}; Newton {} iterations ({} Newton steps), \
                 Gauss-Newton {}; objectives differ by {objective_gap:.1e}, U V^T by {product_gap:.1e}",
                newton.objective, newton.iterations, newton.newton_steps, gauss_newton.iterations
            );
            assert_eq!(gauss_newton.newton_steps, 0);
            assert!(
                newton.newton_steps > 0,
                "ridge {ridge}, seed {seed}: no Newton step"
            );
            // Both stop at tolerance 1e-12 on the same minimum.
            assert!(
                objective_gap <= 1e-10,
                "ridge {ridge}, seed {seed}: {objective_gap:e}"
            );
            assert!(
                product_gap <= 1e-5,
                "ridge {ridge}, seed {seed}: {product_gap:e}"
            );
            newton_iterations += newton.iterations;
            gauss_newton_iterations += gauss_newton.iterations;
        }
        println!("ridge {ridge}: {newton_iterations} iterations with Newton steps, {gauss_newton_iterations} without");
        assert!(
            newton_iterations <= 0.8 * gauss_newton_iterations,
            "ridge {ridge}: {newton_iterations} against {gauss_newton_iterations}"
        );
    }
}
