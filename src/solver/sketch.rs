//! The paper's half-step (Song, Ye, Yin, Zhang 2023, arXiv 2306.04169).
//!
//! For each row i: A = D_sqrt(w_i) Y over the row's non-zero weights (with
//! sqrt(ridge) I appended when ridge > 0) and b = D_sqrt(w_i) m_i. An SRHT
//! sketch S A (s = ceil(factor k) rows) gives R from a QR; A R^-1 is then
//! well conditioned with high probability, and CGLS on it (preconditioned
//! CG on the normal equations) converges in a few iterations, warm-started
//! from the previous solution, until the preconditioned gradient is below
//! `tolerance` times its value at x = 0.
//!
//! Cost per row, n_i non-zero weights, p = next_pow2(n_i): k p log2(p)
//! additions (transform), 2 s k^2 (QR of the sketch), 4 n_i k + 2 k^2 per
//! iteration; against n_i k^2 for the exact Gram. Rows whose design is
//! rank deficient (fewer than k non-zero weights) fall back to the exact
//! minimum-norm solve.

use super::{HalfStep, HalfStepSolver, SolverKind};
use crate::error::{Error, Result};
use crate::kernels::fwht::fwht_columns;
use crate::kernels::orthonormal::RFactorWorkspace;
use crate::kernels::spd_solve::SpdSolver;
use crate::problem::blocks;
use crate::products::{stack_rows, ROW_BLOCK};
use crate::rng::{below, sign, stream, Purpose};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// CGLS stops here even if the tolerance is not met (never seen with a
/// working preconditioner: cond(A R^-1) <= 8 needs about 40 iterations for 1e-14).
const MAX_INNER_ITERATIONS: usize = 200;
/// A preconditioner with a pivot below this fraction of the largest is
/// rank deficient: the row takes the exact minimum-norm path instead.
const RANK_CUTOFF: f64 = 1e-12;

pub struct SketchSolver {
    pub sketch_size_factor: f64,
    pub tolerance: f64,
    pub seed: u64,
    /// Counts half-steps, so each gets fresh sketches.
    half_steps: u64,
    /// Inner iterations of the last half-step, summed over rows.
    pub last_inner_iterations: usize,
}

impl SketchSolver {
    pub fn new(sketch_size_factor: f64, tolerance: f64, seed: u64) -> Self {
        SketchSolver {
            sketch_size_factor,
            tolerance,
            seed,
            half_steps: 0,
            last_inner_iterations: 0,
        }
    }

    fn sketch_rows(&self, k: usize) -> usize {
        ((self.sketch_size_factor * k as f64).ceil() as usize).max(k)
    }
}

/// Per-task scratch, sized for the longest row, reused across rows.
pub struct RowWorkspace {
    design: Mat<f64>,
    rhs: Vec<f64>,
    padded: Mat<f64>,
    sketch: Mat<f64>,
    order: Vec<usize>,
    qr: RFactorWorkspace,
    r: Mat<f64>,
    spd: SpdSolver,
    vectors: [Vec<f64>; 5],
}

impl RowWorkspace {
    pub fn new(max_rows: usize, k: usize, sketch_rows: usize) -> Self {
        let p = max_rows.next_power_of_two();
        RowWorkspace {
            design: Mat::zeros(max_rows, k),
            rhs: vec![0.0; max_rows],
            padded: Mat::zeros(p, k),
            sketch: Mat::zeros(sketch_rows.max(max_rows.min(sketch_rows)), k),
            order: Vec::with_capacity(p),
            qr: RFactorWorkspace::new(sketch_rows.max(k), k),
            r: Mat::zeros(k, k),
            spd: SpdSolver::new(k),
            vectors: std::array::from_fn(|_| vec![0.0; max_rows.max(k)]),
        }
    }
}

