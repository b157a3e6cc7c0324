//! H's block columns as matrix products, where the pattern is dense enough.
//!
//! Block (g, f) of H is sum_e t_efg S_e over the eliminated rows e that
//! observe f, with S_e = y_e y_e^T and t_efg = delta_fg w_ef - w_ef x_f^T
//! b_eg (b = `Elimination::projected`, zero where e does not observe g).
//! S_e is symmetric: k (k + 1) / 2 distinct entries. For free row f, stack
//! the packed S_e of its n_f eliminated rows as the columns of A_f
//! (kk x n_f) and the t_efg as C_f (n_f x (p - f)): P_f = A_f C_f holds
//! f's blocks g >= f, packed: one GEMM where, beyond rank 8, the
//! scattered pairs run a load and a store per flop. It also multiplies
//! the zeros of pairs f, g that share no eliminated row, so it runs only
//! where those cost less than the scattering (`Observed::prefer_stacked`).
//!
//! Flops per free row: 2 kk n_f (p - f) for the product, n_f (p - f) k for
//! C_f, kk n_f for A_f. The product runs in fixed chunks of
//! eliminated rows, each chunk's sum added in order: the same bits on any
//! thread count.

use super::elimination::{dot, Elimination};
use super::observed::Observed;
use crate::kernels::vectorized::vectorized;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// Eliminated rows per chunk of the product: A_f and C_f stay small
/// (CHUNK (kk + p - f) doubles per task) whatever the number of rows.
const CHUNK: usize = 256;

/// The packed S_e = y_e y_e^T, in the order (a, b), a <= b, b major.
#[inline(always)]
fn packed_outer_product(ye: &[f64], packed: &mut [f64]) {
    let mut i = 0;
    for (b, &yb) in ye.iter().enumerate() {
        for &ya in &ye[..=b] {
            packed[i] = ya * yb;
            i += 1;
        }
    }
}

/// What free row f's stacked products read.
pub struct StackedInputs<'a> {
    pub obs: &'a Observed,
    pub x: &'a [f64],
    pub elim: &'a Elimination,
    pub k: usize,
}

/// Free row f's block column of H (blocks g >= f, into `column`) and its
/// gradient, from the stacked products.
pub fn assemble_free_row_stacked(
    at: &StackedInputs<'_>,
    f: usize,
    column: &mut [f64],
    gradient: &mut [f64],
) {
    let StackedInputs { obs, elim, k, .. } = *at;
    let (p, kk) = (obs.n_free, k * (k + 1) / 2);
    let width = p - f;
    let entries = obs.free_row(f);
    let mut stacked = vec![0.0; kk * width];
    let mut a = vec![0.0; kk * CHUNK.min(entries.len())];
    let mut c = vec![0.0; CHUNK.min(entries.len()) * width];
    for (chunk, first) in entries.clone().step_by(CHUNK).enumerate() {
        let rows = CHUNK.min(entries.end - first);
        let c = &mut c[..rows * width];
        c.fill(0.0);
        for (i, idx) in (first..first + rows).enumerate() {
            let e = obs.owner[idx];
            packed_outer_product(&elim.y[e * k..(e + 1) * k], &mut a[i * kk..(i + 1) * kk]);
        }
        vectorized(
            #[inline(always)]
            || coefficients(at, f, first..first + rows, c, gradient),
        );
        let beta = if chunk == 0 {
            Accum::Replace
        } else {
            Accum::Add
        };
        matmul(
            MatMut::from_column_major_slice_mut(&mut stacked, kk, width),
            beta,
            MatRef::from_column_major_slice(&a[..kk * rows], kk, rows),
            MatRef::from_row_major_slice(c, rows, width),
            1.0,
            Par::Seq,
        );
    }
    unpack_blocks(&stacked, k, f, column);
}

/// a^T b summed in four lanes: one chain of k dependent additions is
/// what bounds `coefficients` otherwise.
#[inline(always)]
fn dot_in_lanes(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = dot(a4.remainder(), b4.remainder());
    for (a, b) in a4.zip(b4) {
        lanes
            .iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(l, (x, y))| *l += x * y);
    }
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail
}

/// C_f's rows for the entries `idxs` of free row f (row-major, `width`
/// = p - f per row, zeros where e does not observe g), and their terms
/// of the gradient. (Only ranks above 8 come here, so none is compiled
/// in.)
#[inline(always)]
fn coefficients(
    at: &StackedInputs<'_>,
    f: usize,
    idxs: std::ops::Range<usize>,
    c: &mut [f64],
    gradient: &mut [f64],
) {
    let StackedInputs {
        obs, x, elim, k, ..
    } = *at;
    let width = obs.n_free - f;
    let xf = &x[f * k..(f + 1) * k];
    let mut wx = vec![0.0; k];
    for (row, idx) in c.chunks_exact_mut(width).zip(idxs) {
        let (pos, e) = (obs.by_free[idx], obs.owner[idx]);
        let ye = &elim.y[e * k..(e + 1) * k];
        let w = obs.w[pos];
        let scaled = w * (obs.m[pos] - dot(ye, xf));
        gradient
            .iter_mut()
            .zip(ye)
            .for_each(|(g, y)| *g -= scaled * y);
        wx.iter_mut().zip(xf).for_each(|(o, x)| *o = w * x);
        // Entry (e, f) comes first among row e's entries g >= f.
        for pos2 in pos..obs.row(e).end {
            let own = if pos2 == pos { w } else { 0.0 };
            row[obs.free[pos2] - f] =
                own - dot_in_lanes(&wx, &elim.projected[pos2 * k..(pos2 + 1) * k]);
        }
    }
}

/// P_f's packed columns into blocks (g, f), g >= f, both triangles.
fn unpack_blocks(stacked: &[f64], k: usize, f: usize, column: &mut [f64]) {
    let kk = k * (k + 1) / 2;
    for (offset, packed) in stacked.chunks_exact(kk).enumerate() {
        let block = &mut column[(f + offset) * k * k..][..k * k];
        let mut i = 0;
        for b in 0..k {
            for a in 0..=b {
                block[b * k + a] = packed[i];
                block[a * k + b] = packed[i];
                i += 1;
            }
        }
    }
}
