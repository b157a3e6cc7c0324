//! The kernels against plain sums, and each build against the others,
//! bit for bit.

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
        unsafe { avx512::add_row_sums(&mut fast_rhs, &mut fast_product, &c, &t, &cols, &rows, &v) };
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
    // Any width up to 135: whole chunks and a masked last one.
    for k in [1, 3, 8, 13, 64, 74, 128, 135] {
        let rows = sample(9 * k, 1);
        let cols = [4usize, 0, 2, 8, 5, 1, 7];
        let c = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0, 3.0];
        let (mut fast, mut plain) = (sample(k, 2), sample(k, 2));
        // SAFETY: available() checked the CPU.
        unsafe { avx512::add_rows(&mut fast, &c, &cols, &rows) };
        add_rows_body::<Portable>(&mut plain, &c, &cols, &rows);
        assert_eq!(fast, plain, "k = {k}");
    }
}

#[test]
fn narrow_rows_give_the_bits_of_their_widened_factor() {
    // k = 13 takes the reference path everywhere; 8 and 64 the AVX-512
    // build where the CPU has it.
    for k in [8, 13, 64] {
        let narrow: Vec<f32> = sample(9 * k, 1).iter().map(|&v| v as f32 * 1.1).collect();
        let wide: Vec<f64> = narrow.iter().map(|&v| f64::from(v)).collect();
        let cols = [4usize, 0, 2, 8, 5, 1, 7, 4, 3];
        let c = [0.5, -1.5, 2.0, 0.25, -0.75, 1.0, 3.0, -2.0, 0.125];
        let t = [1.0, 0.5, -2.0, 0.0, 1.5, -1.0, 0.25, 2.0, -0.5];
        let v = sample(k, 5);
        let (mut from_narrow, mut from_wide) = (sample(k, 2), sample(k, 2));
        add_projections_narrow(&mut from_narrow, &c, &cols, &narrow, &v);
        add_projections(&mut from_wide, &c, &cols, &wide, &v);
        assert_eq!(from_narrow, from_wide, "k = {k}");
        let (mut rhs_n, mut product_n) = (sample(k, 3), sample(k, 4));
        let (mut rhs_w, mut product_w) = (rhs_n.clone(), product_n.clone());
        let sums = RowSums {
            rhs: &mut rhs_n,
            product: &mut product_n,
        };
        add_row_sums_narrow(sums, &c, &t, &cols, &narrow, &v);
        let sums = RowSums {
            rhs: &mut rhs_w,
            product: &mut product_w,
        };
        add_row_sums(sums, &c, &t, &cols, &wide, &v);
        assert_eq!((rhs_n, product_n), (rhs_w, product_w), "k = {k}");
    }
}
