//! `Primitives` in plain Rust, lane for lane what `avx2` does.

use super::{tail, Primitives, GROUP};

const HALF: usize = 4;
const CHUNK: usize = 2 * HALF;

pub(crate) struct Portable;

#[inline(always)]
fn reduce(lo: [f64; HALF], hi: [f64; HALF]) -> f64 {
    let h: [f64; HALF] = std::array::from_fn(|l| lo[l] + hi[l]);
    (h[0] + h[2]) + (h[1] + h[3])
}

impl Primitives for Portable {
    #[inline(always)]
    fn dot(a: &[f64], b: &[f64]) -> f64 {
        let (mut lo, mut hi) = ([0.0; HALF], [0.0; HALF]);
        let full = a.len() / CHUNK * CHUNK;
        for c in (0..full).step_by(CHUNK) {
            for l in 0..HALF {
                lo[l] += a[c + l] * b[c + l];
                hi[l] += a[c + HALF + l] * b[c + HALF + l];
            }
        }
        reduce(lo, hi) + tail(a, b, full)
    }

    #[inline(always)]
    fn group_dots(ys: [&[f64]; GROUP], v: &[f64]) -> [f64; GROUP] {
        ys.map(|y| Self::dot(&y[..v.len()], v))
    }

    #[inline(always)]
    fn axpy(alpha: f64, x: &[f64], out: &mut [f64]) {
        out.iter_mut().zip(x).for_each(|(o, v)| *o += alpha * v);
    }

    #[inline(always)]
    fn group_axpy(a: [f64; GROUP], ys: [&[f64]; GROUP], out: &mut [f64]) {
        for (d, o) in out.iter_mut().enumerate() {
            *o = (((*o + a[0] * ys[0][d]) + a[1] * ys[1][d]) + a[2] * ys[2][d]) + a[3] * ys[3][d];
        }
    }
}
