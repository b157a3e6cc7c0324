//! The matrix-free step's preconditioner: the diagonal k x k blocks of the
//! dense step's matrix H + lambda s I + s P_gauge, that is
//!     M_f = H_ff + (lambda s + s |x_f|^2) I     (the gauge term at ridge 0),
//! each Cholesky-factored once per damping trial. The blocks carry all of
//! H's coupling between a free row's k unknowns, which a plain diagonal
//! (Jacobi) misses.

use crate::error::Result;
use crate::memory::{checked_len, try_filled};
use rayon::prelude::*;

/// Free rows per parallel task: fixed, never from the thread count.
const ROWS_PER_TASK: usize = 64;

/// The lower Cholesky factor of every M_f, k x k by columns.
pub struct BlockJacobi {
    factors: Vec<f64>,
    k: usize,
}

/// In-place lower Cholesky of a k x k block by columns; false when a pivot
/// is not positive (the block is not numerically positive definite).
fn cholesky_in_place(a: &mut [f64], k: usize) -> bool {
    for j in 0..k {
        let mut pivot = a[j * k + j];
        for c in 0..j {
            pivot -= a[c * k + j] * a[c * k + j];
        }
        if !(pivot > 0.0 && pivot.is_finite()) {
            return false;
        }
        let pivot = pivot.sqrt();
        a[j * k + j] = pivot;
        for i in j + 1..k {
            let mut v = a[j * k + i];
            for c in 0..j {
                v -= a[c * k + i] * a[c * k + j];
            }
            a[j * k + i] = v / pivot;
        }
    }
    // Only the lower triangle is the factor.
    for j in 0..k {
        for i in 0..j {
            a[j * k + i] = 0.0;
        }
    }
    true
}

impl BlockJacobi {
    /// The factors of M_f from H's diagonal blocks `blocks` (p of them),
    /// at `shift` = lambda s, plus s |x_f|^2 where `gauge` is X. A block
    /// that is not numerically positive definite (a free row with fewer
    /// entries than k, shift tiny) becomes its mean diagonal times I, still
    /// a fair scale for that row. Flops: p k^3 / 3.
    pub fn new(
        blocks: &[f64],
        k: usize,
        shift: f64,
        gauge: Option<(&[f64], f64)>,
    ) -> Result<BlockJacobi> {
        let what = "the matrix-free VarPro step's preconditioner";
        let mut factors = try_filled(checked_len(blocks.len(), 1, what)?, 0.0, what)?;
        if k == 0 {
            return Ok(BlockJacobi { factors, k });
        }
        factors
            .par_chunks_mut(ROWS_PER_TASK * k * k)
            .zip(blocks.par_chunks(ROWS_PER_TASK * k * k))
            .enumerate()
            .for_each(|(task, (factors, blocks))| {
                let rows = factors
                    .chunks_exact_mut(k * k)
                    .zip(blocks.chunks_exact(k * k));
                for (i, (m, h)) in rows.enumerate() {
                    let f = task * ROWS_PER_TASK + i;
                    let stiffness = gauge.map_or(0.0, |(x, s)| {
                        s * x[f * k..(f + 1) * k].iter().map(|v| v * v).sum::<f64>()
                    });
                    m.copy_from_slice(h);
                    (0..k).for_each(|a| m[a * k + a] += shift + stiffness);
                    if !cholesky_in_place(m, k) {
                        let trace: f64 = (0..k).map(|a| h[a * k + a]).sum();
                        let d = (trace / k as f64).max(0.0) + shift + stiffness;
                        let d = if d > 0.0 && d.is_finite() { d } else { 1.0 };
                        m.fill(0.0);
                        (0..k).for_each(|a| m[a * k + a] = d.sqrt());
                    }
                }
            });
        Ok(BlockJacobi { factors, k })
    }

    /// out = M^-1 r, block by block (p x k, rows contiguous). Flops: 2 p k^2.
    pub fn apply(&self, r: &[f64], out: &mut [f64]) {
        let k = self.k;
        if k == 0 {
            return;
        }
        out.copy_from_slice(r);
        out.par_chunks_mut(ROWS_PER_TASK * k)
            .zip(self.factors.par_chunks(ROWS_PER_TASK * k * k))
            .for_each(|(outs, factors)| {
                for (o, l) in outs.chunks_exact_mut(k).zip(factors.chunks_exact(k * k)) {
                    // L y = r, then L^T x = y.
                    for j in 0..k {
                        o[j] /= l[j * k + j];
                        let oj = o[j];
                        for i in j + 1..k {
                            o[i] -= l[j * k + i] * oj;
                        }
                    }
                    for j in (0..k).rev() {
                        let mut v = o[j];
                        for i in j + 1..k {
                            v -= l[j * k + i] * o[i];
                        }
                        o[j] = v / l[j * k + j];
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_inverts_each_damped_block() {
        let k = 3;
        let h = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let blocks: Vec<f64> = h.iter().chain(h.iter()).copied().collect();
        let pre = BlockJacobi::new(&blocks, k, 0.5, None).unwrap();
        let r = [1.0, -2.0, 0.5, 0.0, 1.0, 3.0];
        let mut x = [0.0; 6];
        pre.apply(&r, &mut x);
        for f in 0..2 {
            for a in 0..k {
                let back: f64 =
                    (0..k).map(|b| h[b * k + a] * x[f * k + b]).sum::<f64>() + 0.5 * x[f * k + a];
                assert!(
                    (back - r[f * k + a]).abs() < 1e-14,
                    "{back} vs {}",
                    r[f * k + a]
                );
            }
        }
    }
}
