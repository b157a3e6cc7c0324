//! The fit in closed form where the truncated SVD is the optimum
//! (Eckart-Young): dense input, no ridge, no offsets, nothing missing, and
//! weights of rank one, W = a b^T with every a_i, b_j > 0 (unit weights
//! included). Then sum_ij W_ij (M - U V^T)_ij^2 = ||A - X Y^T||_F^2 with
//! A = D_a^1/2 M D_b^1/2, X = D_a^1/2 U, Y = D_b^1/2 V, whose optimum is
//! A's top-k singular subspace: no iteration can improve on it, and every
//! start reaches it (issue 25: unweighted PCA of the digits ran 16 VarPro
//! starts for a minute where this takes milliseconds).
//!
//! How: the Gram matrix G = A^T A of the short side (s x s, s = min(n, m)),
//! its top-k eigenvectors Y, and X = A Y, the exact half-step for
//! orthonormal Y. Flops: 2 n m s for G (fixed row chunks, summed in a fixed
//! order: the same bits on any thread count), about 9 s^3 for its
//! eigenvectors, 2 n m k for X. Forming G squares A's condition, so this
//! runs only where s is small beside k (beyond that the range finder and
//! accelerated alternation are cheaper) and where the k-th eigenvalue
//! stands clear of rounding; elsewhere the caller iterates as before.

use super::{Context, FitOutcome, Method, Progress};
use crate::error::Result;
use crate::init::Factors;
use crate::memory::{try_buffer, try_collect, try_filled, try_from_fn, try_zeros};
use crate::problem::{DenseProblem, Problem};
use faer::dyn_stack::MemStack;
use faer::linalg::evd::{self, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

/// The Gram route is taken where the short side is at most this many times
/// k + 10 (the range finder's width): there G costs no more than the range
/// finder's 20 n m (k + 10) flops, and it saves the iterations after it.
const SHORT_SIDE_PER_WIDTH: usize = 10;
/// ... and where the k-th eigenvalue of G is at least this fraction of the
/// largest: below it, rounding in G (about eps times the largest) decides
/// the k-th direction.
const TRUSTED_EIGENVALUE: f64 = 1e-10;
/// Rows of A formed at a time (a buffer of ROWS x s per chunk).
const ROWS: usize = 256;
/// Chunks of the long side summed separately, then in order: fixed, so the
/// sum's rounding does not depend on the threads.
const CHUNKS: usize = 32;
/// Weights within this relative distance of a b^T count as rank one (each
/// of W_ij, W_i0, W_0j, W_00 rounded once).
const RANK_ONE_SLACK: f64 = 16.0 * f64::EPSILON;

/// Whether this problem is one the truncated SVD solves: dense, rank-one
/// positive weights, no ridge, no offsets (the caller checks the options).
pub fn applies(problem: &Problem<'_>) -> bool {
    matches!(problem, Problem::Dense(d) if rank_one_weights(d).is_some())
}

/// The optimum in closed form, or None where the Gram route does not apply
/// or cannot be trusted (the caller iterates then). Tolerance 0 asks for
/// every iteration of the budget: they are reported at the optimum, which
/// none of them could move, and the fit is not called converged.
pub fn run(ctx: &Context<'_>, progress: Progress<'_>) -> Result<Option<FitOutcome>> {
    let Problem::Dense(dense) = ctx.problem else {
        return Ok(None);
    };
    let k = ctx.rank;
    // The long side runs down the rows of A.
    let flipped = dense.n_rows() < dense.n_cols();
    let a = if flipped { dense.transposed() } else { *dense };
    let short = a.n_cols();
    if short > SHORT_SIDE_PER_WIDTH * (k + 10) {
        return Ok(None);
    }
    let Some((row_weights, col_weights)) = rank_one_weights(&a) else {
        return Ok(None);
    };
    let (row_roots, col_roots) = (roots(&row_weights)?, roots(&col_weights)?);
    let reader = Reader {
        a: &a,
        row_roots: &row_roots,
        col_roots: &col_roots,
    };
    let gram = ctx.pool.install(|| reader.gram())?;
    let Some(y) = top_eigenvectors(gram.as_ref(), k)? else {
        return Ok(None);
    };
    let x = ctx.pool.install(|| reader.times(y.as_ref()))?;
    // U = D_a^-1/2 X, V = D_b^-1/2 Y on the sides they belong to.
    let long = try_from_fn(x.nrows(), k, |i, j| x[(i, j)] / row_roots[i], "the fit")?;
    let short = try_from_fn(y.nrows(), k, |i, j| y[(i, j)] / col_roots[i], "the fit")?;
    let factors = if flipped {
        Factors { u: short, v: long }
    } else {
        Factors { u: long, v: short }
    };
    let objective = ctx.objective(&factors)?;
    let mut outcome = FitOutcome::new(factors, objective);
    outcome.method_used = Method::TruncatedSvd;
    if ctx.options.tolerance > 0.0 {
        outcome.converged = true;
    } else {
        outcome.finish_budget(ctx.options.max_iterations, progress);
    }
    Ok(Some(outcome))
}

/// (a, b) with W = a b^T (all ones for unit weights), in the solvers'
/// units, or None when W is not of rank one with every entry positive.
/// Stops at the first entry that says no, so on other weights it costs a
/// few reads.
fn rank_one_weights(d: &DenseProblem<'_>) -> Option<(Vec<f64>, Vec<f64>)> {
    let (n, m) = (d.n_rows(), d.n_cols());
    let what = "the weights' factors";
    if d.has_unit_weights() {
        return Some((
            try_filled(n, 1.0, what).ok()?,
            try_filled(m, 1.0, what).ok()?,
        ));
    }
    let corner = d.weight(0, 0);
    if corner.is_nan() || corner <= 0.0 {
        return None;
    }
    let a = try_collect((0..n).map(|i| d.weight(i, 0)), what).ok()?;
    let b = try_collect((0..m).map(|j| d.weight(0, j) / corner), what).ok()?;
    let fits = |i: usize, j: usize| {
        let w = d.weight(i, j);
        w > 0.0 && (w - a[i] * b[j]).abs() <= RANK_ONE_SLACK * w
    };
    let by_rows = d.weights().is_some_and(|w| w.row_stride() != 1);
    let all = if by_rows {
        (0..n).all(|i| (0..m).all(|j| fits(i, j)))
    } else {
        (0..m).all(|j| (0..n).all(|i| fits(i, j)))
    };
    all.then_some((a, b))
}

fn roots(weights: &[f64]) -> Result<Vec<f64>> {
    let mut out = try_filled(weights.len(), 0.0, "the weights' square roots")?;
    out.iter_mut().zip(weights).for_each(|(r, w)| *r = w.sqrt());
    Ok(out)
}

/// A = D_a^1/2 M D_b^1/2 read a block of rows at a time.
struct Reader<'p> {
    a: &'p DenseProblem<'p>,
    row_roots: &'p [f64],
    col_roots: &'p [f64],
}

