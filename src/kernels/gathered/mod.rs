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
fn row<E>(rows: &[E], j: usize, k: usize) -> &[E] {
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
    /// `add_rows` on 4 lanes.
    add_rows_lanes, add_rows_wide, add_rows_body,
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

/// out += sum_p coef[p] y_cols[p]. Per entry 2k flops and one gathered row
/// of k doubles read.
pub fn add_rows(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if avx512::sums_cover(out.len()) && avx512::available() {
        // SAFETY: available() checked the CPU.
        return unsafe { avx512::add_rows(out, coef, cols, rows) };
    }
    add_rows_lanes(out, coef, cols, rows)
}

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

/// Whether the float32-row kernels (`add_projections_narrow`,
/// `add_row_sums_narrow`) run at their speed for rank k here: the AVX-512
/// builds, which widen each row on load. Elsewhere they take the reference
/// path (`widened`), which allocates; the solvers then read float64 rows.
pub fn narrow_rows_fast(k: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    if resident(k) {
        return true;
    }
    let _ = k;
    false
}

/// The reference for float32 rows: the rows `cols` picks, widened (exactly)
/// in entry order, and their indices there (0, 1, ...). A float64 kernel over
/// them performs the operations it would over the whole widened factor.
fn widened(cols: &[usize], rows: &[f32], k: usize) -> (Vec<usize>, Vec<f64>) {
    let picked = cols.iter().flat_map(|&j| row(rows, j, k));
    (
        (0..cols.len()).collect(),
        picked.map(|&v| f64::from(v)).collect(),
    )
}

/// `add_projections` over float32 rows (issue 29's mixed precision): the
/// bits of `add_projections` over the widened factor, with half the bytes
/// gathered.
pub fn add_projections_narrow(
    out: &mut [f64],
    coef: &[f64],
    cols: &[usize],
    rows: &[f32],
    v: &[f64],
) {
    #[cfg(target_arch = "x86_64")]
    if resident(out.len()) {
        // SAFETY: resident() checked the CPU.
        return unsafe { avx512::add_projections(out, coef, cols, rows, v) };
    }
    let (picked, wide) = widened(cols, rows, out.len());
    add_projections_lanes(out, coef, &picked, &wide, v)
}

/// `add_row_sums` over float32 rows, as `add_projections_narrow`.
pub fn add_row_sums_narrow(
    sums: RowSums<'_>,
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[f32],
    x: &[f64],
) {
    #[cfg(target_arch = "x86_64")]
    if resident(x.len()) {
        // SAFETY: resident() checked the CPU.
        return unsafe { avx512::add_row_sums(sums.rhs, sums.product, c, t, cols, rows, x) };
    }
    let (picked, wide) = widened(cols, rows, x.len());
    add_row_sums_lanes(sums, c, t, &picked, &wide, x)
}

#[cfg(test)]
mod tests;
