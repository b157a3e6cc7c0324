//! Small weighted problems with missing entries for VarPro's unit tests,
//! seen as VarPro sees them (rows eliminated).

use super::observed::Observed;
use crate::problem::{DenseProblem, Problem};
use faer::Mat;

/// A value in [0, 1) from (i, j, s) (the classic sine hash: no
/// arithmetic progressions, so X's rows are in general position).
pub fn hash(i: usize, j: usize, s: usize) -> f64 {
    let t = i as f64 * 12.9898 + j as f64 * 78.233 + s as f64 * 37.719;
    (t.sin() * 43758.5453).rem_euclid(1.0)
}

/// A free factor X (p x k, rows contiguous), entries in [-0.5, 0.5).
pub fn free_factor(p: usize, k: usize) -> Vec<f64> {
    (0..p * k).map(|t| hash(t, 5, 4) - 0.5).collect()
}

/// q x p entries in [-0.5, 0.5), each kept with chance `kept` and along a
/// band of k + 1 per row (so every eliminated row's Gram can be definite),
/// with weights in [0.2, 1.2).
pub fn observed(q: usize, p: usize, k: usize, kept: f64) -> Observed {
    let m = Mat::from_fn(q, p, |i, j| hash(i, j, 1) - 0.5);
    let w = Mat::from_fn(q, p, |i, j| {
        if hash(i, j, 2) < kept || (i + j) % p < k + 1 {
            0.2 + hash(i, j, 3)
        } else {
            0.0
        }
    });
    let side: Problem<'_> = DenseProblem::new(m.as_ref(), Some(w.as_ref())).into();
    Observed::new(&side).unwrap()
}
