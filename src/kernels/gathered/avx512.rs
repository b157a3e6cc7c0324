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
//!
//! Each kernel also reads float32 rows (`Entry for f32`, issue 29's mixed
//! precision): a row's 8-entry chunks are widened to doubles on load, which
//! is exact, and everything after is the float64 kernel's, so the result is
//! the float64 kernel's over the widened factor, bit for bit.

use super::row;
use std::arch::x86_64::*;

/// A factor entry as the kernels load it: float64 as is, float32 widened.
pub(crate) trait Entry: Copy {
    /// Entries per 64-byte cache line (what one prefetch covers).
    const PER_LINE: usize;
    /// The 8 entries from `p` as doubles.
    ///
    /// # Safety
    /// `p` must point to 8 readable entries, on a CPU with AVX-512F.
    unsafe fn load8(p: *const Self) -> __m512d;
}

impl Entry for f64 {
    const PER_LINE: usize = 8;
    #[inline(always)]
    unsafe fn load8(p: *const f64) -> __m512d {
        // SAFETY: the caller's.
        unsafe { _mm512_loadu_pd(p) }
    }
}

impl Entry for f32 {
    const PER_LINE: usize = 16;
    #[inline(always)]
    unsafe fn load8(p: *const f32) -> __m512d {
        // SAFETY: the caller's.
        unsafe { _mm512_cvtps_pd(_mm256_loadu_ps(p)) }
    }
}

