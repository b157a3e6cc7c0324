//! Layout copies: a strided block into a row-major buffer, and a factor to
//! and from rows-contiguous storage. Copy a strided block into a row-major buffer. The batched CGLS walks rows
//! of W and M; for a column-major caller that is a transpose, which an
//! entry-by-entry copy does at a few hundred MB/s (it was 29 % of a SHARED_PCG
//! fit at k = 16). Tiles of TILE columns keep the source lines in L1 while
//! the rows advance, so both sides stream.

use crate::error::Result;
use crate::kernels::blocking::{for_each_row_block, COPY_ROW_BLOCK};
use crate::memory::{checked_len, try_filled};
use faer::{MatMut, MatRef, Par};
use rayon::prelude::*;

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

/// A copy of `a` with each row contiguous (row i at [i * ncols..]): the
/// sparse paths gather whole rows of a factor by index. Transposed in
/// blocks of rows (in parallel as `par` says), so each block's writes stay
/// in cache.
pub fn rows_contiguous(a: MatRef<'_, f64>, par: Par) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    rows_contiguous_into(a, par, &mut out)?;
    Ok(out)
}

/// `rows_contiguous` into `out`, which ends with length n k: its
/// allocation is reused when large enough (no allocation, no page faults,
/// for a buffer kept from one half-step to the next), else replaced by a
/// fresh one of exactly n k.
pub fn rows_contiguous_into(a: MatRef<'_, f64>, par: Par, out: &mut Vec<f64>) -> Result<()> {
    let (n, k) = a.shape();
    let what = "a factor with contiguous rows";
    resize_reusing(out, checked_len(n, k, what)?, what)?;
    if k == 0 {
        return Ok(());
    }
    let copy = |(b, chunk): (usize, &mut [f64])| {
        let col_rows = a.subrows(b * COPY_ROW_BLOCK, chunk.len() / k);
        for d in 0..k {
            let rows = chunk.chunks_exact_mut(k);
            rows.zip(col_rows.col(d).iter())
                .for_each(|(row, v)| row[d] = *v);
        }
    };
    match par {
        Par::Seq => out
            .chunks_mut(COPY_ROW_BLOCK * k)
            .enumerate()
            .for_each(copy),
        Par::Rayon(_) => out
            .par_chunks_mut(COPY_ROW_BLOCK * k)
            .enumerate()
            .for_each(copy),
    }
    Ok(())
}

/// `buffer` at length `len`, its allocation kept when its capacity allows
/// (elements past its old length are zeroed), else a fresh zeroed one of
/// exactly `len`, fallibly. The contents are to be overwritten.
pub fn resize_reusing<T: Copy + Default>(
    buffer: &mut Vec<T>,
    len: usize,
    what: &str,
) -> Result<()> {
    if buffer.capacity() < len {
        // Freed first: the old and the new never both live.
        *buffer = Vec::new();
        *buffer = try_filled(len, T::default(), what)?;
    } else {
        buffer.resize(len, T::default());
    }
    Ok(())
}

/// `wide` rounded to float32 into `out` (the same length), its allocation
/// reused as `resize_reusing` does: the copy of a factor's rows that mixed
/// precision gathers (`solver::half_step::NarrowRows`). Whether every
/// entry is finite in float32 (false: some exceed its range, and the copy
/// must not be used). In parallel as `par` says; each entry is rounded on
/// its own, so the bits do not depend on it.
pub fn narrowed_into(wide: &[f64], par: Par, out: &mut Vec<f32>) -> Result<bool> {
    resize_reusing(out, wide.len(), "a float32 copy of a factor")?;
    const BLOCK: usize = 1 << 14;
    let narrow = |(to, from): (&mut [f32], &[f64])| {
        to.iter_mut().zip(from).for_each(|(t, f)| *t = *f as f32);
        to.iter().all(|t| t.is_finite())
    };
    Ok(match par {
        Par::Seq => out.chunks_mut(BLOCK).zip(wide.chunks(BLOCK)).all(narrow),
        Par::Rayon(_) => out
            .par_chunks_mut(BLOCK)
            .zip(wide.par_chunks(BLOCK))
            .map(narrow)
            .reduce(|| true, |a, b| a && b),
    })
}

/// The n x k matrix `out` whose row i is rows[i * k..(i + 1) * k], every
/// entry written: the inverse of `rows_contiguous`, by the same blocks.
pub fn from_rows_contiguous_into(rows: &[f64], out: MatMut<'_, f64>, par: Par) {
    let k = out.ncols();
    if k == 0 {
        return;
    }
    for_each_row_block(par, out, COPY_ROW_BLOCK, |b, mut block| {
        let block_rows = &rows[b * COPY_ROW_BLOCK * k..(b * COPY_ROW_BLOCK + block.nrows()) * k];
        for d in 0..k {
            let column = block.as_mut().col_mut(d);
            let values = block_rows.chunks_exact(k).map(|row| row[d]);
            column.iter_mut().zip(values).for_each(|(v, x)| *v = x);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// The n x k matrix whose row i is rows[i * k..(i + 1) * k]: the inverse of
    /// `rows_contiguous`, by the same blocks.
    fn from_rows_contiguous(rows: &[f64], n: usize, k: usize, par: Par) -> Result<faer::Mat<f64>> {
        let mut out = crate::memory::try_zeros(n, k, "a half-step's solution")?;
        from_rows_contiguous_into(rows, out.as_mut(), par);
        Ok(out)
    }

    #[test]
    fn row_major_copies_are_exact() {
        let (n, k) = (200, 7);
        let a = Mat::from_fn(n, k, |i, j| (i * 31 + j * 7) as f64 / 13.0 - 5.0);
        for par in [Par::Seq, Par::rayon(2)] {
            let rows = rows_contiguous(a.as_ref(), par).unwrap();
            assert!((0..n).all(|i| (0..k).all(|j| rows[i * k + j] == a[(i, j)])));
            assert!(from_rows_contiguous(&rows, n, k, par).unwrap() == a);
        }
    }

    #[test]
    fn a_reused_buffer_holds_each_copy_in_the_first_allocation() {
        let big = Mat::from_fn(300, 5, |i, j| (i * 5 + j) as f64);
        let small = Mat::from_fn(120, 5, |i, j| -((i * 5 + j) as f64));
        let mut buffer = Vec::new();
        rows_contiguous_into(big.as_ref(), Par::Seq, &mut buffer).unwrap();
        let first = buffer.as_ptr();
        for a in [&small, &big, &small] {
            rows_contiguous_into(a.as_ref(), Par::rayon(2), &mut buffer).unwrap();
            assert_eq!(buffer, rows_contiguous(a.as_ref(), Par::Seq).unwrap());
            assert_eq!(buffer.as_ptr(), first, "the buffer was reallocated");
        }
    }

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

    #[test]
    fn a_narrow_copy_rounds_each_entry_and_says_when_one_leaves_float32s_range() {
        let wide: Vec<f64> = (0..40_000).map(|i| (i as f64 - 2e4) / 3.0).collect();
        let mut narrow = Vec::new();
        for par in [Par::Seq, Par::rayon(2)] {
            assert!(narrowed_into(&wide, par, &mut narrow).unwrap());
            assert!(narrow.iter().zip(&wide).all(|(n, w)| *n == *w as f32));
        }
        let mut beyond = wide.clone();
        beyond[33_000] = 1e39;
        for par in [Par::Seq, Par::rayon(2)] {
            assert!(!narrowed_into(&beyond, par, &mut narrow).unwrap());
        }
    }
}
