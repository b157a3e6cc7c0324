//! The hand-written kernels compiled for AVX2 (`kernels::vectorized`) give
//! the same bits as their baseline build: without FMA and without
//! reassociation each lane does the same operations in the same order.
//! Checked through whole VarPro fits, whose elimination and assembly run
//! those kernels, on a planted problem with missing entries at ranks with
//! and without a compiled-in kernel.

mod common;

use common::Rng;
use faer::Mat;
use wlra::internals::vectorized_kernels_off;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

fn varpro_fit(m: &Mat<f64>, w: &Mat<f64>, k: usize) -> (Mat<f64>, Mat<f64>, f64) {
    let mut model = Model::new(k).unwrap();
    for (id, value) in [
        (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
        (WLRA_OPTION_RESTARTS, 0.0),
        (WLRA_OPTION_MAX_ITERATIONS, 20.0),
    ] {
        model.set_option(id, value).unwrap();
    }
    model
        .fit(DenseProblem::new(m.as_ref(), Some(w.as_ref())))
        .unwrap();
    let (u, v) = common::factors(&model);
    (u, v, model.info(WLRA_INFO_OBJECTIVE).unwrap())
}

#[test]
fn varpro_fits_have_the_same_bits_with_and_without_avx2() {
    let mut rng = Rng::new(7);
    for k in [3, 5, 9] {
        let (n, m) = (40, 70);
        let truth = rng.normal_mat(n, k) * rng.normal_mat(k, m);
        let noisy = &truth + rng.normal_mat(n, m) * faer::Scale(0.01);
        let w = Mat::from_fn(n, m, |_, _| f64::from(rng.uniform() < 0.6));
        let vectorized = varpro_fit(&noisy, &w, k);
        vectorized_kernels_off(true);
        let baseline = varpro_fit(&noisy, &w, k);
        vectorized_kernels_off(false);
        assert_eq!(
            vectorized.2.to_bits(),
            baseline.2.to_bits(),
            "objective, k = {k}"
        );
        assert!(
            vectorized.0 == baseline.0 && vectorized.1 == baseline.1,
            "factors, k = {k}"
        );
    }
}