/// `$kernel::<C>(args)` (or `$kernel::<C, E>` for rows of entry type E)
/// for C = k / 8, k as `covers` admits.
macro_rules! by_chunks {
    ($k:expr, $kernel:ident$(::<$e:ty>)?($($arg:expr),*)) => {
        match $k / 8 {
            1 => $kernel::<1 $(, $e)?>($($arg),*),
            2 => $kernel::<2 $(, $e)?>($($arg),*),
            3 => $kernel::<3 $(, $e)?>($($arg),*),
            4 => $kernel::<4 $(, $e)?>($($arg),*),
            5 => $kernel::<5 $(, $e)?>($($arg),*),
            6 => $kernel::<6 $(, $e)?>($($arg),*),
            7 => $kernel::<7 $(, $e)?>($($arg),*),
            8 => $kernel::<8 $(, $e)?>($($arg),*),
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
fn load_and_dot<const C: usize, E: Entry>(y: &[E], x: &[__m512d; C]) -> ([__m512d; C], f64) {
    let y = &y[..8 * C];
    let mut chunks = [_mm512_setzero_pd(); C];
    let mut acc = _mm512_setzero_pd();
    for c in 0..C {
        // SAFETY: y is 8 C long; the CPU has AVX-512F (this fn's feature).
        chunks[c] = unsafe { E::load8(y.as_ptr().add(8 * c)) };
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
fn projections<const C: usize, E: Entry>(
    out: &mut [f64],
    coef: &[f64],
    cols: &[usize],
    rows: &[E],
    v: &[f64],
) {
    let k = 8 * C;
    let (vr, mut o) = (load::<C>(v), load::<C>(out));
    for (p, (&a, &j)) in coef.iter().zip(cols).enumerate() {
        prefetch(rows, cols, p + AHEAD, k);
        let (y, d) = load_and_dot::<C, E>(row(rows, j, k), &vr);
        update(&mut o, a * d, &y);
    }
    store(&o, out);
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
fn row_sums<const C: usize, E: Entry>(
    rhs: &mut [f64],
    product: &mut [f64],
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[E],
    x: &[f64],
) {
    let k = 8 * C;
    let xr = load::<C>(x);
    let (mut r, mut q) = (load::<C>(rhs), load::<C>(product));
    for (p, ((&cp, &tp), &j)) in c.iter().zip(t).zip(cols).enumerate() {
        prefetch(rows, cols, p + AHEAD, k);
        let (y, d) = load_and_dot::<C, E>(row(rows, j, k), &xr);
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
fn prefetch<E: Entry>(rows: &[E], cols: &[usize], p: usize, k: usize) {
    if let Some(&j) = cols.get(p) {
        for line in row(rows, j, k).chunks(E::PER_LINE) {
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
        *o = load_and_dot::<C, f64>(row(rows, j, k), &vr).1;
    }
}

/// `row_dots` for k that `covers`.
#[target_feature(enable = "avx512f")]
pub(crate) fn row_dots(out: &mut [f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    by_chunks!(v.len(), dots(out, cols, rows, v))
}

/// `add_projections` (rows of f64) and `add_projections_narrow` (f32) for
/// k that `covers`.
#[target_feature(enable = "avx512f")]
pub(crate) fn add_projections<E: Entry>(
    out: &mut [f64],
    coef: &[f64],
    cols: &[usize],
    rows: &[E],
    v: &[f64],
) {
    by_chunks!(out.len(), projections::<E>(out, coef, cols, rows, v))
}

/// `add_row_sums` (rows of f64) and `add_row_sums_narrow` (f32) for k
/// that `covers`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(crate) fn add_row_sums<E: Entry>(
    rhs: &mut [f64],
    product: &mut [f64],
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[E],
    x: &[f64],
) {
    by_chunks!(x.len(), row_sums::<E>(rhs, product, c, t, cols, rows, x))
}

/// Entries ahead whose rows `add_rows` prefetches: an entry costs it a
/// third of what it costs the CG kernels, so the rows are asked for
/// further ahead.
const SUM_AHEAD: usize = 16;

/// Chunks of 8 that `add_rows` keeps in registers at most (16 zmm of
/// output, and one masked chunk for a width that is not a multiple of 8).
const MAX_SUM_CHUNKS: usize = 16;

/// Whether `add_rows` here takes width k: any up to 8 (MAX_SUM_CHUNKS + 1) - 1.
pub(crate) fn sums_cover(k: usize) -> bool {
    k > 0 && k / 8 <= MAX_SUM_CHUNKS
}

/// out += sum_p coef[p] y_cols[p] with out's C full chunks and its last
/// k mod 8 entries (a masked chunk) in registers, the rows prefetched: the
/// range finder's products (k + 10 wide) gather rows of a factor too large
/// for the caches at MovieLens size, and the 4-wide build waited on them.
/// Per element the updates run in entry order, as in every build.
#[target_feature(enable = "avx512f")]
fn rows_sum<const C: usize>(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    let k = out.len();
    let tail = k - 8 * C;
    let mask: __mmask8 = ((1u16 << tail) - 1) as u8;
    let mut o = load::<C>(out);
    // SAFETY: the masked lanes (tail of them) lie within out; the others
    // are neither read nor written (AVX-512 masking suppresses them).
    let mut last = unsafe { _mm512_maskz_loadu_pd(mask, out.as_ptr().add(8 * C)) };
    for (p, (&a, &j)) in coef.iter().zip(cols).enumerate() {
        prefetch(rows, cols, p + SUM_AHEAD, k);
        let y = row(rows, j, k);
        let a = _mm512_set1_pd(a);
        for (c, o) in o.iter_mut().enumerate() {
            // SAFETY: y is k >= 8 C long.
            let chunk = unsafe { _mm512_loadu_pd(y.as_ptr().add(8 * c)) };
            *o = _mm512_add_pd(*o, _mm512_mul_pd(a, chunk));
        }
        if tail > 0 {
            // SAFETY: as for `last`.
            let chunk = unsafe { _mm512_maskz_loadu_pd(mask, y.as_ptr().add(8 * C)) };
            last = _mm512_add_pd(last, _mm512_mul_pd(a, chunk));
        }
    }
    store(&o, out);
    // SAFETY: as for `last`.
    unsafe { _mm512_mask_storeu_pd(out.as_mut_ptr().add(8 * C), mask, last) };
}

/// `add_rows` for widths that `sums_cover`.
#[target_feature(enable = "avx512f")]
pub(crate) fn add_rows(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    match out.len() / 8 {
        0 => rows_sum::<0>(out, coef, cols, rows),
        1 => rows_sum::<1>(out, coef, cols, rows),
        2 => rows_sum::<2>(out, coef, cols, rows),
        3 => rows_sum::<3>(out, coef, cols, rows),
        4 => rows_sum::<4>(out, coef, cols, rows),
        5 => rows_sum::<5>(out, coef, cols, rows),
        6 => rows_sum::<6>(out, coef, cols, rows),
        7 => rows_sum::<7>(out, coef, cols, rows),
        8 => rows_sum::<8>(out, coef, cols, rows),
        9 => rows_sum::<9>(out, coef, cols, rows),
        10 => rows_sum::<10>(out, coef, cols, rows),
        11 => rows_sum::<11>(out, coef, cols, rows),
        12 => rows_sum::<12>(out, coef, cols, rows),
        13 => rows_sum::<13>(out, coef, cols, rows),
        14 => rows_sum::<14>(out, coef, cols, rows),
        15 => rows_sum::<15>(out, coef, cols, rows),
        16 => rows_sum::<16>(out, coef, cols, rows),
        _ => unreachable!("sums_cover() admits k < 8 (MAX_SUM_CHUNKS + 1) only"),
    }
}