impl Reader<'_> {
    fn chunk(&self, c: usize) -> std::ops::Range<usize> {
        let n = self.a.n_rows();
        let len = n.div_ceil(CHUNKS);
        (c * len).min(n)..((c + 1) * len).min(n)
    }

    /// A[rows, :] into `out`: rows.len() x s, or its transpose where M is
    /// stored by rows (`by_rows`), so reads and writes both run along
    /// memory.
    fn rows_into(&self, rows: std::ops::Range<usize>, out: &mut Mat<f64>, by_rows: bool) {
        let s = self.col_roots.len();
        let (m, multiplier) = self.a.values_block(rows.clone(), 0..s);
        let row_roots = &self.row_roots[rows];
        let entry = |r: usize, j: usize| {
            row_roots[r] * multiplier.apply_saturating(m[(r, j)]) * self.col_roots[j]
        };
        if by_rows {
            for r in 0..row_roots.len() {
                let column = out.as_mut().col_mut(r).try_as_col_major_mut().unwrap();
                for (j, o) in column.as_slice_mut().iter_mut().enumerate() {
                    *o = entry(r, j);
                }
            }
        } else {
            for j in 0..s {
                let column = out.as_mut().col_mut(j).try_as_col_major_mut().unwrap();
                for (r, o) in column.as_slice_mut()[..row_roots.len()]
                    .iter_mut()
                    .enumerate()
                {
                    *o = entry(r, j);
                }
            }
        }
    }

    /// Each chunk's rows, ROWS at a time, through `visit(first row, block)`.
    fn for_blocks(
        &self,
        chunk: std::ops::Range<usize>,
        mut visit: impl FnMut(usize, MatRef<'_, f64>),
    ) -> Result<()> {
        let s = self.a.n_cols();
        let by_rows = self.a.data().col_stride() == 1 && s > 1;
        let rows = ROWS.min(chunk.len());
        let what = "a block of rows of A";
        let mut block = if by_rows {
            try_zeros(s, rows, what)?
        } else {
            try_zeros(rows, s, what)?
        };
        let mut start = chunk.start;
        while start < chunk.end {
            let rows = start..(start + ROWS).min(chunk.end);
            let len = rows.len();
            self.rows_into(rows, &mut block, by_rows);
            let view = if by_rows {
                block.as_ref().transpose().subrows(0, len)
            } else {
                block.as_ref().subrows(0, len)
            };
            visit(start, view);
            start += len;
        }
        Ok(())
    }

    /// G = A^T A (s x s).
    fn gram(&self) -> Result<Mat<f64>> {
        let s = self.a.n_cols();
        let parts = (0..CHUNKS)
            .into_par_iter()
            .map(|c| -> Result<Mat<f64>> {
                let mut g = try_zeros(s, s, "a part of the Gram matrix")?;
                self.for_blocks(self.chunk(c), |_, b| {
                    matmul(g.as_mut(), Accum::Add, b.transpose(), b, 1.0, Par::Seq)
                })?;
                Ok(g)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut gram = try_zeros(s, s, "the Gram matrix")?;
        parts.iter().for_each(|g| gram += g);
        Ok(gram)
    }

    /// A Y (n x k).
    fn times(&self, y: MatRef<'_, f64>) -> Result<Mat<f64>> {
        let k = y.ncols();
        let parts = (0..CHUNKS)
            .into_par_iter()
            .map(|c| -> Result<Mat<f64>> {
                let chunk = self.chunk(c);
                let offset = chunk.start;
                let mut x = try_zeros(chunk.len(), k, "a part of A Y")?;
                self.for_blocks(chunk, |first, b| {
                    let rows = x.as_mut().subrows_mut(first - offset, b.nrows());
                    matmul(rows, Accum::Replace, b, y, 1.0, Par::Seq)
                })?;
                Ok(x)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut x = try_zeros(self.a.n_rows(), k, "A Y")?;
        for (c, part) in parts.iter().enumerate() {
            let start = self.chunk(c).start;
            x.as_mut().subrows_mut(start, part.nrows()).copy_from(part);
        }
        Ok(x)
    }
}

/// G's eigenvectors of its k largest eigenvalues (s x k; columns beyond s
/// zero), or None when the k-th is too small to be told from rounding.
fn top_eigenvectors(gram: MatRef<'_, f64>, k: usize) -> Result<Option<Mat<f64>>> {
    let s = gram.nrows();
    let what = "the eigenvectors of the Gram matrix";
    let mut values = try_zeros(s, 1, what)?;
    let mut vectors = try_zeros(s, s, what)?;
    let req = evd::self_adjoint_evd_scratch::<f64>(
        s,
        ComputeEigenvectors::Yes,
        Par::Seq,
        Default::default(),
    );
    let solved = evd::self_adjoint_evd(
        gram,
        values.as_mut().col_mut(0).as_diagonal_mut(),
        Some(vectors.as_mut()),
        Par::Seq,
        MemStack::new(&mut try_buffer(req, what)?),
        Default::default(),
    );
    if solved.is_err() {
        return Ok(None);
    }
    let mut order = try_collect(0..s, what)?;
    order.sort_unstable_by(|&a, &b| values[(b, 0)].total_cmp(&values[(a, 0)]).then(a.cmp(&b)));
    let kept = k.min(s);
    let (largest, kth) = (values[(order[0], 0)], values[(order[kept - 1], 0)]);
    if !(largest > 0.0 && kth >= TRUSTED_EIGENVALUE * largest) {
        return Ok(None);
    }
    let mut y = try_zeros(s, k, what)?;
    for (j, &o) in order.iter().take(kept).enumerate() {
        y.as_mut().col_mut(j).copy_from(vectors.col(o));
    }
    Ok(Some(y))
}
