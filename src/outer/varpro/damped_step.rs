//! One Levenberg-Marquardt step on the reduced problem: solve
//!     (H + lambda s I + s P_gauge) delta = -g,
//! s the mean of diag(H) (so lambda is scale-free), then project delta onto
//! the complement of the gauge directions {X B} (Hong and Fitzgibbon's
//! projection constraint). P_gauge = (X X^T) (x) I_k, X orthonormal, makes
//! the singular gauge directions as stiff as the rest without changing the
//! step elsewhere; with ridge > 0 there is no gauge and no projection.
//! Flops: (pk)^3 / 3 for the Cholesky factor (on every thread of the pool,
//! the same bits on any number: `kernels::blocked_cholesky`), 2 (pk)^2
//! for the prediction.

use super::gauss_newton::Model;
use crate::kernels::blocked_cholesky::cholesky_in_place;
use crate::memory::checked_len;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::{Conj, MatMut, MatRef, Par};
use rayon::prelude::*;

pub struct Step {
    pub delta: Vec<f64>,
    /// The model's decrease of phi = f / 2: -g^T delta - delta^T H delta / 2.
    pub predicted: f64,
}

pub fn mean_diagonal(model: &Model, dim: usize) -> f64 {
    let mean = (0..dim).map(|i| model.entry(i, i)).sum::<f64>() / dim as f64;
    if mean.is_finite() && mean > 0.0 {
        mean
    } else {
        1.0
    }
}

/// The damped matrix's lower triangle (all the Cholesky factor reads) in
/// `data` (dim x dim, column-major): H's blocks (g, f), g >= f, copied
/// block by block from the model's layout, lambda s added to the diagonal,
/// then, with a gauge, s x x^T (x) I_k: the gauge directions' stiffness.
/// One task per block column on the pool, each entry's operations in the
/// same order as one pass would make them, so the same bits on any thread
/// count (one thread copying 8 MB that the factor's tasks wrote last took
/// 1.9 ms on Giraffe, four times its time when one thread does both).
/// Copies: (p k)^2 / 2.
fn fill_damped(
    model: &Model,
    data: &mut [f64],
    lambda_scale: f64,
    gauge: Option<&[f64]>,
    scale: f64,
) {
    let (p, k) = (model.p, model.k);
    let dim = p * k;
    data.par_chunks_mut(k * dim)
        .enumerate()
        .for_each(|(f, columns)| {
            for g in f..p {
                let block = &model.blocks[(f * p + g) * k * k..][..k * k];
                for (b, column) in block.chunks_exact(k).enumerate() {
                    let target = &mut columns[b * dim + g * k..][..k];
                    target.copy_from_slice(column);
                }
            }
            for b in 0..k {
                columns[b * dim + f * k + b] += lambda_scale;
            }
            let Some(x) = gauge else { return };
            for g in f..p {
                let c = scale * (0..k).map(|c| x[f * k + c] * x[g * k + c]).sum::<f64>();
                (0..k).for_each(|i| columns[i * dim + g * k + i] += c);
            }
        });
}

/// X (X^T v): v's part along the gauge directions {X B} (X orthonormal).
/// Flops: 4 p k^2.
pub fn gauge_part(v: &[f64], x: &[f64], p: usize, k: usize) -> Vec<f64> {
    let mut xt_v = vec![0.0; k * k];
    for f in 0..p {
        for c in 0..k {
            for a in 0..k {
                xt_v[c * k + a] += x[f * k + c] * v[f * k + a];
            }
        }
    }
    let mut part = vec![0.0; p * k];
    for f in 0..p {
        for a in 0..k {
            part[f * k + a] = (0..k).map(|c| x[f * k + c] * xt_v[c * k + a]).sum::<f64>();
        }
    }
    part
}

/// delta - X (X^T delta): what is left after removing the gauge part.
pub fn project_out_gauge(delta: &mut [f64], x: &[f64], p: usize, k: usize) {
    let part = gauge_part(delta, x, p, k);
    delta.iter_mut().zip(&part).for_each(|(d, g)| *d -= g);
}

fn predicted_decrease(model: &Model, delta: &[f64]) -> f64 {
    let quadratic: f64 = model
        .times(delta)
        .iter()
        .zip(delta)
        .map(|(h, d)| h * d)
        .sum();
    let linear: f64 = model.gradient.iter().zip(delta).map(|(g, d)| g * d).sum();
    -linear - 0.5 * quadratic
}

/// The damped matrix's storage, kept across a run's trials: a fresh
/// (p k)^2 buffer per trial cost its zero fill and page faults each time
/// (UM boy: 2.4 MB, and 2.4 trials per step).
#[derive(Default)]
pub struct DampedMatrix {
    data: Vec<f64>,
}

impl DampedMatrix {
    /// Room for a dim x dim matrix. Entries are not cleared: a trial
    /// writes the whole lower triangle before the factor reads it, and
    /// the strict upper one is scratch.
    fn storage(&mut self, dim: usize) -> crate::error::Result<&mut [f64]> {
        let what = "VarPro's damped Gauss-Newton matrix";
        let len = checked_len(dim, dim, what)?;
        if self.data.len() != len {
            self.data = crate::memory::try_filled(len, 0.0, what)?;
        }
        Ok(&mut self.data)
    }

    /// rhs <- A^-1 rhs for the dim x dim matrix whose Cholesky factor the
    /// last trial left here. Flops: 2 dim^2.
    pub fn solve(&self, dim: usize, rhs: &mut [f64]) -> crate::error::Result<()> {
        let scratch = llt::solve::solve_in_place_scratch::<f64>(dim, 1, Par::Seq);
        let mut buffer = MemBuffer::try_new(scratch)
            .map_err(|_| crate::error::Error::OutOfMemory("VarPro's Cholesky workspace".into()))?;
        llt::solve::solve_in_place_with_conj(
            MatRef::from_column_major_slice(&self.data, dim, dim),
            Conj::No,
            MatMut::from_column_major_slice_mut(rhs, dim, 1),
            Par::Seq,
            MemStack::new(&mut buffer),
        );
        Ok(())
    }
}

/// The step at damping `lambda`; None when the damped matrix is not
/// numerically positive definite (the caller raises lambda). `matrix` is
/// the storage the trial's damped matrix and its factor use.
pub fn damped_step(
    model: &Model,
    matrix: &mut DampedMatrix,
    gauge: Option<&[f64]>,
    p: usize,
    k: usize,
    lambda: f64,
) -> crate::error::Result<Option<Step>> {
    let dim = p * k;
    let scale = mean_diagonal(model, dim);
    let data = matrix.storage(dim)?;
    fill_damped(model, data, lambda * scale, gauge, scale);
    if !cholesky_in_place(data, dim)? {
        return Ok(None);
    }
    let mut delta: Vec<f64> = model.gradient.iter().map(|g| -g).collect();
    matrix.solve(dim, &mut delta)?;
    if let Some(x) = gauge {
        project_out_gauge(&mut delta, x, p, k);
    }
    if !delta.iter().all(|d| d.is_finite()) {
        return Ok(None);
    }
    let predicted = predicted_decrease(model, &delta);
    Ok(Some(Step { delta, predicted }))
}
