//! Sums over rows of a factor picked by column index, the inner loops of
//! every sparse half-step: out += sum_p c_p y_j(p), out += sum_p c_p y_j o
//! y_j, out += sum_p c_p (y_j . v) y_j, and plain dot products. `rows` holds
//! the factor with each row contiguous (k entries at j * k).
//!
//! Each kernel is written once over `Primitives` (dot products and
//! axpys on whole rows) and built twice: with plain Rust (`Portable`) and
//! with AVX2 intrinsics (`avx2::Avx2`), taken when the CPU has AVX2. The
//! CG kernels and `row_dots` have a third build for k = 8, ..., 64 on
//! CPUs with AVX-512 (`avx512`), which keeps a row's vectors in registers.
//! Left to itself the compiler vectorized these loops two lanes wide with
//! spills: a CG product pass over the implicit benchmark's users took 24.2
//! ns per entry at k = 64, 18.2 with the AVX2 build, 10.2 with the AVX-512
//! one (`cargo bench --bench implicit_profile -- kernels`). All builds
//! use the same lanes and the same order of operations, never a fused
//! multiply-add, so they give the same bits.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;

use portable::Portable;

/// Rows handled together: their dot products run as independent chains
/// and their updates share one pass over the output.
pub(crate) const GROUP: usize = 4;

/// Dot products and axpys over k-vectors. Lane structure, shared by both
/// implementations: a dot product sums chunks of 8 into two 4-lane
/// accumulators (elements 8c..8c+4 and 8c+4..8c+8), adds them, reduces the
/// 4 lanes as (l0 + l2) + (l1 + l3), then adds the tail (k mod 8 elements,
/// in order).
pub(crate) trait Primitives {
    /// a . b over a's length (b at least as long).
    fn dot(a: &[f64], b: &[f64]) -> f64;
    /// y_g . v for each of the rows ys (each at least v's length).
    fn group_dots(ys: [&[f64]; GROUP], v: &[f64]) -> [f64; GROUP];
    /// out += alpha x.
    fn axpy(alpha: f64, x: &[f64], out: &mut [f64]);
    /// out += a_0 y_0, then += a_1 y_1, and so on: the order of single
    /// axpys, elementwise.
    fn group_axpy(a: [f64; GROUP], ys: [&[f64]; GROUP], out: &mut [f64]);
}

/// a . b over a[from..], in order: the part of a dot product after its
/// chunks of 8 (0.0 when there is none).
#[inline(always)]
fn tail(a: &[f64], b: &[f64], from: usize) -> f64 {
    (from..a.len()).fold(0.0, |s, d| s + a[d] * b[d])
}

#[inline(always)]
fn row(rows: &[f64], j: usize, k: usize) -> &[f64] {
    &rows[j * k..(j + 1) * k]
}

/// The rows of the `GROUP` entries starting at p. (Software prefetch of the
/// next group measured no faster in these 4-lane loops, which are bound by
/// their loads and arithmetic; the AVX-512 ones prefetch.)
#[inline(always)]
fn group_rows<'a>(rows: &'a [f64], cols: &[usize], p: usize, k: usize) -> [&'a [f64]; GROUP] {
    [
        row(rows, cols[p], k),
        row(rows, cols[p + 1], k),
        row(rows, cols[p + 2], k),
        row(rows, cols[p + 3], k),
    ]
}

/// The group's values (`values` starting at the group's first).
#[inline(always)]
fn group_of(values: &[f64]) -> [f64; GROUP] {
    [values[0], values[1], values[2], values[3]]
}

/// coef[g] d[g] for the group's entries (coef starting at the group's).
#[inline(always)]
fn scaled(coef: &[f64], d: [f64; GROUP]) -> [f64; GROUP] {
    [
        coef[0] * d[0],
        coef[1] * d[1],
        coef[2] * d[2],
        coef[3] * d[3],
    ]
}

/// Entries grouped by `GROUP`, and where the single ones start.
#[inline(always)]
fn grouped(len: usize) -> (std::iter::StepBy<std::ops::Range<usize>>, usize) {
    let end = len / GROUP * GROUP;
    ((0..end).step_by(GROUP), end)
}

#[inline(always)]
fn dot_body<P: Primitives>(a: &[f64], b: &[f64]) -> f64 {
    P::dot(a, b)
}

#[inline(always)]
fn add_rows_body<P: Primitives>(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    let k = out.len();
    let (groups, singles) = grouped(cols.len());
    for p in groups {
        let ys = group_rows(rows, cols, p, k);
        P::group_axpy(group_of(&coef[p..]), ys, out);
    }
    for p in singles..cols.len() {
        P::axpy(coef[p], row(rows, cols[p], k), out);
    }
}

#[inline(always)]
fn add_squares_body<P: Primitives>(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    let k = out.len();
    for (&c, &j) in coef.iter().zip(cols) {
        let y = row(rows, j, k);
        out.iter_mut().zip(y).for_each(|(o, v)| *o += c * v * v);
    }
}