/// S a for an SRHT S with `s` rows: random signs, the Walsh-Hadamard
/// transform of the zero-padded columns, `s` rows sampled uniformly without
/// replacement, scaled by 1/sqrt(s). Returns the s x k sketch (a view into
/// the workspace). Requires s <= next_pow2(rows of a).
pub fn srht_sketch<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
    padded: &'w mut Mat<f64>,
    order: &mut Vec<usize>,
    out: &'w mut Mat<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    let p = rows.next_power_of_two();
    let mut work = padded.as_mut().submatrix_mut(0, 0, p, k);
    work.fill(0.0);
    for i in 0..rows {
        let sg = sign(rng);
        for d in 0..k {
            work[(i, d)] = sg * a[(i, d)];
        }
    }
    fwht_columns(work.as_mut());
    // Partial Fisher-Yates: the first s entries of `order` are the sample.
    order.clear();
    order.extend(0..p);
    for r in 0..s {
        let pick = r + below(rng, p - r);
        order.swap(r, pick);
    }
    let scale = 1.0 / (s as f64).sqrt();
    let mut sk = out.as_mut().submatrix_mut(0, 0, s, k);
    for (r, &src) in order[..s].iter().enumerate() {
        for d in 0..k {
            sk[(r, d)] = scale * work[(src, d)];
        }
    }
    out.as_ref().submatrix(0, 0, s, k)
}

/// Solve R^T x = x in place (R upper triangular, k x k). Flops: k^2.
fn solve_upper_transposed(r: MatRef<'_, f64>, x: &mut [f64]) {
    for i in 0..x.len() {
        let mut v = x[i];
        for j in 0..i {
            v -= r[(j, i)] * x[j];
        }
        x[i] = v / r[(i, i)];
    }
}

/// Solve R x = x in place (R upper triangular, k x k). Flops: k^2.
fn solve_upper(r: MatRef<'_, f64>, x: &mut [f64]) {
    for i in (0..x.len()).rev() {
        let mut v = x[i];
        for j in i + 1..x.len() {
            v -= r[(i, j)] * x[j];
        }
        x[i] = v / r[(i, i)];
    }
}

/// out = A v (A column-major with contiguous columns). Flops: 2 rows k.
fn apply(a: MatRef<'_, f64>, v: &[f64], out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for (d, &vd) in v.iter().enumerate() {
        let col = a.col(d).try_as_col_major().unwrap().as_slice();
        out.iter_mut().zip(col).for_each(|(o, c)| *o += vd * c);
    }
}

