//! Mixed precision (issue 29, WLRA_OPTION_MIXED_PRECISION): SHARED_PCG on
//! sparse input gathers float32 rows of the fixed factor while the inner
//! solves are loose. The promises: a converged fit ends where the float64
//! fit ends (objective to 1e-10), the final iterations read float64 rows,
//! WLRA_INFO_NARROW_HALF_STEPS says how many half-steps did not, the
//! option turns it off, and the thread count and the data's scale change
//! nothing, for each outer method.

mod common;

use common::{csr, Rng};
use faer::Mat;
use wlra::internals::narrow_rows_fast;
use wlra::problem::sparse::SparseProblem;
use wlra::vocabulary::*;
use wlra::Model;

/// Rank 16 (a multiple of 8, as the float32 kernels take) and an
/// implicit-feedback pattern: W = 1 + 10 counts on about 8 % of a 300 x
/// 200 matrix whose rows and columns share a planted rank-16 taste, M = 1
/// there, w_default = 1 and m_default = 0 elsewhere.
const RANK: usize = 16;

fn implicit_feedback(scale_w: f64, scale_m: f64) -> SparseProblem {
    let (n, m) = (300, 200);
    let mut rng = Rng::new(2909);
    let taste = &rng.normal_mat(n, RANK) * rng.normal_mat(m, RANK).transpose();
    let mask = Mat::from_fn(n, m, |i, j| {
        f64::from(taste[(i, j)] > 9.0 || rng.uniform() < 0.02)
    });
    let counts = Mat::from_fn(n, m, |_, _| (1.0 / rng.uniform()).floor().min(40.0));
    let w = Mat::from_fn(n, m, |i, j| scale_w * (1.0 + 10.0 * counts[(i, j)]));
    let ones = Mat::from_fn(n, m, |_, _| scale_m);
    let pattern = csr(&mask, &ones, &w);
    SparseProblem::new(&pattern.input(n, m, 0.0, scale_w)).unwrap()
}

struct Fitted {
    objective: f64,
    iterations: f64,
    narrow: f64,
    converged: f64,
    u: Vec<u64>,
}

fn fit(problem: &SparseProblem, options: &[(i32, f64)]) -> Fitted {
    let mut model = Model::new(RANK).unwrap();
    model.set_option(WLRA_OPTION_TOLERANCE, 1e-13).unwrap();
    model
        .set_option(WLRA_OPTION_MAX_ITERATIONS, 3000.0)
        .unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model.fit(problem.view()).unwrap();
    let info = |item| model.info(item).unwrap();
    let (u, _) = model.factors().unwrap();
    Fitted {
        objective: info(WLRA_INFO_OBJECTIVE),
        iterations: info(WLRA_INFO_ITERATIONS),
        narrow: info(WLRA_INFO_NARROW_HALF_STEPS),
        converged: info(WLRA_INFO_CONVERGED),
        u: u.col_iter()
            .flat_map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            .collect(),
    }
}

const METHODS: [(i32, &str); 2] = [
    (WLRA_METHOD_ALTERNATING, "alternating"),
    (WLRA_METHOD_ACCELERATED, "accelerated"),
];

#[test]
fn a_mixed_precision_fit_ends_at_the_float64_fits_objective() {
    let problem = implicit_feedback(1.0, 1.0);
    let fast = narrow_rows_fast(RANK);
    for (method, name) in METHODS {
        for solver in [WLRA_SOLVER_SHARED_PCG, WLRA_SOLVER_AUTO] {
            let base = [
                (WLRA_OPTION_METHOD, method as f64),
                (WLRA_OPTION_SOLVER, solver as f64),
            ];
            let mixed = fit(&problem, &base);
            let wide = fit(
                &problem,
                &[base[0], base[1], (WLRA_OPTION_MIXED_PRECISION, 0.0)],
            );
            let off = (mixed.objective - wide.objective).abs() / wide.objective;
            println!(
                "{name}, solver {solver}: mixed {:.15e} ({} its., {} narrow half-steps), float64 {:.15e} ({} its.): {off:.1e}",
                mixed.objective, mixed.iterations, mixed.narrow, wide.objective, wide.iterations
            );
            assert_eq!(
                (mixed.converged, wide.converged),
                (1.0, 1.0),
                "{name}, {solver}"
            );
            assert!(off <= 1e-10, "{name}, solver {solver}: {off:e} apart");
            assert_eq!(wide.narrow, 0.0, "{name}, {solver}: the option is off");
            if fast {
                // Some half-steps narrow, never the last ones: at most the
                // loose phase's, which ends before the fit does.
                assert!(mixed.narrow >= 2.0, "{name}, {solver}: no narrow half-step");
                assert!(
                    mixed.narrow < 2.0 * mixed.iterations - 1.0,
                    "{name}, {solver}: {} narrow of {} iterations' half-steps",
                    mixed.narrow,
                    mixed.iterations
                );
            } else {
                // Without the AVX-512 kernels nothing narrows: the same fit.
                assert_eq!(mixed.narrow, 0.0);
                assert_eq!(mixed.u, wide.u, "{name}, {solver}");
            }
        }
    }
}

#[test]
fn mixed_precision_gives_the_same_bits_on_any_thread_count() {
    let problem = implicit_feedback(1.0, 1.0);
    for (method, name) in METHODS {
        let on = |threads: f64| {
            let options = [
                (WLRA_OPTION_METHOD, method as f64),
                (WLRA_OPTION_THREADS, threads),
                (WLRA_OPTION_MAX_ITERATIONS, 12.0),
            ];
            fit(&problem, &options)
        };
        let (one, two) = (on(1.0), on(2.0));
        assert_eq!(one.u, two.u, "{name}: 1 and 2 threads differ");
        assert_eq!(one.narrow, two.narrow, "{name}");
    }
}

#[test]
fn mixed_precision_fits_the_same_at_every_scale() {
    let reference = fit(&implicit_feedback(1.0, 1.0), &[]);
    let scales = [
        (1e-150, 1.0),
        (1e150, 1e-100),
        (2.0f64.powi(300), 1e-100),
        (1.0, 1e-150),
    ];
    for (scale_w, scale_m) in scales {
        let scaled = fit(&implicit_feedback(scale_w, scale_m), &[]);
        let expected = reference.objective * scale_w * scale_m * scale_m;
        let off = (scaled.objective - expected).abs() / expected;
        println!(
            "W x {scale_w:e}, M x {scale_m:e}: {off:.1e} relative, {} narrow",
            scaled.narrow
        );
        assert!(off <= 1e-10, "W x {scale_w:e}, M x {scale_m:e}: {off:e}");
        // The float32 copy is of the factors in the solvers' units, never
        // out of float32's range whatever the caller's units.
        assert_eq!(scaled.narrow > 0.0, narrow_rows_fast(RANK));
    }
}