#[inline(always)]
fn add_projections_body<P: Primitives>(
    out: &mut [f64],
    coef: &[f64],
    cols: &[usize],
    rows: &[f64],
    v: &[f64],
) {
    let k = out.len();
    let (groups, singles) = grouped(cols.len());
    for p in groups {
        let ys = group_rows(rows, cols, p, k);
        let d = P::group_dots(ys, v);
        P::group_axpy(scaled(&coef[p..], d), ys, out);
    }
    for p in singles..cols.len() {
        let y = row(rows, cols[p], k);
        P::axpy(coef[p] * P::dot(y, v), y, out);
    }
}

#[inline(always)]
fn row_dots_body<P: Primitives>(out: &mut [f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    let k = v.len();
    let (groups, singles) = grouped(cols.len());
    for p in groups {
        let d = P::group_dots(group_rows(rows, cols, p, k), v);
        out[p..p + GROUP].copy_from_slice(&d);
    }
    for p in singles..cols.len() {
        out[p] = P::dot(row(rows, cols[p], k), v);
    }
}

/// The two sums a CG row starts from, in one pass over the gathered rows.
pub struct RowSums<'a> {
    pub rhs: &'a mut [f64],
    pub product: &'a mut [f64],
}

#[inline(always)]
fn add_row_sums_body<P: Primitives>(
    sums: RowSums<'_>,
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[f64],
    x: &[f64],
) {
    let k = x.len();
    let (groups, singles) = grouped(cols.len());
    for p in groups {
        let ys = group_rows(rows, cols, p, k);
        let d = P::group_dots(ys, x);
        P::group_axpy(group_of(&t[p..]), ys, sums.rhs);
        P::group_axpy(scaled(&c[p..], d), ys, sums.product);
    }
    for p in singles..cols.len() {
        let y = row(rows, cols[p], k);
        P::axpy(t[p], y, sums.rhs);
        P::axpy(c[p] * P::dot(y, x), y, sums.product);
    }
}

/// Two builds of each kernel, and the dispatch between them.
macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident, $wide:ident, $body:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        fn $wide($($arg: $ty),*) -> $ret {
            $body::<avx2::Avx2>($($arg),*)
        }

        $(#[$doc])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if avx2::available() {
                // SAFETY: the CPU has the features $wide was compiled for.
                return unsafe { $wide($($arg),*) };
            }
            $body::<Portable>($($arg),*)
        }
    };
}

