//! The damped Gauss-Newton step of `damped_step` without forming H, for
//! systems beyond the dense limit: preconditioned conjugate gradients on
//!     (H + lambda s I) delta = -g
//! in the complement of the gauge directions {X B} (at ridge = 0, where g
//! already lies there; every residual, direction and the step are kept
//! projected), with H v from `gauss_newton_product` in O(nnz k) flops and
//! the block-diagonal preconditioner of `block_jacobi`. s is the mean of
//! diag(H), as in the dense step, so lambda means the same on both paths.
//!
//! CG stops at an inexact-Newton forcing term (Eisenstat and Walker):
//! |r| <= eta |g| with eta = min(MAX_FORCING, |g| / |g_0|), g_0 the
//! gradient where the run started. Far from the optimum a loose solve
//! gives the LM iteration what it needs; near it eta shrinks with |g|,
//! which keeps Gauss-Newton's fast local convergence. Every CG iterate
//! from 0 lowers the quadratic model, so a step cut off by the iteration
//! cap is still a descent direction, and the LM loop judges it as any other.
//!
//! Flops per CG iteration: 10 k per observed entry (H v) + 4 p k^2 (gauge
//! projection) + 2 p k^2 (preconditioner) + 10 p k (vector updates).

use super::block_jacobi::BlockJacobi;
use super::damped_step::{project_out_gauge, Step};
use super::gauss_newton_product::{Curvature, Product};
use crate::error::Result;
use crate::memory::{try_collect, try_filled};
use std::cell::Cell;

/// Loosest forcing term: a step that solves the model to 10 % is a fair
/// Levenberg-Marquardt trial far from the optimum.
const MAX_FORCING: f64 = 0.1;
/// Tightest forcing term: a relative residual of 1e-10 already leaves the
/// step's error below what the objective resolves.
const MIN_FORCING: f64 = 1e-10;
/// CG iterations per damping trial at most; past them the last iterate is
/// the step (a descent direction, see the module comment).
const MAX_CG_ITERATIONS: usize = 250;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The forcing term at gradient norm `now`, the run's first being `first`.
pub fn forcing(now: f64, first: f64) -> f64 {
    let eta = if first > 0.0 {
        now / first
    } else {
        MAX_FORCING
    };
    eta.clamp(MIN_FORCING, MAX_FORCING)
}

thread_local! {
    /// (matrix-free steps, CG iterations) solved for fits run from this
    /// thread: what the tests and benchmarks print.
    static TALLY: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Count one step of `iterations` CG iterations (on the fit's calling
/// thread, where the outer loop runs).
pub fn record(iterations: usize) {
    TALLY.with(|t| {
        let (steps, total) = t.get();
        t.set((steps + 1, total + iterations));
    });
}

/// (matrix-free steps, CG iterations) of the fits this thread has run.
pub fn cg_tally() -> (usize, usize) {
    TALLY.with(Cell::get)
}

/// A matrix-free step and the CG iterations it took.
pub struct Solved {
    pub step: Step,
    pub iterations: usize,
}

/// The step at damping `lambda` with forcing term `eta`; None when CG
/// breaks down at once (the damped system is not numerically positive
/// definite: the caller raises lambda).
pub fn matrix_free_step(
    product: &mut Product<'_>,
    curvature: &Curvature,
    gauge: Option<&[f64]>,
    k: usize,
    lambda: f64,
    eta: f64,
) -> Result<Option<Solved>> {
    let dim = curvature.gradient.len();
    let p = dim.checked_div(k).unwrap_or(0);
    let s = curvature.scale;
    let shift = lambda * s;
    let preconditioner = BlockJacobi::new(&curvature.blocks, k, shift, gauge.map(|x| (x, s)))?;
    let project = |v: &mut [f64]| {
        if let Some(x) = gauge {
            project_out_gauge(v, x, p, k);
        }
    };
    let what = "the matrix-free VarPro step's vectors";
    let mut delta = try_filled(dim, 0.0, what)?;
    let negated = curvature.gradient.iter().map(|g| -g);
    let mut residual: Vec<f64> = try_collect(negated, what)?;
    project(&mut residual);
    let mut z = try_filled(dim, 0.0, what)?;
    let mut hd = try_filled(dim, 0.0, what)?;
    let precondition = |r: &[f64], z: &mut [f64]| {
        preconditioner.apply(r, z);
        project(z);
    };
    precondition(&residual, &mut z);
    let mut direction = try_filled(dim, 0.0, what)?;
    direction.copy_from_slice(&z);
    let mut rz = dot(&residual, &z);
    let target = eta * dot(&residual, &residual).sqrt();
    let mut iterations = 0;
    while iterations < MAX_CG_ITERATIONS && dot(&residual, &residual).sqrt() > target {
        product.apply(&direction, &mut hd);
        hd.iter_mut()
            .zip(&direction)
            .for_each(|(h, d)| *h += shift * d);
        project(&mut hd);
        let curvature_along = dot(&direction, &hd);
        if !(curvature_along > 0.0 && curvature_along.is_finite() && rz > 0.0) {
            if iterations == 0 {
                return Ok(None);
            }
            break;
        }
        let alpha = rz / curvature_along;
        delta
            .iter_mut()
            .zip(&direction)
            .for_each(|(x, d)| *x += alpha * d);
        residual
            .iter_mut()
            .zip(&hd)
            .for_each(|(r, h)| *r -= alpha * h);
        iterations += 1;
        precondition(&residual, &mut z);
        let rz_next = dot(&residual, &z);
        let beta = rz_next / rz;
        rz = rz_next;
        direction
            .iter_mut()
            .zip(&z)
            .for_each(|(d, z)| *d = z + beta * *d);
    }
    project(&mut delta);
    if !delta.iter().all(|d| d.is_finite()) {
        return Ok(None);
    }
    let predicted = predicted_decrease(product, curvature, &delta, &mut hd);
    Ok(Some(Solved {
        step: Step { delta, predicted },
        iterations,
    }))
}

/// The model's decrease of phi along `delta`, with the undamped H as the
/// dense step counts it: one product more (into `hd`).
fn predicted_decrease(
    product: &mut Product<'_>,
    curvature: &Curvature,
    delta: &[f64],
    hd: &mut [f64],
) -> f64 {
    product.apply(delta, hd);
    let quadratic = dot(delta, hd);
    -dot(&curvature.gradient, delta) - 0.5 * quadratic
}