/// out = A^T u. Flops: 2 rows k.
fn apply_transpose(a: MatRef<'_, f64>, u: &[f64], out: &mut [f64]) {
    for (d, o) in out.iter_mut().enumerate() {
        let col = a.col(d).try_as_col_major().unwrap().as_slice();
        *o = col.iter().zip(u).map(|(c, x)| c * x).sum();
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// CGLS on min ||A x - b|| with right preconditioner R, from x (warm
/// start) in place. Stops when ||R^-T A^T (b - A x)|| <= tol ||R^-T A^T b||.
/// Returns the iterations taken.
pub fn preconditioned_cgls(
    a: MatRef<'_, f64>,
    b: &[f64],
    r: MatRef<'_, f64>,
    x: &mut [f64],
    tol: f64,
    vectors: &mut [Vec<f64>; 5],
) -> usize {
    let (rows, k) = a.shape();
    let [res, s, p, t, q] = vectors;
    let (res, s, p, t, q) = (
        &mut res[..rows],
        &mut s[..k],
        &mut p[..k],
        &mut t[..k],
        &mut q[..rows],
    );
    // Reference: the preconditioned gradient at x = 0.
    apply_transpose(a, b, s);
    solve_upper_transposed(r, s);
    let reference = dot(s, s).sqrt();
    if reference == 0.0 {
        x.iter_mut().for_each(|v| *v = 0.0);
        return 0;
    }
    apply(a, x, q);
    res.iter_mut()
        .zip(b)
        .zip(q.iter())
        .for_each(|((r, b), q)| *r = b - q);
    apply_transpose(a, res, s);
    solve_upper_transposed(r, s);
    let mut gamma = dot(s, s);
    p.copy_from_slice(s);
    let mut iterations = 0;
    while gamma.sqrt() > tol * reference && iterations < MAX_INNER_ITERATIONS {
        t.copy_from_slice(p);
        solve_upper(r, t);
        apply(a, t, q);
        let qq = dot(q, q);
        if qq == 0.0 {
            break;
        }
        let alpha = gamma / qq;
        x.iter_mut()
            .zip(t.iter())
            .for_each(|(x, t)| *x += alpha * t);
        res.iter_mut()
            .zip(q.iter())
            .for_each(|(r, q)| *r -= alpha * q);
        apply_transpose(a, res, s);
        solve_upper_transposed(r, s);
        let next = dot(s, s);
        let beta = next / gamma;
        p.iter_mut()
            .zip(s.iter())
            .for_each(|(p, s)| *p = s + beta * *p);
        gamma = next;
        iterations += 1;
    }
    iterations
}

/// Gather the row's weighted design and right-hand side; returns their
/// row count (non-zero weights, plus k ridge rows).
fn gather_row(step: &HalfStep<'_>, row: usize, design: MatMut<'_, f64>, rhs: &mut [f64]) -> usize {
    let y = step.fixed;
    let (m, k) = y.shape();
    let data = step.problem.data_block(row..row + 1, 0..m);
    let weights = step.problem.weights_block(row..row + 1, 0..m);
    let mut design = design;
    let mut count = 0;
    for j in 0..m {
        let w = weights.map_or(1.0, |w| w[(0, j)]);
        if w == 0.0 {
            continue;
        }
        let sw = w.sqrt();
        for d in 0..k {
            design[(count, d)] = sw * y[(j, d)];
        }
        rhs[count] = sw * data[(0, j)];
        count += 1;
    }
    if step.ridge > 0.0 {
        let sr = step.ridge.sqrt();
        for i in 0..k {
            for d in 0..k {
                design[(count + i, d)] = if i == d { sr } else { 0.0 };
            }
            rhs[count + i] = 0.0;
        }
        count += k;
    }
    count
}

/// The exact minimum-norm solve of a (rank deficient) row from its design.
fn solve_row_exactly(a: MatRef<'_, f64>, b: &[f64], spd: &mut SpdSolver, x: &mut [f64]) {
    let mut g = spd.gram_mut();
    matmul(g.as_mut(), Accum::Replace, a.transpose(), a, 1.0, Par::Seq);
    apply_transpose(a, b, x);
    spd.factor();
    spd.solve(x);
}

impl HalfStepSolver for SketchSolver {
    fn kind(&self) -> SolverKind {
        SolverKind::Sketch
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        let (n, m, k) = (
            step.problem.n_rows(),
            step.problem.n_cols(),
            step.fixed.ncols(),
        );
        let s = self.sketch_rows(k);
        let max_rows = m + if step.ridge > 0.0 { k } else { 0 };
        let half_step = self.half_steps;
        self.half_steps += 1;
        let (seed, tol) = (self.seed, self.tolerance);
        let row_blocks: Vec<_> = blocks(n, ROW_BLOCK).collect();
        let parts: Vec<(Mat<f64>, usize)> = row_blocks
            .par_iter()
            .map(|rows| {
                let mut ws = RowWorkspace::new(max_rows, k, s);
                let mut out = Mat::<f64>::zeros(rows.len(), k);
                let mut x = vec![0.0; k];
                let mut inner = 0;
                for (r, row) in rows.clone().enumerate() {
                    let count = gather_row(step, row, ws.design.as_mut(), &mut ws.rhs);
                    let a = ws.design.as_ref().subrows(0, count);
                    let b = &ws.rhs[..count];
                    for (d, xd) in x.iter_mut().enumerate() {
                        *xd = step.warm_start.map_or(0.0, |w| w[(row, d)]);
                    }
                    let mut rng = stream(seed, Purpose::Sketch, half_step << 32 ^ row as u64);
                    let sketch = if count > s {
                        srht_sketch(
                            a,
                            s,
                            &mut rng,
                            &mut ws.padded,
                            &mut ws.order,
                            &mut ws.sketch,
                        )
                    } else {
                        a
                    };
                    let usable = count >= k && {
                        let rf = ws.qr.r_factor(sketch);
                        ws.r.copy_from(rf);
                        let diag: Vec<f64> = (0..k).map(|i| ws.r[(i, i)].abs()).collect();
                        let largest = diag.iter().cloned().fold(0.0, f64::max);
                        diag.iter().all(|&d| d > RANK_CUTOFF * largest)
                    };
                    if usable {
                        inner +=
                            preconditioned_cgls(a, b, ws.r.as_ref(), &mut x, tol, &mut ws.vectors);
                    } else {
                        solve_row_exactly(a, b, &mut ws.spd, &mut x);
                    }
                    for (d, xd) in x.iter().enumerate() {
                        out[(r, d)] = *xd;
                    }
                }
                (out, inner)
            })
            .collect();
        self.last_inner_iterations = parts.iter().map(|(_, it)| it).sum();
        let mats: Vec<Mat<f64>> = parts.into_iter().map(|(m, _)| m).collect();
        let x = stack_rows(&mats, n, k);
        if x.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
            Ok(x)
        } else {
            Err(Error::Numerical(
                "the sketched half-step produced non-finite factors".into(),
            ))
        }
    }
}
