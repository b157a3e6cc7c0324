//! The Gauss-Newton matrix H of `gauss_newton` without forming it: its
//! product with a vector in O(nnz k) flops, its diagonal k x k blocks and
//! the gradient, all from what the elimination keeps (Y, and G_e^+ w_ef x_f
//! per entry). Summing H_fg v_g over g first gives
//!     (H v)_f = ridge v_f + sum_e w_ef (y_e^T v_f - x_f^T z_e) y_e,
//!     z_e = sum_g (G_e^+ w_eg x_g) (y_e^T v_g),
//! so a product is two passes: z by blocks of eliminated rows, then H v by
//! blocks of free rows. Each task owns its output (no reduction across
//! tasks), so the bits do not depend on the thread count.

use super::gauss_newton::Elimination;
use super::observed::Observed;
use crate::error::Result;
use crate::memory::{checked_len, try_filled};
use rayon::prelude::*;

/// Eliminated rows per task of the first pass, free rows per task of the
/// second and of the blocks: fixed, never from the thread count.
const ROWS_PER_TASK: usize = 64;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(out: &mut [f64], a: f64, x: &[f64]) {
    out.iter_mut().zip(x).for_each(|(o, x)| *o += a * x);
}

/// What every matrix-free step at one point needs besides products.
pub struct Curvature {
    /// g (p x k, rows contiguous), as `gauss_newton::assemble` gives it.
    pub gradient: Vec<f64>,
    /// H_ff for every free row f, k x k each, by columns.
    pub blocks: Vec<f64>,
    /// s, the mean of diag(H): the damping's unit, as in `damped_step`.
    pub scale: f64,
}

/// Free row f's gradient and diagonal block without the ridge's terms:
/// H_ff = sum_e w_ef (1 - x_f^T G_e^+ w_ef x_f) y_e y_e^T. Flops: 2 k^2 +
/// 6 k per entry.
fn free_row_curvature(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    k: usize,
    f: usize,
    gradient: &mut [f64],
    block: &mut [f64],
) {
    let xf = &x[f * k..(f + 1) * k];
    for idx in obs.free_row(f) {
        let (pos, e) = (obs.by_free[idx], obs.owner[idx]);
        let ye = &elim.y[e * k..(e + 1) * k];
        let w = obs.w[pos];
        let residual = obs.m[pos] - dot(ye, xf);
        axpy(gradient, -w * residual, ye);
        let c = w - w * dot(xf, &elim.projected[pos * k..(pos + 1) * k]);
        for (column, &yb) in block.chunks_exact_mut(k).zip(ye) {
            axpy(column, c * yb, ye);
        }
    }
}

/// The gradient, H's diagonal blocks and s at X. Flops: 2 k^2 + 6 k per
/// entry; memory: p k (k + 1) doubles.
pub fn curvature(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    k: usize,
    ridge: f64,
) -> Result<Curvature> {
    let p = obs.n_free;
    let what = "the matrix-free VarPro step's diagonal blocks";
    let mut gradient = try_filled(checked_len(p, k, what)?, 0.0, what)?;
    let mut blocks = try_filled(checked_len(p * k, k, what)?, 0.0, what)?;
    if k > 0 {
        gradient
            .par_chunks_mut(ROWS_PER_TASK * k)
            .zip(blocks.par_chunks_mut(ROWS_PER_TASK * k * k))
            .enumerate()
            .for_each(|(task, (grads, blocks))| {
                let rows = grads
                    .chunks_exact_mut(k)
                    .zip(blocks.chunks_exact_mut(k * k));
                for (i, (grad, block)) in rows.enumerate() {
                    let f = task * ROWS_PER_TASK + i;
                    free_row_curvature(obs, x, elim, k, f, grad, block);
                    for a in 0..k {
                        grad[a] += ridge * x[f * k + a];
                        block[a * k + a] += ridge;
                    }
                }
            });
    }
    let trace: f64 = blocks
        .chunks_exact(k * k)
        .map(|b| (0..k).map(|a| b[a * k + a]).sum::<f64>())
        .sum();
    let mean = trace / (p * k) as f64;
    let scale = if mean.is_finite() && mean > 0.0 {
        mean
    } else {
        1.0
    };
    Ok(Curvature {
        gradient,
        blocks,
        scale,
    })
}

/// H v at one point, with its scratch z (q x k) allocated once for every
/// product of the point's steps.
pub struct Product<'a> {
    obs: &'a Observed,
    x: &'a [f64],
    elim: &'a Elimination,
    k: usize,
    ridge: f64,
    z: Vec<f64>,
}

impl<'a> Product<'a> {
    pub fn new(
        obs: &'a Observed,
        x: &'a [f64],
        elim: &'a Elimination,
        k: usize,
        ridge: f64,
    ) -> Result<Self> {
        let what = "the matrix-free VarPro step's per-row scratch";
        let z = try_filled(checked_len(obs.n_eliminated, k, what)?, 0.0, what)?;
        Ok(Product {
            obs,
            x,
            elim,
            k,
            ridge,
            z,
        })
    }

