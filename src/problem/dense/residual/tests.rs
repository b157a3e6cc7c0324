use super::*;
use faer::Mat;

/// A reproducible value in [-1, 1) from (i, j, salt).
fn noise(i: usize, j: usize, salt: u64) -> f64 {
    let mut x = (i as u64) << 32 ^ (j as u64) ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn row_major(a: &Mat<f64>) -> Mat<f64> {
    // A column-major copy of the transpose: viewed transposed, row-major.
    Mat::from_fn(a.ncols(), a.nrows(), |j, i| a[(i, j)])
}

fn pass(problem: &DenseProblem<'_>, u: &Mat<f64>, v: &Mat<f64>, par: Par) -> f64 {
    let kept = Workspaces::default();
    problem
        .weighted_residual(u.as_ref(), v.as_ref(), par, &kept)
        .unwrap()
}

/// sum W (M - U V^T)^2 entry by entry.
fn direct(m: &Mat<f64>, w: Option<&Mat<f64>>, u: &Mat<f64>, v: &Mat<f64>) -> f64 {
    let mut sum = 0.0;
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            let f: f64 = (0..u.ncols()).map(|d| u[(i, d)] * v[(j, d)]).sum();
            let e = m[(i, j)] - f;
            sum += w.map_or(1.0, |w| w[(i, j)]) * e * e;
        }
    }
    sum
}

/// Shapes across the task and tile edges: 700 rows (one task of 512 and a
/// part), 1100 columns (a row-major tile of 1024 and a part), and thin ones.
const SHAPES: [(usize, usize); 4] = [(700, 1100), (3, 2000), (1, 5), (1300, 7)];

#[test]
fn every_layout_and_thread_count_gives_the_same_bits_as_a_direct_sum() {
    for (n, cols) in SHAPES {
        let k = 4;
        let m = Mat::from_fn(n, cols, |i, j| noise(i, j, 1));
        let w = Mat::from_fn(n, cols, |i, j| 1.5 + noise(i, j, 2));
        let u = Mat::from_fn(n, k, |i, d| noise(i, d, 3));
        let v = Mat::from_fn(cols, k, |j, d| noise(j, d, 4));
        let (mr, wr) = (row_major(&m), row_major(&w));
        let layouts = [
            DenseProblem::new(m.as_ref(), Some(w.as_ref())),
            DenseProblem::new(mr.transpose(), Some(wr.transpose())),
            DenseProblem::new(m.as_ref(), Some(wr.transpose())),
            DenseProblem::new(mr.transpose(), Some(w.as_ref())),
        ];
        let first = pass(&layouts[0], &u, &v, Par::Seq);
        let truth = direct(&m, Some(&w), &u, &v);
        assert!(
            ((first - truth) / truth).abs() < 1e-13,
            "{n} x {cols}: {first} against {truth}"
        );
        for (l, problem) in layouts.iter().enumerate() {
            for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
                let now = pass(problem, &u, &v, par);
                assert_eq!(
                    now.to_bits(),
                    first.to_bits(),
                    "{n} x {cols}, layout {l}, {par:?}"
                );
            }
        }
    }
}

#[test]
fn unit_weights_and_missing_entries_give_the_bits_of_their_explicit_weights() {
    for (n, cols) in SHAPES {
        let k = 3;
        let m = Mat::from_fn(n, cols, |i, j| noise(i, j, 5));
        let u = Mat::from_fn(n, k, |i, d| noise(i, d, 6));
        let v = Mat::from_fn(cols, k, |j, d| noise(j, d, 7));
        let ones = Mat::from_fn(n, cols, |_, _| 1.0);
        let unit = pass(&DenseProblem::new(m.as_ref(), None), &u, &v, Par::rayon(2));
        let explicit = pass(
            &DenseProblem::new(m.as_ref(), Some(ones.as_ref())),
            &u,
            &v,
            Par::Seq,
        );
        assert_eq!(unit.to_bits(), explicit.to_bits(), "{n} x {cols}: W = None");
        // Every third entry missing: NaN read as missing against weight 0 on
        // a finite value, in both layouts.
        let gone = |i: usize, j: usize| (i + 2 * j).is_multiple_of(3);
        let holes = Mat::from_fn(
            n,
            cols,
            |i, j| if gone(i, j) { f64::NAN } else { m[(i, j)] },
        );
        let zeroed = Mat::from_fn(n, cols, |i, j| if gone(i, j) { 0.0 } else { m[(i, j)] });
        let w = Mat::from_fn(n, cols, |i, j| if gone(i, j) { 0.0 } else { 1.0 });
        let want = pass(
            &DenseProblem::new(zeroed.as_ref(), Some(w.as_ref())),
            &u,
            &v,
            Par::Seq,
        );
        let holes_rows = row_major(&holes);
        for data in [holes.as_ref(), holes_rows.transpose()] {
            let missing = DenseProblem::new(data, None).with_missing_nan(true);
            let now = pass(&missing, &u, &v, Par::rayon(2));
            assert_eq!(
                now.to_bits(),
                want.to_bits(),
                "{n} x {cols}: NaN as missing"
            );
        }
    }
}
