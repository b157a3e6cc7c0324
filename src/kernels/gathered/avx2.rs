//! `Primitives` with AVX2 intrinsics: 4-lane multiplies and adds (never
//! fused), in `portable`'s order.

use super::{tail, Primitives, GROUP};
use std::arch::x86_64::*;

pub(crate) struct Avx2;

pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// (l0 + l2) + (l1 + l3) of lo + hi.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) fn reduce(lo: __m256d, hi: __m256d) -> f64 {
    let h = _mm256_add_pd(lo, hi);
    let pair = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd::<1>(h));
    _mm_cvtsd_f64(_mm_add_sd(pair, _mm_unpackhi_pd(pair, pair)))
}

#[target_feature(enable = "avx2")]
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let b = &b[..a.len()];
    let full = a.len() / 8 * 8;
    // SAFETY: every load reads a[c..c + 8] and b[c..c + 8], c + 8 <= full.
    unsafe {
        let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for c in (0..full).step_by(8) {
            let (pa, pb) = (a.as_ptr().add(c), b.as_ptr().add(c));
            lo = _mm256_add_pd(lo, _mm256_mul_pd(_mm256_loadu_pd(pa), _mm256_loadu_pd(pb)));
            hi = _mm256_add_pd(
                hi,
                _mm256_mul_pd(_mm256_loadu_pd(pa.add(4)), _mm256_loadu_pd(pb.add(4))),
            );
        }
        reduce(lo, hi) + tail(a, b, full)
    }
}

#[target_feature(enable = "avx2")]
#[inline]
fn group_dots(ys: [&[f64]; GROUP], v: &[f64]) -> [f64; GROUP] {
    let k = v.len();
    let ys = [&ys[0][..k], &ys[1][..k], &ys[2][..k], &ys[3][..k]];
    let full = k / 8 * 8;
    // SAFETY: every load reads 4 elements at c or c + 4, c + 8 <= full <= k,
    // of slices k long.
    unsafe {
        let mut lo = [_mm256_setzero_pd(); GROUP];
        let mut hi = [_mm256_setzero_pd(); GROUP];
        for c in (0..full).step_by(8) {
            let pv = v.as_ptr().add(c);
            let (vl, vh) = (_mm256_loadu_pd(pv), _mm256_loadu_pd(pv.add(4)));
            for g in 0..GROUP {
                let py = ys[g].as_ptr().add(c);
                lo[g] = _mm256_add_pd(lo[g], _mm256_mul_pd(_mm256_loadu_pd(py), vl));
                hi[g] = _mm256_add_pd(hi[g], _mm256_mul_pd(_mm256_loadu_pd(py.add(4)), vh));
            }
        }
        let mut out = [0.0; GROUP];
        for g in 0..GROUP {
            out[g] = reduce(lo[g], hi[g]) + tail(ys[g], v, full);
        }
        out
    }
}

#[target_feature(enable = "avx2")]
#[inline]
fn axpy(alpha: f64, x: &[f64], out: &mut [f64]) {
    let k = out.len();
    let x = &x[..k];
    let full = k / 4 * 4;
    // SAFETY: loads and stores of 4 elements at d, d + 4 <= full <= k.
    unsafe {
        let a = _mm256_set1_pd(alpha);
        for d in (0..full).step_by(4) {
            let po = out.as_mut_ptr().add(d);
            let term = _mm256_mul_pd(a, _mm256_loadu_pd(x.as_ptr().add(d)));
            _mm256_storeu_pd(po, _mm256_add_pd(_mm256_loadu_pd(po), term));
        }
    }
    for d in full..k {
        out[d] += alpha * x[d];
    }
}

#[target_feature(enable = "avx2")]
#[inline]
fn group_axpy(a: [f64; GROUP], ys: [&[f64]; GROUP], out: &mut [f64]) {
    let k = out.len();
    let ys = [&ys[0][..k], &ys[1][..k], &ys[2][..k], &ys[3][..k]];
    let full = k / 4 * 4;
    // SAFETY: loads and stores of 4 elements at d, d + 4 <= full <= k, of
    // slices k long.
    unsafe {
        let s = [
            _mm256_set1_pd(a[0]),
            _mm256_set1_pd(a[1]),
            _mm256_set1_pd(a[2]),
            _mm256_set1_pd(a[3]),
        ];
        for d in (0..full).step_by(4) {
            let po = out.as_mut_ptr().add(d);
            let mut o = _mm256_loadu_pd(po);
            for g in 0..GROUP {
                let y = _mm256_loadu_pd(ys[g].as_ptr().add(d));
                o = _mm256_add_pd(o, _mm256_mul_pd(s[g], y));
            }
            _mm256_storeu_pd(po, o);
        }
    }
    for d in full..k {
        out[d] =
            (((out[d] + a[0] * ys[0][d]) + a[1] * ys[1][d]) + a[2] * ys[2][d]) + a[3] * ys[3][d];
    }
}

// The trait's methods are only ever inlined into the `#[target_feature]`
// builds in mod.rs, whose CPU check covers the calls below.
impl Primitives for Avx2 {
    #[inline(always)]
    fn dot(a: &[f64], b: &[f64]) -> f64 {
        // SAFETY: see the impl's comment.
        unsafe { dot(a, b) }
    }

    #[inline(always)]
    fn group_dots(ys: [&[f64]; GROUP], v: &[f64]) -> [f64; GROUP] {
        // SAFETY: see the impl's comment.
        unsafe { group_dots(ys, v) }
    }

    #[inline(always)]
    fn axpy(alpha: f64, x: &[f64], out: &mut [f64]) {
        // SAFETY: see the impl's comment.
        unsafe { axpy(alpha, x, out) }
    }

    #[inline(always)]
    fn group_axpy(a: [f64; GROUP], ys: [&[f64]; GROUP], out: &mut [f64]) {
        // SAFETY: see the impl's comment.
        unsafe { group_axpy(a, ys, out) }
    }
}
