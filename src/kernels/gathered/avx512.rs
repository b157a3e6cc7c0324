//! Register-resident kernels for k = 8, 16, ..., 64 with AVX-512: the
//! output vectors stay in zmm registers across all of a row's entries, and
//! each gathered row is loaded once for both its dot product and its
//! update, where the 4-wide kernels load it twice and reload the output for
//! every group; the rows a few entries ahead are prefetched. A CG product
//! pass over the implicit benchmark's users at k = 64: 18.2 ns per entry
//! with the 4-wide kernels, 18.5 resident without prefetch, 10.2 with it
//! (`cargo bench --bench implicit_profile -- kernels`). Same lanes and
//! order of operations as `portable` (a dot product's two 4-lane halves are
//! the zmm's halves; updates in entry order; no fused multiply-add), so the
//! same bits.

use super::row;
use std::arch::x86_64::*;

/// `$kernel::<C>(args)` for C = k / 8, k as `covers` admits.
macro_rules! by_chunks {
    ($k:expr, $kernel:ident($($arg:expr),*)) => {
        match $k / 8 {
            1 => $kernel::<1>($($arg),*),
            2 => $kernel::<2>($($arg),*),
            3 => $kernel::<3>($($arg),*),
            4 => $kernel::<4>($($arg),*),
            5 => $kernel::<5>($($arg),*),
            6 => $kernel::<6>($($arg),*),
            7 => $kernel::<7>($($arg),*),
            8 => $kernel::<8>($($arg),*),
            _ => unreachable!("covers() admits k = 8, ..., 64 only"),
        }
    };
}

pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Whether the kernels here take rank k.
pub(crate) fn covers(k: usize) -> bool {
    k > 0 && k.is_multiple_of(8) && k <= 64
}

/// `avx2::reduce` of acc's two 4-lane halves, plus the empty tail (+ 0.0,
/// as the other builds add it).
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce(acc: __m512d) -> f64 {
    let (lo, hi) = (
        _mm512_castpd512_pd256(acc),
        _mm512_extractf64x4_pd::<1>(acc),
    );
    super::avx2::reduce(lo, hi) + 0.0
}

/// y's C zmm chunks, and y . x against x's chunks in registers.
#[target_feature(enable = "avx512f")]
#[inline]
fn load_and_dot<const C: usize>(y: &[f64], x: &[__m512d; C]) -> ([__m512d; C], f64) {
    let y = &y[..8 * C];
    let mut chunks = [_mm512_setzero_pd(); C];
    let mut acc = _mm512_setzero_pd();
    for c in 0..C {
        // SAFETY: y is 8 C long.
        chunks[c] = unsafe { _mm512_loadu_pd(y.as_ptr().add(8 * c)) };
        acc = _mm512_add_pd(acc, _mm512_mul_pd(chunks[c], x[c]));
    }
    (chunks, reduce(acc))
}

#[target_feature(enable = "avx512f")]
#[inline]
fn load<const C: usize>(v: &[f64]) -> [__m512d; C] {
    let v = &v[..8 * C];
    let mut out = [_mm512_setzero_pd(); C];
    for (c, o) in out.iter_mut().enumerate() {
        // SAFETY: v is 8 C long.
        *o = unsafe { _mm512_loadu_pd(v.as_ptr().add(8 * c)) };
    }
    out
}

#[target_feature(enable = "avx512f")]
#[inline]
fn store<const C: usize>(chunks: &[__m512d; C], out: &mut [f64]) {
    let out = &mut out[..8 * C];
    for (c, chunk) in chunks.iter().enumerate() {
        // SAFETY: out is 8 C long.
        unsafe { _mm512_storeu_pd(out.as_mut_ptr().add(8 * c), *chunk) };
    }
}

/// o += a y, chunk by chunk.
#[target_feature(enable = "avx512f")]
#[inline]
fn update<const C: usize>(o: &mut [__m512d; C], a: f64, y: &[__m512d; C]) {
    let a = _mm512_set1_pd(a);
    for c in 0..C {
        o[c] = _mm512_add_pd(o[c], _mm512_mul_pd(a, y[c]));
    }
}

#[target_feature(enable = "avx512f")]
fn projections<const C: usize>(
    out: &mut [f64],
    coef: &[f64],
    cols: &[usize],
    rows: &[f64],
    v: &[f64],
) {
    let k = 8 * C;
    let (vr, mut o) = (load::<C>(v), load::<C>(out));
    for (p, (&a, &j)) in coef.iter().zip(cols).enumerate() {
        prefetch(rows, cols, p + AHEAD, k);
        let (y, d) = load_and_dot::<C>(row(rows, j, k), &vr);
        update(&mut o, a * d, &y);
    }
    store(&o, out);
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
fn row_sums<const C: usize>(
    rhs: &mut [f64],
    product: &mut [f64],
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[f64],
    x: &[f64],
) {
    let k = 8 * C;
    let xr = load::<C>(x);
    let (mut r, mut q) = (load::<C>(rhs), load::<C>(product));
    for (p, ((&cp, &tp), &j)) in c.iter().zip(t).zip(cols).enumerate() {
        prefetch(rows, cols, p + AHEAD, k);
        let (y, d) = load_and_dot::<C>(row(rows, j, k), &xr);
        update(&mut r, tp, &y);
        update(&mut q, cp * d, &y);
    }
    store(&r, rhs);
    store(&q, product);
}

/// Entries ahead whose rows are prefetched. The rows are gathered at
/// random from a factor in L2 or L3; with the row's loads no longer the
/// bottleneck, waiting for them was: a pass over the implicit benchmark's
/// users took 18.5 ns per entry without, 11 with 2, 4 or 8 ahead.
const AHEAD: usize = 4;

#[target_feature(enable = "avx512f")]
#[inline]
fn prefetch(rows: &[f64], cols: &[usize], p: usize, k: usize) {
    if let Some(&j) = cols.get(p) {
        for line in row(rows, j, k).chunks(8) {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
    }
}

#[target_feature(enable = "avx512f")]
fn dots<const C: usize>(out: &mut [f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    let k = 8 * C;
    let vr = load::<C>(v);
    for (p, (o, &j)) in out.iter_mut().zip(cols).enumerate() {
        prefetch(rows, cols, p + AHEAD, k);
        *o = load_and_dot::<C>(row(rows, j, k), &vr).1;
    }
}

/// `row_dots` for k that `covers`.
#[target_feature(enable = "avx512f")]
pub(crate) fn row_dots(out: &mut [f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    by_chunks!(v.len(), dots(out, cols, rows, v))
}

/// `add_projections` for k that `covers`.
#[target_feature(enable = "avx512f")]
pub(crate) fn add_projections(
    out: &mut [f64],
    coef: &[f64],
    cols: &[usize],
    rows: &[f64],
    v: &[f64],
) {
    by_chunks!(out.len(), projections(out, coef, cols, rows, v))
}

/// `add_row_sums` for k that `covers`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(crate) fn add_row_sums(
    rhs: &mut [f64],
    product: &mut [f64],
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[f64],
    x: &[f64],
) {
    by_chunks!(x.len(), row_sums(rhs, product, c, t, cols, rows, x))
}
