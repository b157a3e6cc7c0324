//! Sparse input (issue 7): the same problem sparse and densified gives the
//! same fit, and matrix completion recovers a planted matrix.

mod common;

use common::{planted, Rng};
use faer::Mat;
use wlra::model::{WLRA_INFO_ITERATIONS, WLRA_INFO_OBJECTIVE};
use wlra::options::*;
use wlra::problem::sparse::{CsrInput, SparseProblem};
use wlra::{DenseProblem, Model};

/// A CSR pattern over `mask`, with the values of `m` and `w` inside it.
struct Csr {
    row_ptr: Vec<i64>,
    col_idx: Vec<i64>,
    m: Vec<f64>,
    w: Vec<f64>,
}

fn csr(mask: &Mat<f64>, m: &Mat<f64>, w: &Mat<f64>) -> Csr {
    let mut out = Csr {
        row_ptr: vec![0],
        col_idx: vec![],
        m: vec![],
        w: vec![],
    };
    for i in 0..mask.nrows() {
        for j in 0..mask.ncols() {
            if mask[(i, j)] != 0.0 {
                out.col_idx.push(j as i64);
                out.m.push(m[(i, j)]);
                out.w.push(w[(i, j)]);
            }
        }
        out.row_ptr.push(out.col_idx.len() as i64);
    }
    out
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
        let options = [
            (WLRA_OPTION_TOLERANCE, 0.0),
            (WLRA_OPTION_MAX_ITERATIONS, 15.0),
        ];
        let mut dense = model(k, &options);
        dense
            .fit(DenseProblem::new(dense_m.as_ref(), Some(dense_w.as_ref())))
            .unwrap();
        let sparse_problem = SparseProblem::new(&CsrInput {
            n_rows: n,
            n_cols: m,
            row_ptr: &pattern.row_ptr,
            col_idx: &pattern.col_idx,
            m_values: &pattern.m,
            w_values: Some(&pattern.w),
            m_default,
            w_default,
        })
        .unwrap();
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
    let problem = SparseProblem::new(&CsrInput {
        n_rows: n,
        n_cols: n,
        row_ptr: &pattern.row_ptr,
        col_idx: &pattern.col_idx,
        m_values: &pattern.m,
        w_values: None,
        m_default: 0.0,
        w_default: 0.0,
    })
    .unwrap();
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
