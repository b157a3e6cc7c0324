//! The subsampled randomized Hadamard transform (SRHT) that the SKETCH
//! solvers apply to each row's weighted design: random signs, a
//! Walsh-Hadamard transform, a uniform sample of rows. Its QR's R
//! preconditions the row's least-squares problem (Song, Ye, Yin, Zhang 2023).
//! Flops per sketch of a rows x k matrix, p = next_pow2(rows): k p log2(p)
//! additions; memory: one p x k padded copy.

use crate::error::Result;
use crate::kernels::fwht::fwht_columns;
use crate::kernels::orthonormal::RFactorWorkspace;
use crate::memory::{try_reserve, try_zeros};
use crate::rng::{below, sign};
use faer::{Mat, MatRef};

/// Sketch rows for rank k: ceil(factor k), at least k.
pub fn sketch_rows(factor: f64, k: usize) -> usize {
    ((factor * k as f64).ceil() as usize).max(k)
}

/// S a for an SRHT S with `s` rows: random signs, the Walsh-Hadamard
/// transform of the zero-padded columns, `s` rows sampled uniformly without
/// replacement, scaled by 1/sqrt(s). Returns the s x k sketch (a view into
/// `out`). Requires s <= next_pow2(rows of a).
pub fn srht_sketch<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
    padded: &mut Mat<f64>,
    order: &mut Vec<usize>,
    out: &'w mut Mat<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    let p = rows.next_power_of_two();
    let mut work = padded.as_mut().submatrix_mut(0, 0, p, k);
    work.fill(0.0);
    // Signs drawn in row order, applied column by column: the columns are
    // contiguous, rows are not (measured 1.2-1.6x per row by
    // `cargo bench --features experiments --bench embeddings`, SRHT-cols).
    // The signs wait in the last column of `work` (no buffer per row), and
    // that column is signed in place once the others have read them.
    if k > 0 {
        let (mut left, mut last) = work.as_mut().split_at_col_mut(k - 1);
        let mut signs = last.as_mut().col_mut(0);
        for i in 0..rows {
            signs[i] = sign(rng);
        }
        for d in 0..k - 1 {
            let (src, mut dst) = (a.col(d), left.as_mut().col_mut(d));
            for i in 0..rows {
                dst[i] = signs[i] * src[i];
            }
        }
        let src = a.col(k - 1);
        for i in 0..rows {
            signs[i] *= src[i];
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
    for d in 0..k {
        let (src, mut dst) = (work.as_ref().col(d), sk.as_mut().col_mut(d));
        for (r, &from) in order[..s].iter().enumerate() {
            dst[r] = scale * src[from];
        }
    }
    out.as_ref().submatrix(0, 0, s, k)
}

/// What a row's preconditioner is computed from: an SRHT sketch of its
/// design `a` when that has more than `s` rows, else `a` itself (a short
/// design's own R is the ideal preconditioner, and cheaper than a sketch).
pub fn sketch_or_design<'w>(
    a: MatRef<'w, f64>,
    s: usize,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
    scratch: &'w mut SrhtScratch,
) -> MatRef<'w, f64> {
    if a.nrows() > s {
        let SrhtScratch {
            padded,
            order,
            sketch,
        } = scratch;
        srht_sketch(a, s, rng, padded, order, sketch)
    } else {
        a
    }
}

/// The buffers of `srht_sketch` for designs of at most `rows` rows and `k`
/// columns, with `s` sketch rows: allocated once per thread.
pub struct SrhtScratch {
    pub padded: Mat<f64>,
    pub order: Vec<usize>,
    pub sketch: Mat<f64>,
}

impl SrhtScratch {
    pub fn new(rows: usize, k: usize, s: usize) -> Result<Self> {
        let p = rows.checked_next_power_of_two().unwrap_or(usize::MAX);
        let mut order = Vec::new();
        try_reserve(&mut order, p, "the SRHT's row sample")?;
        Ok(SrhtScratch {
            padded: try_zeros(p, k, "the SRHT's padded design")?,
            order,
            sketch: try_zeros(s, k, "a row's sketch")?,
        })
    }
}

/// R of the QR of the sketch of row design `a` (see `sketch_or_design`), or
/// None when R is not full rank and so cannot precondition. `a` has at
/// least as many rows as columns (callers send rows that may be singular,
/// `solver::rows::may_be_singular`, to their exact path first).
pub fn sketched_r_factor(
    a: MatRef<'_, f64>,
    s: usize,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
    srht: &mut SrhtScratch,
    qr: &mut RFactorWorkspace,
) -> Result<Option<Mat<f64>>> {
    debug_assert!(a.nrows() >= a.ncols(), "a row that may be singular");
    qr.full_rank_r_factor(sketch_or_design(a, s, rng, srht))
}