dispatched!(
    /// a . b.
    dot, dot_wide, dot_body, (a: &[f64], b: &[f64]) -> f64
);
dispatched!(
    /// `row_dots` on 4 lanes.
    row_dots_lanes, row_dots_wide, row_dots_body,
    (out: &mut [f64], cols: &[usize], rows: &[f64], v: &[f64]) -> ()
);
dispatched!(
    /// out += sum_p coef[p] y_cols[p].
    add_rows, add_rows_wide, add_rows_body,
    (out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) -> ()
);
dispatched!(
    /// out += sum_p coef[p] y_cols[p] o y_cols[p] (a Gram's diagonal).
    add_squares, add_squares_wide, add_squares_body,
    (out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) -> ()
);
dispatched!(
    /// `add_projections` on 4 lanes.
    add_projections_lanes, add_projections_wide, add_projections_body,
    (out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64], v: &[f64]) -> ()
);
dispatched!(
    /// `add_row_sums` on 4 lanes.
    add_row_sums_lanes, add_row_sums_wide, add_row_sums_body,
    (sums: RowSums<'_>, c: &[f64], t: &[f64], cols: &[usize], rows: &[f64], x: &[f64]) -> ()
);

/// Whether the register-resident AVX-512 kernels take rank k here.
#[cfg(target_arch = "x86_64")]
fn resident(k: usize) -> bool {
    avx512::covers(k) && avx512::available()
}

/// out[p] = y_cols[p] . v (out as long as cols). Per entry 2k flops and
/// one gathered row of k doubles read.
pub fn row_dots(out: &mut [f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if resident(v.len()) {
        // SAFETY: resident() checked the CPU.
        return unsafe { avx512::row_dots(out, cols, rows, v) };
    }
    row_dots_lanes(out, cols, rows, v)
}

/// out += sum_p coef[p] (y_cols[p] . v) y_cols[p] (a Gram times v). Per
/// entry 4k flops and one gathered row of k doubles read.
pub fn add_projections(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if resident(out.len()) {
        // SAFETY: resident() checked the CPU.
        return unsafe { avx512::add_projections(out, coef, cols, rows, v) };
    }
    add_projections_lanes(out, coef, cols, rows, v)
}

/// rhs += sum_p t_p y and product += sum_p c_p (y . x) y over y =
/// y_cols[p]: one pass for both. Per entry 6k flops and one gathered row of
/// k doubles read.
pub fn add_row_sums(
    sums: RowSums<'_>,
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[f64],
    x: &[f64],
) {
    #[cfg(target_arch = "x86_64")]
    if resident(x.len()) {
        // SAFETY: resident() checked the CPU.
        return unsafe { avx512::add_row_sums(sums.rhs, sums.product, c, t, cols, rows, x) };
    }
    add_row_sums_lanes(sums, c, t, cols, rows, x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize, seed: usize) -> Vec<f64> {
        (0..len)
            .map(|i| (((i + seed) * 7919) % 101) as f64 / 50.0 - 1.0)
            .collect()
    }

    #[test]
    fn kernels_match_plain_sums() {
        // k = 13 exercises the tails; 7 entries one group plus singles.
        let k = 13;
        let rows = sample(9 * k, 0);
        let cols = [4usize, 0, 2, 8, 5, 1, 7];
        let coef = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0, 3.0];
        let t = [1.0, 0.5, -2.0, 0.0, 1.5, -1.0, 0.25];
        let v = sample(k, 3);
        let y = |j: usize, d: usize| rows[j * k + d];
        let mut fitted = vec![0.0; cols.len()];
        row_dots(&mut fitted, &cols, &rows, &v);
        for (p, &j) in cols.iter().enumerate() {
            let expected: f64 = (0..k).map(|e| y(j, e) * v[e]).sum();
            assert!((fitted[p] - expected).abs() < 1e-12);
        }
        let mut out = [
            vec![0.0; k],
            vec![0.0; k],
            vec![0.0; k],
            vec![0.0; k],
            vec![0.0; k],
        ];
        add_rows(&mut out[0], &coef, &cols, &rows);
        add_squares(&mut out[1], &coef, &cols, &rows);
        add_projections(&mut out[2], &coef, &cols, &rows, &v);
        let [_, _, _, rhs, product] = &mut out;
        add_row_sums(RowSums { rhs, product }, &coef, &t, &cols, &rows, &v);
        for d in 0..k {
            let mut expected = [0.0; 5];
            for ((&c, &tp), &j) in coef.iter().zip(&t).zip(&cols) {
                let yv: f64 = (0..k).map(|e| y(j, e) * v[e]).sum();
                expected[0] += c * y(j, d);
                expected[1] += c * y(j, d) * y(j, d);
                expected[2] += c * yv * y(j, d);
                expected[3] += tp * y(j, d);
                expected[4] += c * yv * y(j, d);
            }
            for (o, e) in out.iter().zip(expected) {
                assert!((o[d] - e).abs() < 1e-12, "{} vs {e}", o[d]);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn both_builds_give_the_same_bits() {
        if !avx2::available() {
            return;
        }
        for k in [1, 4, 8, 13, 64] {
            let rows = sample(9 * k, 1);
            let cols = [4usize, 0, 2, 8, 5, 1, 7];
            let coef = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0, 3.0];
            let v = sample(k, 5);
            let (mut wide, mut plain) = (sample(k, 2), sample(k, 2));
            // SAFETY: available() checked the CPU.
            unsafe { add_projections_wide(&mut wide, &coef, &cols, &rows, &v) };
            add_projections_body::<Portable>(&mut plain, &coef, &cols, &rows, &v);
            assert_eq!(wide, plain, "k = {k}");
            let a = &rows[..k];
            // SAFETY: as above.
            assert_eq!(unsafe { dot_wide(a, &v) }, dot_body::<Portable>(a, &v));
            let (mut wide, mut plain) = (sample(k, 2), sample(k, 2));
            // SAFETY: as above.
            unsafe { add_rows_wide(&mut wide, &coef, &cols, &rows) };
            add_rows_body::<Portable>(&mut plain, &coef, &cols, &rows);
            assert_eq!(wide, plain, "k = {k}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn resident_kernels_give_the_same_bits() {
        if !avx512::available() {
            return;
        }
        for k in [8, 16, 24, 64] {
            let rows = sample(9 * k, 1);
            let cols = [4usize, 0, 2, 8, 5, 1, 7];
            let c = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0, 3.0];
            let t = [1.0, 0.5, -2.0, 0.0, 1.5, -1.0, 0.25];
            let v = sample(k, 5);
            let (mut fast, mut plain) = (sample(k, 2), sample(k, 2));
            // SAFETY: available() checked the CPU.
            unsafe { avx512::add_projections(&mut fast, &c, &cols, &rows, &v) };
            add_projections_body::<Portable>(&mut plain, &c, &cols, &rows, &v);
            assert_eq!(fast, plain, "k = {k}");
            let (mut fast_rhs, mut fast_product) = (sample(k, 3), sample(k, 4));
            let (mut rhs, mut product) = (fast_rhs.clone(), fast_product.clone());
            // SAFETY: as above.
            unsafe {
                avx512::add_row_sums(&mut fast_rhs, &mut fast_product, &c, &t, &cols, &rows, &v)
            };
            let sums = RowSums {
                rhs: &mut rhs,
                product: &mut product,
            };
            add_row_sums_body::<Portable>(sums, &c, &t, &cols, &rows, &v);
            assert_eq!((fast_rhs, fast_product), (rhs, product), "k = {k}");
            let (mut fast, mut plain) = (vec![0.0; cols.len()], vec![0.0; cols.len()]);
            // SAFETY: as above.
            unsafe { avx512::row_dots(&mut fast, &cols, &rows, &v) };
            row_dots_body::<Portable>(&mut plain, &cols, &rows, &v);
            assert_eq!(fast, plain, "k = {k}");
        }
    }
}