    /// out = H v (p x k, rows contiguous). Flops: 10 k per entry + 2 p k.
    pub fn apply(&mut self, v: &[f64], out: &mut [f64]) {
        let (obs, elim, x, k, ridge) = (self.obs, self.elim, self.x, self.k, self.ridge);
        if k == 0 {
            return;
        }
        // z_e = sum_g (G_e^+ w_eg x_g) (y_e^T v_g): 4 k flops per entry.
        self.z
            .par_chunks_mut(ROWS_PER_TASK * k)
            .enumerate()
            .for_each(|(task, zs)| {
                for (i, ze) in zs.chunks_exact_mut(k).enumerate() {
                    let e = task * ROWS_PER_TASK + i;
                    let ye = &elim.y[e * k..(e + 1) * k];
                    ze.fill(0.0);
                    for pos in obs.row(e) {
                        let t = dot(ye, &v[obs.free[pos] * k..][..k]);
                        axpy(ze, t, &elim.projected[pos * k..(pos + 1) * k]);
                    }
                }
            });
        let z = &self.z;
        // (H v)_f: 6 k flops per entry.
        out.par_chunks_mut(ROWS_PER_TASK * k)
            .enumerate()
            .for_each(|(task, outs)| {
                for (i, of) in outs.chunks_exact_mut(k).enumerate() {
                    let f = task * ROWS_PER_TASK + i;
                    let (xf, vf) = (&x[f * k..(f + 1) * k], &v[f * k..(f + 1) * k]);
                    of.iter_mut().zip(vf).for_each(|(o, v)| *o = ridge * v);
                    for idx in obs.free_row(f) {
                        let (pos, e) = (obs.by_free[idx], obs.owner[idx]);
                        let ye = &elim.y[e * k..(e + 1) * k];
                        let c = obs.w[pos] * (dot(ye, vf) - dot(xf, &z[e * k..(e + 1) * k]));
                        axpy(of, c, ye);
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::super::gauss_newton::{assemble, eliminate};
    use super::super::test_problems::{free_factor, observed};
    use super::*;

    /// A small weighted problem with missing entries, seen as VarPro sees
    /// it (rows eliminated), and an orthonormal-ish X.
    fn problem(ridge: f64) -> (Observed, Vec<f64>, Elimination, usize) {
        let (p, k) = (9, 3);
        let obs = observed(23, p, k, 0.6);
        let x = free_factor(p, k);
        let elim = eliminate(&obs, &x, k, ridge).unwrap();
        (obs, x, elim, k)
    }

    fn relative_gap(a: &[f64], b: &[f64]) -> f64 {
        let diff: f64 = a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum();
        (diff / b.iter().map(|b| b * b).sum::<f64>()).sqrt()
    }

    #[test]
    fn product_matches_the_assembled_gauss_newton_matrix() {
        for ridge in [0.0, 0.3] {
            let (obs, x, elim, k) = problem(ridge);
            let model = assemble(&obs, &x, &elim, k, ridge, Vec::new()).unwrap();
            let dim = obs.n_free * k;
            let mut product = Product::new(&obs, &x, &elim, k, ridge).unwrap();
            for seed in 0..3 {
                let v: Vec<f64> = (0..dim)
                    .map(|i| ((i * 31 + seed * 17) % 13) as f64 - 6.0)
                    .collect();
                let mut hv = vec![0.0; dim];
                product.apply(&v, &mut hv);
                let gap = relative_gap(&hv, &model.times(&v));
                println!("ridge {ridge}, vector {seed}: H v differs by {gap:.1e} (relative)");
                assert!(gap <= 1e-12, "ridge {ridge}: H v differs by {gap:e}");
            }
            let curvature = curvature(&obs, &x, &elim, k, ridge).unwrap();
            let gap = relative_gap(&curvature.gradient, &model.gradient);
            assert!(gap <= 1e-12, "ridge {ridge}: gradients differ by {gap:e}");
            let dense_blocks: Vec<f64> = (0..obs.n_free)
                .flat_map(|f| {
                    let model = &model;
                    (0..k * k).map(move |t| model.entry(f * k + t % k, f * k + t / k))
                })
                .collect();
            let gap = relative_gap(&curvature.blocks, &dense_blocks);
            assert!(
                gap <= 1e-12,
                "ridge {ridge}: diagonal blocks differ by {gap:e}"
            );
            let trace: f64 = (0..dim).map(|i| model.entry(i, i)).sum();
            let scale_gap = (curvature.scale - trace / dim as f64).abs() / curvature.scale;
            assert!(
                scale_gap <= 1e-12,
                "ridge {ridge}: s differs by {scale_gap:e}"
            );
        }
    }
}
