//! Cholesky factor A = L L^T of a dense symmetric positive definite matrix
//! on all threads of the pool, with the same bits on any number of them.
//!
//! faer's parallel Cholesky splits its updates by the thread count, which
//! changes the rounding; here the matrix is cut into fixed BLOCK-wide
//! column blocks and each block is computed by one sequential faer call,
//! so the work and its order never depend on the threads. Right-looking:
//! for each column block j, factor its diagonal block, solve the panel
//! below it, then update every later column block (in parallel, one task
//! per block, cut into fixed row tiles) with the panel's product. Flops:
//! n^3 / 3, of which only the diagonal blocks' factors (n BLOCK^2 / 3)
//! run on one thread.

use crate::error::{Error, Result};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Column block width: a multiple of faer's GEMM micro-kernel, small
/// enough to leave several blocks to share at a few hundred unknowns.
const BLOCK: usize = 64;
/// Rows per task of the panel solve and the trailing update: both ran
/// one task per column block, which left one of two threads idle through
/// the sequential panel solves (about n^2 BLOCK / 2 flops) and the last
/// blocks' updates (UM boy, 550 unknowns: nine column blocks).
const TILE_ROWS: usize = 128;

/// Factor `a` (n x n, column-major in `data`, read from its lower
/// triangle) in place on the current pool: L in the lower triangle, the
/// strict upper one left as scratch. Ok(false) when `a` is not numerically
/// positive definite.
pub fn cholesky_in_place(data: &mut [f64], n: usize) -> Result<bool> {
    let what = "the Cholesky workspace of a diagonal block";
    let req = llt::factor::cholesky_in_place_scratch::<f64>(BLOCK, Par::Seq, Default::default());
    let mut buffer = MemBuffer::try_new(req).map_err(|_| Error::OutOfMemory(what.into()))?;
    for start in (0..n).step_by(BLOCK) {
        let width = BLOCK.min(n - start);
        let (done, rest) = data.split_at_mut((start + width) * n);
        let panel = MatMut::from_column_major_slice_mut(&mut done[start * n..], n, width);
        let mut panel = panel.subrows_mut(start, n - start);
        let factored = llt::factor::cholesky_in_place(
            panel.rb_mut().subrows_mut(0, width),
            Default::default(),
            Par::Seq,
            MemStack::new(&mut buffer),
            Default::default(),
        );
        if factored.is_err() {
            return Ok(false);
        }
        let (diagonal, below) = panel.rb_mut().split_at_row_mut(width);
        // Below := Below L_jj^-T, that is L_jj Below^T = Below^T: each
        // row on its own, so in fixed row tiles on the pool.
        let diagonal = diagonal.rb();
        row_tiles(below).into_par_iter().for_each(|(_, tile)| {
            solve_lower_triangular_in_place(diagonal, tile.transpose_mut(), Par::Seq);
        });
        let below: MatRef<'_, f64> = panel.rb().subrows(width, n - start - width);
        rest.par_chunks_mut(BLOCK * n)
            .enumerate()
            .for_each(|(b, columns)| {
                let first = start + width + b * BLOCK;
                let cols = columns.len() / n;
                let target = MatMut::from_column_major_slice_mut(columns, n, cols);
                let target = target.subrows_mut(first, n - first);
                // A[first.., block] -= L[first.., j] L[block, j]^T, in
                // fixed row tiles (each entry's sum runs over the panel's
                // columns in one order whatever the tiles).
                let rows = first - (start + width);
                let lhs = below.subrows(rows, n - first);
                let rhs = below.subrows(rows, cols).transpose();
                row_tiles(target).into_par_iter().for_each(|(top, tile)| {
                    let lhs = lhs.subrows(top, tile.nrows());
                    matmul(tile, Accum::Add, lhs, rhs, -1.0, Par::Seq);
                });
            });
    }
    Ok(true)
}

/// `m` cut into TILE_ROWS-row tiles, each with its first row.
fn row_tiles(mut m: MatMut<'_, f64>) -> Vec<(usize, MatMut<'_, f64>)> {
    let mut tiles = Vec::with_capacity(m.nrows().div_ceil(TILE_ROWS));
    let mut top = 0;
    while m.nrows() > 0 {
        let take = TILE_ROWS.min(m.nrows());
        let (tile, rest) = m.split_at_row_mut(take);
        tiles.push((top, tile));
        top += take;
        m = rest;
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A B^T B + n I, n x n, column-major: symmetric positive definite.
    fn spd(n: usize) -> Vec<f64> {
        let b = faer::Mat::from_fn(n, n, |i, j| ((i * 7 + j * 13) % 17) as f64 / 17.0 - 0.5);
        let a = b.transpose() * &b + faer::Mat::<f64>::identity(n, n) * faer::Scale(n as f64);
        (0..n * n).map(|t| a[(t % n, t / n)]).collect()
    }

    fn factor_on(threads: usize, a: &[f64], n: usize) -> Vec<f64> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut data = a.to_vec();
        assert!(pool.install(|| cholesky_in_place(&mut data, n)).unwrap());
        data
    }

    #[test]
    fn factor_reproduces_the_matrix_with_the_same_bits_on_any_thread_count() {
        let n = 150; // not a multiple of BLOCK
        let a = spd(n);
        let one = factor_on(1, &a, n);
        assert_eq!(one, factor_on(2, &a, n));
        assert_eq!(one, factor_on(3, &a, n));
        let l = faer::Mat::from_fn(n, n, |i, j| if i >= j { one[j * n + i] } else { 0.0 });
        let product = &l * l.transpose();
        let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for j in 0..n {
            for i in 0..n {
                let error = (product[(i, j)] - a[j * n + i]).abs();
                assert!(error <= 1e-13 * scale, "({i}, {j}): {error:e}");
            }
        }
    }

    #[test]
    fn an_indefinite_matrix_is_refused() {
        let n = 100;
        let mut a = spd(n);
        a[80 * n + 80] = -1e6; // a negative pivot in the second block
        let mut data = a.clone();
        assert!(!cholesky_in_place(&mut data, n).unwrap());
    }
}
