//! WLRA_INFO_DEGENERATE (issue 28, added in 1.4): how many of the rank's
//! components the fitted product U V^T lacks, from its canonical singular
//! values, so that a program or binding can say a fit is degenerate.

use wlra::ffi::*;
use wlra::vocabulary::*;

/// A model of `rank` after `wlra_fit` of the n x m row-major `m` (unit
/// weights, the exact solver), or after `wlra_set_fitted` of `loaded`.
struct Handle(*mut wlra_model);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: a live handle, destroyed once.
        unsafe { wlra_destroy(self.0) }
    }
}

impl Handle {
    fn new(rank: usize) -> Handle {
        let mut model = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        assert_eq!(unsafe { wlra_create(rank, &mut model) }, WLRA_OK);
        Handle(model)
    }

    fn fitted(rank: usize, n: usize, m: usize, values: &[f64], options: &[(i32, f64)]) -> Handle {
        assert_eq!(values.len(), n * m);
        let h = Handle::new(rank);
        // SAFETY: a live handle; `values` is n x m row-major.
        unsafe {
            for &(option, value) in options {
                assert_eq!(wlra_set_option(h.0, option, value), WLRA_OK);
            }
            let null = std::ptr::null();
            let status = wlra_fit(h.0, n, m, values.as_ptr(), m, null, m, WLRA_ROW_MAJOR);
            assert_eq!(status, WLRA_OK);
        }
        h
    }

    fn loaded(rank: usize, u: &[f64], v: &[f64]) -> Handle {
        let h = Handle::new(rank);
        let null = std::ptr::null();
        let (n, m) = (u.len() / rank, v.len() / rank);
        // SAFETY: a live handle; u is n x rank and v m x rank, row-major.
        let status = unsafe {
            wlra_set_fitted(
                h.0,
                n,
                m,
                u.as_ptr(),
                rank,
                v.as_ptr(),
                rank,
                null,
                null,
                WLRA_ROW_MAJOR,
            )
        };
        assert_eq!(status, WLRA_OK);
        h
    }

    fn degenerate(&self) -> (wlra_status, f64) {
        let mut value = -1.0;
        // SAFETY: a live handle and a writable double.
        let status = unsafe { wlra_get_info(self.0, WLRA_INFO_DEGENERATE, &mut value) };
        (status, value)
    }
}

/// The rank-one 6 x 5 matrix (i + 1)(j + 1), row-major.
fn rank_one() -> Vec<f64> {
    (0..30)
        .map(|p| ((p / 5 + 1) * (p % 5 + 1)) as f64)
        .collect()
}

#[test]
fn a_full_rank_fit_lacks_no_component() {
    let m: Vec<f64> = (0..30).map(|p| ((p * 7919) % 13) as f64 - 6.0).collect();
    assert_eq!(
        Handle::fitted(2, 6, 5, &m, &[]).degenerate(),
        (WLRA_OK, 0.0)
    );
}

#[test]
fn a_rank_two_fit_of_a_rank_one_matrix_lacks_one_component() {
    let exact = [(WLRA_OPTION_SOLVER, f64::from(WLRA_SOLVER_EXACT))];
    // The default (the SVD in closed form for unit weights) and alternating
    // minimization from a random start both end with U V^T of rank 1.
    assert_eq!(
        Handle::fitted(2, 6, 5, &rank_one(), &[]).degenerate(),
        (WLRA_OK, 1.0)
    );
    let alternating = [
        exact[0],
        (WLRA_OPTION_METHOD, f64::from(WLRA_METHOD_ALTERNATING)),
        (WLRA_OPTION_INIT, f64::from(WLRA_INIT_RANDOM)),
    ];
    let h = Handle::fitted(2, 6, 5, &rank_one(), &alternating);
    assert_eq!(h.degenerate(), (WLRA_OK, 1.0));
}

#[test]
fn a_zero_matrix_lacks_every_component() {
    assert_eq!(
        Handle::fitted(3, 6, 5, &[0.0; 30], &[]).degenerate(),
        (WLRA_OK, 3.0)
    );
}

#[test]
fn loaded_factors_are_counted_in_any_gauge() {
    // U's second column is twice its first: U V^T has rank 1 whatever V is.
    let u = [1.0, 2.0, -3.0, -6.0, 0.5, 1.0, 4.0, 8.0];
    let v = [1.0, 0.0, 0.0, 1.0, 2.0, 5.0];
    assert_eq!(Handle::loaded(2, &u, &v).degenerate(), (WLRA_OK, 1.0));
    let independent = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, -1.0];
    assert_eq!(
        Handle::loaded(2, &independent, &v).degenerate(),
        (WLRA_OK, 0.0)
    );
}

#[test]
fn before_a_fit_it_is_not_fitted() {
    assert_eq!(Handle::new(2).degenerate().0, WLRA_ERROR_NOT_FITTED);
}
