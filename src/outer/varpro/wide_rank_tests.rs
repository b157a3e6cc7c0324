//! Checks of the paths that replace the pair plan and the written-out
//! k <= 8 kernels: the stacked assembly against the pair-by-pair one, and
//! the elimination's written-out solve at any rank against faer's
//! Cholesky.

use super::elimination::eliminate;
use super::gauss_newton::assemble_choosing;
use super::test_problems::{free_factor, observed};
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};

fn relative_gap(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum();
    (diff / b.iter().map(|b| b * b).sum::<f64>()).sqrt()
}

#[test]
fn stacked_assembly_matches_the_pairs() {
    // k = 3 and 6 have a pair plan; k = 10 scatters; 600 rows run the
    // stacked products in three chunks.
    for (q, k) in [(40, 3), (600, 6), (60, 10)] {
        for ridge in [0.0, 0.3] {
            let (obs, x) = (observed(q, 17, k, 0.5), free_factor(17, k));
            let elim = eliminate(&obs, &x, k, ridge).unwrap();
            let stacked = assemble_choosing(&obs, &x, &elim, k, ridge, Vec::new(), true).unwrap();
            let pairs = assemble_choosing(&obs, &x, &elim, k, ridge, Vec::new(), false).unwrap();
            let gap = relative_gap(&stacked.blocks, &pairs.blocks);
            println!("q {q}, k {k}, ridge {ridge}: H differs by {gap:.1e} (relative)");
            assert!(gap <= 1e-13, "k {k}, ridge {ridge}: H differs by {gap:e}");
            let gap = relative_gap(&stacked.gradient, &pairs.gradient);
            assert!(
                gap <= 1e-13,
                "k {k}, ridge {ridge}: gradients differ by {gap:e}"
            );
        }
    }
}

#[test]
fn elimination_matches_a_cholesky_solve_at_any_rank() {
    for k in [3, 9, 12] {
        for ridge in [0.0, 0.3] {
            let (obs, x) = (observed(30, 2 * k + 3, k, 0.5), free_factor(2 * k + 3, k));
            let elim = eliminate(&obs, &x, k, ridge).unwrap();
            let (mut y, mut projected) = (Vec::new(), Vec::new());
            for e in 0..obs.n_eliminated {
                let mut g = Mat::<f64>::identity(k, k) * ridge;
                let mut rhs = Mat::<f64>::zeros(k, 1);
                for pos in obs.row(e) {
                    let (f, we) = (obs.free[pos], obs.w[pos]);
                    for b in 0..k {
                        rhs[(b, 0)] += we * obs.m[pos] * x[f * k + b];
                        for a in 0..k {
                            g[(a, b)] += we * x[f * k + a] * x[f * k + b];
                        }
                    }
                }
                let llt = g.llt(Side::Lower).expect("positive definite");
                y.extend(llt.solve(&rhs).col(0).iter().copied());
                for pos in obs.row(e) {
                    let f = obs.free[pos];
                    let wx = Mat::from_fn(k, 1, |a, _| obs.w[pos] * x[f * k + a]);
                    projected.extend(llt.solve(&wx).col(0).iter().copied());
                }
            }
            let (gap_y, gap_b) = (
                relative_gap(&elim.y, &y),
                relative_gap(&elim.projected, &projected),
            );
            println!("k {k}, ridge {ridge}: y differs by {gap_y:.1e}, projected by {gap_b:.1e}");
            assert!(
                gap_y <= 1e-12 && gap_b <= 1e-12,
                "k {k}, ridge {ridge}: {gap_y:e}, {gap_b:e}"
            );
        }
    }
}
