//! WLRA_OPTION_RIDGE_SCALING = WLRA_RIDGE_WEIGHT_SUMS (issue 17): each
//! row's and column's ridge times its weight sum (ALS-WR). The fit is a
//! stationary point of that objective, unit weights reduce it to a uniform
//! ridge, CSR and dense agree, fold-in scales the same way.

mod common;

use common::{csr, factors, heteroscedastic, planted, Rng};
use faer::Mat;
use wlra::problem::sparse::SparseProblem;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

fn model(k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model
}

fn weight_sums(ridge: f64) -> Vec<(i32, f64)> {
    vec![
        (WLRA_OPTION_RIDGE, ridge),
        (WLRA_OPTION_RIDGE_SCALING, WLRA_RIDGE_WEIGHT_SUMS as f64),
        (WLRA_OPTION_TOLERANCE, 1e-15),
        (WLRA_OPTION_MAX_ITERATIONS, 3000.0),
    ]
}

/// max over rows of |grad_u_i| / (the row's data gradient scale): the
/// gradient of sum W (M - U V^T)^2 + ridge sum_i w_i. |u_i|^2 in u_i is
/// -2 sum_j w_ij r_ij v_j + 2 ridge w_i. u_i.
fn worst_row_gradient(
    data: &Mat<f64>,
    w: &Mat<f64>,
    u: &Mat<f64>,
    v: &Mat<f64>,
    ridge: f64,
) -> f64 {
    let (n, m, k) = (data.nrows(), data.ncols(), u.ncols());
    let mut worst = 0.0f64;
    for i in 0..n {
        let sum: f64 = (0..m).map(|j| w[(i, j)]).sum();
        let (mut gradient, mut scale) = (vec![0.0; k], 0.0f64);
        for j in 0..m {
            let fitted: f64 = (0..k).map(|d| u[(i, d)] * v[(j, d)]).sum();
            for d in 0..k {
                let term = w[(i, j)] * (data[(i, j)] - fitted) * v[(j, d)];
                gradient[d] -= term;
                scale = scale.max(w[(i, j)] * data[(i, j)].abs() * v[(j, d)].abs());
            }
        }
        for d in 0..k {
            gradient[d] += ridge * sum * u[(i, d)];
        }
        let norm = gradient.iter().fold(0.0f64, |s, g| s.max(g.abs()));
        worst = worst.max(norm / scale);
    }
    worst
}

#[test]
fn the_fit_is_stationary_for_the_weight_sum_ridge() {
    let (data, w) = heteroscedastic(50, 40, 3, 12);
    let ridge = 0.02;
    let mut fitted = model(3, &weight_sums(ridge));
    fitted
        .fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
        .unwrap();
    assert_eq!(
        fitted.info(WLRA_INFO_SOLVER_USED).unwrap(),
        WLRA_SOLVER_EXACT as f64
    );
    let (u, v) = factors(&fitted);
    let rows = worst_row_gradient(&data, &w, &u, &v, ridge);
    let (dt, wt) = (data.transpose().to_owned(), w.transpose().to_owned());
    let cols = worst_row_gradient(&dt, &wt, &v, &u, ridge);
    println!("relative gradient: rows {rows:.1e}, columns {cols:.1e}");
    // The V half-step ran last (columns stationary to rounding); the rows
    // are as stationary as the objective's convergence makes them.
    assert!(
        rows < 1e-6 && cols < 1e-12,
        "rows {rows:e}, columns {cols:e}"
    );
    // The uniform ridge's optimum is not stationary here: the test can fail.
    let mut uniform = model(3, &weight_sums(ridge));
    uniform
        .set_option(WLRA_OPTION_RIDGE_SCALING, WLRA_RIDGE_UNIFORM as f64)
        .unwrap();
    uniform
        .fit(DenseProblem::new(data.as_ref(), Some(w.as_ref())))
        .unwrap();
    let (u, v) = factors(&uniform);
    let off = worst_row_gradient(&data, &w, &u, &v, ridge);
    println!("the uniform ridge's optimum: relative gradient {off:.1e}");
    assert!(off > 1e-3, "{off:e}");
}

#[test]
fn unit_weights_on_a_square_matrix_make_it_a_uniform_ridge() {
    // Every row's and column's weight sum is n: the same as ridge * n.
    let n = 40;
    let mut rng = Rng::new(4);
    let data = planted(n, n, 3, 3).truth + rng.normal_mat(n, n) * faer::Scale(0.1);
    let ridge = 0.05;
    let mut scaled = model(3, &weight_sums(ridge));
    scaled.fit(DenseProblem::new(data.as_ref(), None)).unwrap();
    let mut uniform = model(3, &weight_sums(ridge * n as f64));
    uniform
        .set_option(WLRA_OPTION_RIDGE_SCALING, WLRA_RIDGE_UNIFORM as f64)
        .unwrap();
    uniform.fit(DenseProblem::new(data.as_ref(), None)).unwrap();
    let (a, b) = (
        scaled.info(WLRA_INFO_OBJECTIVE).unwrap(),
        uniform.info(WLRA_INFO_OBJECTIVE).unwrap(),
    );
    assert!((a - b).abs() <= 1e-10 * b, "{a} against {b}");
    let product = |m: &Model| {
        let (u, v) = factors(m);
        &u * v.transpose()
    };
    let difference = (product(&scaled) - product(&uniform)).norm_max() / data.norm_max();
    assert!(difference < 1e-8, "{difference:e}");
}

