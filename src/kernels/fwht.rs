//! In-place fast Walsh-Hadamard transform of every column of a matrix whose
//! row count is a power of two (unnormalized: H H = p I).
//!
//! Each column is contiguous; the butterflies of one stage touch pairs
//! (x[j], x[j + h]) in runs of h consecutive entries, which the compiler
//! vectorizes. Flops: p log2(p) additions per column; memory: log2(p)
//! passes over the column while it is cache resident (p <= 2^15 here).

use faer::MatMut;

/// Transform each column of `x` (p x c, p a power of two, column-major).
pub fn fwht_columns(mut x: MatMut<'_, f64>) {
    let p = x.nrows();
    assert!(
        p.is_power_of_two(),
        "fwht needs a power-of-two length, got {p}"
    );
    for j in 0..x.ncols() {
        let col = x
            .as_mut()
            .col_mut(j)
            .try_as_col_major_mut()
            .expect("fwht_columns needs contiguous columns")
            .as_slice_mut();
        fwht(col);
    }
}

/// Transform one vector of power-of-two length in place.
pub fn fwht(x: &mut [f64]) {
    let p = x.len();
    let mut h = 1;
    while h < p {
        for block in x.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let (s, d) = (*a + *b, *a - *b);
                *a = s;
                *b = d;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// H_p by its definition: H[i][j] = (-1)^popcount(i & j).
    fn hadamard_entry(i: usize, j: usize) -> f64 {
        if (i & j).count_ones().is_multiple_of(2) {
            1.0
        } else {
            -1.0
        }
    }

    #[test]
    fn fwht_matches_the_hadamard_matrix_product() {
        for p in [1usize, 2, 8, 64] {
            let x: Vec<f64> = (0..p).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0).collect();
            let mut y = x.clone();
            fwht(&mut y);
            for (i, yi) in y.iter().enumerate() {
                let expected: f64 = (0..p).map(|j| hadamard_entry(i, j) * x[j]).sum();
                assert_eq!(*yi, expected, "p = {p}, entry {i}");
            }
        }
    }

    #[test]
    fn fwht_twice_is_p_times_identity() {
        let p = 1024;
        let x: Vec<f64> = (0..p).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut y = x.clone();
        fwht(&mut y);
        fwht(&mut y);
        for (a, b) in x.iter().zip(&y) {
            assert!((a * p as f64 - b).abs() <= 1e-9, "{a} * {p} vs {b}");
        }
    }
}
