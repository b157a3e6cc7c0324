//! Copy a strided block into a row-major buffer. The batched CGLS walks rows
//! of W and M; for a column-major caller that is a transpose, which an
//! entry-by-entry copy does at a few hundred MB/s (it was 29 % of a SHARED_PCG
//! fit at k = 16). Tiles of TILE columns keep the source lines in L1 while
//! the rows advance, so both sides stream.

use faer::MatRef;

/// Columns per tile: 16 source cache lines (8 rows each) live at once.
const TILE: usize = 16;

/// dst[i * ncols + j] = src[(i, j)] for the r x c block `src`. Flops: none;
/// traffic: each entry read and written once.
pub fn copy_to_rows(src: MatRef<'_, f64>, dst: &mut [f64]) {
    let (r, c) = src.shape();
    let dst = &mut dst[..r * c];
    if src.col_stride() == 1 || r <= 1 {
        for (i, row) in dst.chunks_exact_mut(c.max(1)).enumerate().take(r) {
            match src.row(i).try_as_row_major() {
                Some(s) => row.copy_from_slice(s.as_slice()),
                None => row
                    .iter_mut()
                    .zip(src.row(i).iter())
                    .for_each(|(d, s)| *d = *s),
            }
        }
        return;
    }
    let mut columns: [&[f64]; TILE] = [&[]; TILE];
    for start in (0..c).step_by(TILE) {
        let width = TILE.min(c - start);
        let mut contiguous = true;
        for (t, col) in columns.iter_mut().enumerate().take(width) {
            match src.col(start + t).try_as_col_major() {
                Some(s) => *col = s.as_slice(),
                None => contiguous = false,
            }
        }
        for i in 0..r {
            let out = &mut dst[i * c + start..i * c + start + width];
            if contiguous {
                for (o, col) in out.iter_mut().zip(&columns[..width]) {
                    *o = col[i];
                }
            } else {
                for (t, o) in out.iter_mut().enumerate() {
                    *o = src[(i, start + t)];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn copies_any_layout_to_rows() {
        let a = Mat::from_fn(37, 53, |i, j| (i * 100 + j) as f64);
        let at = a.transpose().to_owned();
        for src in [a.as_ref(), at.transpose(), a.as_ref().subcols(3, 40)] {
            let (r, c) = src.shape();
            let mut dst = vec![f64::NAN; r * c];
            copy_to_rows(src, &mut dst);
            assert!((0..r).all(|i| (0..c).all(|j| dst[i * c + j] == src[(i, j)])));
        }
    }
}