#[test]
fn csr_and_dense_weight_sum_ridges_agree_and_fold_in_follows() {
    let (n, m, k) = (60, 45, 3);
    let p = planted(n, m, k, 30);
    let mut rng = Rng::new(31);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(0.1);
    let mask = Mat::from_fn(n, m, |_, _| f64::from(u8::from(rng.uniform() < 0.4)));
    let w_in = rng.uniform_mat(n, m, 0.5, 3.0);
    for (m_default, w_default) in [(0.0, 0.0), (0.5, 0.2)] {
        let pattern = csr(&mask, &noisy, &w_in);
        let input = pattern.input(n, m, m_default, w_default);
        let sparse = SparseProblem::new(&input).unwrap();
        let on = |i: usize, j: usize| mask[(i, j)] != 0.0;
        let dense_m = Mat::from_fn(
            n,
            m,
            |i, j| if on(i, j) { noisy[(i, j)] } else { m_default },
        );
        let dense_w = Mat::from_fn(n, m, |i, j| if on(i, j) { w_in[(i, j)] } else { w_default });
        let mut options = weight_sums(0.1);
        options.push((WLRA_OPTION_MAX_ITERATIONS, 20.0));
        options.push((WLRA_OPTION_TOLERANCE, 0.0));
        let mut from_csr = model(k, &options);
        from_csr.fit(sparse.view()).unwrap();
        let mut from_dense = model(k, &options);
        from_dense
            .fit(DenseProblem::new(dense_m.as_ref(), Some(dense_w.as_ref())))
            .unwrap();
        let (a, b) = (
            from_csr.info(WLRA_INFO_OBJECTIVE).unwrap(),
            from_dense.info(WLRA_INFO_OBJECTIVE).unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-10 * b,
            "w_default {w_default}: {a} against {b}"
        );
        // Fold-in of the training rows: the fit's next U half-step, with
        // each row's ridge times its weight sum.
        let folded = from_dense
            .transform(dense_m.as_ref(), Some(dense_w.as_ref()))
            .unwrap();
        let (u, v) = factors(&from_dense);
        let mut next = model(k, &options);
        next.set_option(WLRA_OPTION_INIT, WLRA_INIT_GIVEN as f64)
            .unwrap();
        next.set_option(WLRA_OPTION_MAX_ITERATIONS, 1.0).unwrap();
        next.set_start_factors(u.as_ref(), v.as_ref()).unwrap();
        next.fit(DenseProblem::new(dense_m.as_ref(), Some(dense_w.as_ref())))
            .unwrap();
        let expected = factors(&next).0;
        let difference = (&folded - &expected).norm_max() / expected.norm_max();
        assert!(difference < 1e-12, "fold-in: {difference:e}");
    }
}

#[test]
fn ridge_scaling_values_are_checked() {
    let mut m = Model::new(2).unwrap();
    assert_eq!(m.get_option(WLRA_OPTION_RIDGE_SCALING).unwrap(), 0.0);
    for bad in [2.0, -1.0, 0.5, f64::NAN] {
        let status = m
            .set_option(WLRA_OPTION_RIDGE_SCALING, bad)
            .map_err(|e| status_of(&e));
        assert_eq!(status, Err(WLRA_ERROR_INVALID_ARGUMENT), "{bad}");
    }
    m.set_option(WLRA_OPTION_RIDGE_SCALING, 1.0).unwrap();
    assert_eq!(m.get_option(WLRA_OPTION_RIDGE_SCALING).unwrap(), 1.0);
}

#[test]
fn weight_sum_ridges_are_scale_invariant() {
    // The penalty scales with W as the data term does, so W x c keeps the
    // minimizer; M x c keeps it with the ridge x c (U V^T x c). Weights in
    // [0.5, 2], so that the fit itself is well conditioned.
    let mut rng = Rng::new(40);
    let data = planted(40, 30, 3, 40).truth + rng.normal_mat(40, 30) * faer::Scale(0.1);
    let w = rng.uniform_mat(40, 30, 0.5, 2.0);
    let ridge = 0.05;
    let fit = |m: &Mat<f64>, w: &Mat<f64>, ridge: f64| {
        // Converged (tolerance 1e-15); U V^T still moves by the fit's own
        // rounding sensitivity, 3e-10 for W x 3 where no scaling runs, so
        // the products are compared to 1e-8 and the objectives to 1e-10.
        let mut fitted = model(3, &weight_sums(ridge));
        fitted
            .fit(DenseProblem::new(m.as_ref(), Some(w.as_ref())))
            .unwrap();
        let (u, v) = factors(&fitted);
        // An objective past the largest double is an error, not a number.
        let objective = fitted.info(WLRA_INFO_OBJECTIVE).unwrap_or(f64::INFINITY);
        (&u * v.transpose(), objective)
    };
    let (product, objective) = fit(&data, &w, ridge);
    for c in [3.0, 1e-300, 1e-150, 1e150, 1e300] {
        let (p, f) = fit(&data, &(&w * faer::Scale(c)), ridge);
        let gap = (&p - &product).norm_max() / product.norm_max();
        println!("W x {c:e}: U V^T moved {gap:.1e}");
        assert!(gap < 1e-8, "W x {c:e}: {gap:e}");
        assert!(
            (f / c - objective).abs() <= 1e-10 * objective,
            "W x {c:e}: {f:e}"
        );
        let (p, f) = fit(&(&data * faer::Scale(c)), &w, ridge * c);
        let gap = (&p * faer::Scale(1.0 / c) - &product).norm_max() / product.norm_max();
        assert!(gap < 1e-8, "M x {c:e}: {gap:e}");
        let expected = objective * c * c;
        if expected.is_finite() {
            assert!((f - expected).abs() <= 1e-10 * expected, "M x {c:e}: {f:e}");
        } else {
            assert_eq!(f, f64::INFINITY, "M x {c:e}: the objective overflows");
        }
    }
}
