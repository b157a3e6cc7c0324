//! Sums over rows of a factor picked by column index, the inner loops of
//! every sparse half-step: out += sum_p c_p y_j(p), out += sum_p c_p y_j o
//! y_j, out += sum_p c_p (y_j . v) y_j, and plain dot products. `rows` holds
//! the factor with each row contiguous (k entries at j * k).
//!
//! The loops are memory bound on gathered rows, so wide vectors pay: each
//! kernel is compiled twice, for the baseline target and with AVX2 + FMA
//! enabled, and the wide one is taken when the CPU has it. Rust never fuses
//! a * b + c on its own and the lane structure is fixed, so both builds give
//! the same bits.

/// Independent accumulators of `dot` (two AVX2 registers).
const LANES: usize = 8;

#[inline(always)]
fn dot_body(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let half = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (half[0] + half[2]) + (half[1] + half[3]) + tail
}

#[inline(always)]
fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    y.iter_mut().zip(x).for_each(|(o, v)| *o += alpha * v);
}

#[inline(always)]
fn add_rows_body(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    let k = out.len();
    for (&c, &j) in coef.iter().zip(cols) {
        axpy(c, &rows[j * k..(j + 1) * k], out);
    }
}

#[inline(always)]
fn add_squares_body(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64]) {
    let k = out.len();
    for (&c, &j) in coef.iter().zip(cols) {
        let y = &rows[j * k..(j + 1) * k];
        out.iter_mut().zip(y).for_each(|(o, v)| *o += c * v * v);
    }
}

#[inline(always)]
fn add_projections_body(out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64], v: &[f64]) {
    let k = out.len();
    for (&c, &j) in coef.iter().zip(cols) {
        let y = &rows[j * k..(j + 1) * k];
        axpy(c * dot_body(y, v), y, out);
    }
}

/// The two sums a CG row starts from, in one pass over the gathered rows.
pub struct RowSums<'a> {
    pub rhs: &'a mut [f64],
    pub product: &'a mut [f64],
}

#[inline(always)]
fn add_row_sums_body(
    sums: RowSums<'_>,
    c: &[f64],
    t: &[f64],
    cols: &[usize],
    rows: &[f64],
    x: &[f64],
) {
    let k = x.len();
    for ((&cp, &tp), &j) in c.iter().zip(t).zip(cols) {
        let y = &rows[j * k..(j + 1) * k];
        let projection = cp * dot_body(y, x);
        for ((r, p), v) in sums.rhs.iter_mut().zip(sums.product.iter_mut()).zip(y) {
            *r += tp * v;
            *p += projection * v;
        }
    }
}

/// Two builds of each kernel, and the dispatch between them.
macro_rules! dispatched {
    ($(#[$doc:meta])* $name:ident, $wide:ident, $body:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        fn $wide($($arg: $ty),*) -> $ret {
            $body($($arg),*)
        }

        $(#[$doc])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has the features $wide was compiled for.
                return unsafe { $wide($($arg),*) };
            }
            $body($($arg),*)
        }
    };
}

dispatched!(
    /// a . b.
    dot, dot_wide, dot_body, (a: &[f64], b: &[f64]) -> f64
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
    /// out += sum_p coef[p] (y_cols[p] . v) y_cols[p] (a Gram times v).
    add_projections, add_projections_wide, add_projections_body,
    (out: &mut [f64], coef: &[f64], cols: &[usize], rows: &[f64], v: &[f64]) -> ()
);
dispatched!(
    /// rhs += sum_p t_p y and product += sum_p c_p (y . x) y over
    /// y = y_cols[p]: one pass for both.
    add_row_sums, add_row_sums_wide, add_row_sums_body,
    (sums: RowSums<'_>, c: &[f64], t: &[f64], cols: &[usize], rows: &[f64], x: &[f64]) -> ()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_match_plain_sums() {
        let k = 13;
        let rows: Vec<f64> = (0..5 * k)
            .map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0)
            .collect();
        let (cols, coef) = ([4usize, 0, 2], [0.5, -1.5, 2.0]);
        let v: Vec<f64> = (0..k).map(|d| d as f64 / 7.0 - 0.8).collect();
        let y = |j: usize, d: usize| rows[j * k + d];
        let (mut sums, mut squares, mut projections) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        add_rows(&mut sums, &coef, &cols, &rows);
        add_squares(&mut squares, &coef, &cols, &rows);
        add_projections(&mut projections, &coef, &cols, &rows, &v);
        for d in 0..k {
            let mut expected = [0.0; 3];
            for (&c, &j) in coef.iter().zip(&cols) {
                let yv: f64 = (0..k).map(|e| y(j, e) * v[e]).sum();
                expected[0] += c * y(j, d);
                expected[1] += c * y(j, d) * y(j, d);
                expected[2] += c * yv * y(j, d);
            }
            assert!((sums[d] - expected[0]).abs() < 1e-13);
            assert!((squares[d] - expected[1]).abs() < 1e-13);
            assert!((projections[d] - expected[2]).abs() < 1e-12);
        }
        let a = &rows[..k];
        assert_eq!(dot(a, &v), dot_body(a, &v));
        assert!((dot(a, &v) - a.iter().zip(&v).map(|(x, y)| x * y).sum::<f64>()).abs() < 1e-13);
    }
}
