//! Held-out folds (issue 17): WLRA_OPTION_FOLDS / _HELD_OUT_FOLD split the
//! observed entries by a hash of (seed, i, j); a fit holding a fold out is
//! the fit with those weights 0, and WLRA_INFO_HELD_OUT_RMSE is their error
//! at its factors. Dense and CSR agree; bad settings are refused.

mod common;

use common::{csr, factors, planted, Rng};
use faer::Mat;
use wlra::internals::Folds;
use wlra::problem::sparse::SparseProblem;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

const FOLDS: usize = 5;

fn model(k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model
}

struct Data {
    m: Mat<f64>,
    w: Mat<f64>,
    mask: Mat<f64>,
}

/// Planted rank 3 plus noise, 40 % observed with weights in [0.5, 2].
fn data(seed: u64) -> Data {
    let (n, m) = (120, 90);
    let mut rng = Rng::new(seed);
    let values = planted(n, m, 3, seed).truth + rng.normal_mat(n, m) * faer::Scale(0.1);
    let mask = Mat::from_fn(n, m, |_, _| f64::from(u8::from(rng.uniform() < 0.4)));
    let w = Mat::from_fn(n, m, |i, j| mask[(i, j)] * rng.between(0.5, 2.0));
    Data { m: values, w, mask }
}

fn options(held_out: usize) -> Vec<(i32, f64)> {
    vec![
        (WLRA_OPTION_FOLDS, FOLDS as f64),
        (WLRA_OPTION_HELD_OUT_FOLD, held_out as f64),
        (WLRA_OPTION_RIDGE, 0.5),
        (WLRA_OPTION_MAX_ITERATIONS, 30.0),
        (WLRA_OPTION_TOLERANCE, 0.0),
        (WLRA_OPTION_SEED, 7.0),
    ]
}

#[test]
fn the_folds_partition_the_observed_entries_evenly() {
    let d = data(1);
    let observed = d.mask.col_iter().map(|c| c.sum()).sum::<f64>();
    let mut total = 0.0;
    for h in 0..FOLDS {
        let mut fit = model(3, &options(h));
        fit.fit(DenseProblem::new(d.m.as_ref(), Some(d.w.as_ref())))
            .unwrap();
        let entries = fit.info(WLRA_INFO_HELD_OUT_ENTRIES).unwrap();
        // Each entry lands in a fold with probability 1/5: within 4 sigma.
        let (mean, sigma) = (observed / 5.0, (observed * 0.2 * 0.8).sqrt());
        assert!(
            (entries - mean).abs() < 4.0 * sigma,
            "fold {h}: {entries} of {observed}"
        );
        total += entries;
    }
    assert_eq!(total, observed);
}

#[test]
fn a_held_out_fit_is_the_fit_with_those_weights_zero_and_its_error_is_theirs() {
    let d = data(2);
    let (n, m) = (d.m.nrows(), d.m.ncols());
    let h = 3;
    let mut held = model(3, &options(h));
    held.fit(DenseProblem::new(d.m.as_ref(), Some(d.w.as_ref())))
        .unwrap();
    // The same fold by hand, and the fit with its weights zeroed.
    let folds = Folds {
        count: FOLDS,
        held_out: h,
        seed: 7,
    };
    let out = |i: usize, j: usize| d.w[(i, j)] > 0.0 && folds.is_held_out(i, j);
    let training_w = Mat::from_fn(n, m, |i, j| if out(i, j) { 0.0 } else { d.w[(i, j)] });
    let mut plain_options = options(h);
    plain_options.retain(|&(id, _)| id != WLRA_OPTION_FOLDS);
    let mut by_hand = model(3, &plain_options);
    by_hand
        .fit(DenseProblem::new(d.m.as_ref(), Some(training_w.as_ref())))
        .unwrap();
    assert_eq!(
        factors(&held),
        factors(&by_hand),
        "not the fit with W = 0 there"
    );
    // The held-out error, recomputed from the factors.
    let (u, v) = factors(&held);
    let fitted = &u * v.transpose();
    let (mut squares, mut weights, mut entries) = (0.0, 0.0, 0usize);
    for j in 0..m {
        for i in 0..n {
            if out(i, j) {
                squares += d.w[(i, j)] * (d.m[(i, j)] - fitted[(i, j)]).powi(2);
                weights += d.w[(i, j)];
                entries += 1;
            }
        }
    }
    let rmse = held.info(WLRA_INFO_HELD_OUT_RMSE).unwrap();
    let expected = (squares / weights).sqrt();
    assert!(
        (rmse - expected).abs() <= 1e-12 * expected,
        "{rmse} against {expected}"
    );
    assert_eq!(
        held.info(WLRA_INFO_HELD_OUT_ENTRIES).unwrap(),
        entries as f64
    );
    println!("held-out RMSE {rmse:.4} over {entries} entries (noise 0.1)");
    assert!(rmse > 0.1 && rmse < 1.0, "{rmse}");
}

#[test]
fn csr_and_dense_held_out_fits_agree() {
    let d = data(3);
    let (n, m) = (d.m.nrows(), d.m.ncols());
    let pattern = csr(&d.mask, &d.m, &d.w);
    let input = pattern.input(n, m, 0.0, 0.0);
    for h in [0, 4] {
        let mut dense = model(3, &options(h));
        dense
            .fit(DenseProblem::new(d.m.as_ref(), Some(d.w.as_ref())))
            .unwrap();
        let mut sparse = model(3, &options(h));
        sparse.fit_csr(&input).unwrap();
        for item in [WLRA_INFO_OBJECTIVE, WLRA_INFO_HELD_OUT_RMSE] {
            let (a, b) = (dense.info(item).unwrap(), sparse.info(item).unwrap());
            assert!(
                (a - b).abs() <= 1e-10 * b,
                "fold {h}, item {item}: {a} against {b}"
            );
        }
        assert_eq!(
            dense.info(WLRA_INFO_HELD_OUT_ENTRIES).unwrap(),
            sparse.info(WLRA_INFO_HELD_OUT_ENTRIES).unwrap()
        );
    }
    // A different seed gives different folds.
    let mut other = model(3, &options(0));
    other.set_option(WLRA_OPTION_SEED, 8.0).unwrap();
    other.fit_csr(&input).unwrap();
    let mut same = model(3, &options(0));
    same.fit_csr(&input).unwrap();
    assert_ne!(
        other.info(WLRA_INFO_HELD_OUT_RMSE).unwrap(),
        same.info(WLRA_INFO_HELD_OUT_RMSE).unwrap()
    );
}

#[test]
fn bad_fold_settings_are_refused_and_change_nothing() {
    let d = data(4);
    let refused = |result: wlra::Result<()>| result.map_err(|e| status_of(&e));
    let invalid = Err(WLRA_ERROR_INVALID_ARGUMENT);
    let mut m = Model::new(3).unwrap();
    assert_eq!(refused(m.set_option(WLRA_OPTION_FOLDS, 1.0)), invalid);
    assert_eq!(refused(m.set_option(WLRA_OPTION_FOLDS, 2.5)), invalid);
    assert_eq!(
        refused(m.set_option(WLRA_OPTION_HELD_OUT_FOLD, -1.0)),
        invalid
    );
    // A held-out fold beyond the folds: refused at the fit, nothing fitted.
    m.set_option(WLRA_OPTION_FOLDS, 3.0).unwrap();
    m.set_option(WLRA_OPTION_HELD_OUT_FOLD, 3.0).unwrap();
    let problem = || DenseProblem::new(d.m.as_ref(), Some(d.w.as_ref()));
    assert_eq!(refused(m.fit(problem())), invalid);
    assert!(m.factors().is_err());
    // The held-out information of a fit without folds.
    let mut plain = Model::new(3).unwrap();
    plain.fit(problem()).unwrap();
    assert_eq!(
        plain
            .info(WLRA_INFO_HELD_OUT_RMSE)
            .map_err(|e| status_of(&e)),
        Err(WLRA_ERROR_INVALID_ARGUMENT)
    );
    // A fold with no observed entry: one observed entry in fold 1 of 2 or
    // in fold 0; holding out the other fold holds out nothing.
    let mut w = Mat::zeros(4, 3);
    w[(2, 1)] = 1.0;
    let m_small = Mat::from_fn(4, 3, |i, j| (i + j) as f64);
    let mut counts = [0usize; 2];
    let mut last_error = String::new();
    for (h, count) in counts.iter_mut().enumerate() {
        let mut tiny = model(
            1,
            &[
                (WLRA_OPTION_FOLDS, 2.0),
                (WLRA_OPTION_HELD_OUT_FOLD, h as f64),
            ],
        );
        match tiny.fit(DenseProblem::new(m_small.as_ref(), Some(w.as_ref()))) {
            Ok(()) => *count = tiny.info(WLRA_INFO_HELD_OUT_ENTRIES).unwrap() as usize,
            Err(e) => {
                assert_eq!(status_of(&e), WLRA_ERROR_INVALID_ARGUMENT);
                last_error = e.message().to_string();
                assert!(tiny.factors().is_err());
            }
        }
    }
    assert_eq!(counts.iter().sum::<usize>(), 1, "{counts:?}");
    assert!(
        last_error.contains("holds no observed entry"),
        "{last_error}"
    );
    // Sparse input with folds needs its CSR arrays.
    let pattern = csr(&d.mask, &d.m, &d.w);
    let input = pattern.input(d.m.nrows(), d.m.ncols(), 0.0, 0.0);
    let sparse = SparseProblem::new(&input).unwrap();
    let mut folds = model(3, &options(0));
    assert_eq!(refused(folds.fit(sparse.view())), invalid);
}
