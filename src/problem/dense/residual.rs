//! The dense objective's pass: sum_ij W_ij (M_ij - (U V^T)_ij)^2, tile by
//! tile (no n x m temporary).
//!
//! Each row's share is summed along the row in column order, whatever the
//! memory order of W and M: column-major tiles add a column to all the
//! tile's row sums at once (one vector lane per row), row-major tiles run
//! four rows side by side. Either way no running sum waits on the one
//! before it, and every layout, W = None and NaN read as missing give the
//! same bits. The row sums are added in row order within fixed 512-row
//! tasks, the tasks' totals in order: the same on any number of threads.

use super::DenseProblem;
use crate::error::Result;
use crate::kernels::blocking::{block_list, blocks, map_blocks_with, runs};
use crate::kernels::workspaces::Workspaces;
use crate::memory::try_zeros;
use crate::scaling::Multiplier;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use std::ops::Range;

/// Rows a row-major block runs side by side: enough independent sums to
/// hide the latency of an addition.
const ROWS_TOGETHER: usize = 4;
/// Rows of a parallel task, whose row sums it adds in order: fixed, as it
/// sets the sum's grouping.
const PASS_ROWS: usize = 512;
/// Entries of the residual tile (256 KiB, half of the smallest L2 in view).
const TILE: usize = 32 * 1024;
/// A row-major tile's width: rows read in runs of 8 KiB, long enough for
/// the hardware prefetcher.
const ROW_MAJOR_WIDTH: usize = 1024;

impl DenseProblem<'_> {
    /// sum_ij W_ij (M_ij - (U V^T)_ij)^2. Flops: 2 n m k + 4 n m; memory
    /// traffic: W and M read once, each in runs of at least 4 KiB where the
    /// matrix has them. Extra memory: one TILE-entry tile per thread, kept
    /// in `kept`.
    pub(crate) fn weighted_residual(
        &self,
        u: MatRef<'_, f64>,
        v: MatRef<'_, f64>,
        par: Par,
        kept: &Workspaces<(usize, usize), Mat<f64>>,
    ) -> Result<f64> {
        let (n, m) = (self.n_rows(), self.n_cols());
        let row_blocks = block_list(n, PASS_ROWS)?;
        // The tile takes W's orientation (M's without weights), so the
        // pass reads all three along contiguous memory: whole task rows
        // tall for column-major input, whole runs of rows wide for
        // row-major.
        let row_major = self.weights.unwrap_or(self.data).col_stride() == 1;
        let (tile_rows, tile_cols) = if row_major {
            let width = m.clamp(1, ROW_MAJOR_WIDTH);
            ((TILE / width).min(PASS_ROWS).min(n).max(1), width)
        } else {
            let height = n.clamp(1, PASS_ROWS);
            (height, (TILE / height).min(m).max(1))
        };
        let shape = if row_major {
            (tile_cols, tile_rows)
        } else {
            (tile_rows, tile_cols)
        };
        let make = || try_zeros(shape.0, shape.1, "a tile of the residual");
        kept.stock(shape, runs(par, row_blocks.len()), make)?;
        let workspace = || kept.lend(shape, make);
        let partial = map_blocks_with(par, &row_blocks, workspace, |tile, rows| {
            let mut sums = [0.0; PASS_ROWS];
            for part in blocks(rows.len(), tile_rows) {
                let rows = rows.start + part.start..rows.start + part.end;
                for cols in blocks(m, tile_cols) {
                    let tile = if row_major {
                        tile.as_mut().transpose_mut()
                    } else {
                        tile.as_mut()
                    };
                    let mut fitted = tile.submatrix_mut(0, 0, rows.len(), cols.len());
                    let ub = u.subrows(rows.start, rows.len());
                    let vb = v.subrows(cols.start, cols.len());
                    // -(U V^T) exactly, so M + it rounds once, as M - U V^T.
                    matmul(
                        fitted.as_mut(),
                        Accum::Replace,
                        ub,
                        vb.transpose(),
                        -1.0,
                        Par::Seq,
                    );
                    let sums = &mut sums[part.clone()];
                    self.add_row_residuals(&rows, cols, fitted.as_ref(), sums);
                }
            }
            Ok(sums[..rows.len()].iter().sum::<f64>())
        })?;
        Ok(partial.iter().sum())
    }

    /// sums[r] += sum_j W_ij (M_ij - f_ij)^2 over the block's columns in
    /// order, i = rows.start + r, `negated` holding -f.
    fn add_row_residuals(
        &self,
        rows: &Range<usize>,
        cols: Range<usize>,
        negated: MatRef<'_, f64>,
        sums: &mut [f64],
    ) {
        let (sw, sm) = (self.scale.weights(), self.scale.values());
        let missing = self.missing;
        let shift = self.shift.map(|s| &s[cols.clone()]);
        let data = self.data_block(rows.clone(), cols.clone());
        let weights = self.weights_block(rows.clone(), cols.clone());
        // The residual's share, 0 for a missing entry (its residual is NaN
        // from M's NaN): as a value, not a branch, so the loops vectorize.
        // `w` is the solvers' weight (1 without weights).
        let unit = sm.is_one();
        let term = |w: f64, value: f64, c: usize, f: f64| {
            let value = if unit {
                value
            } else {
                sm.apply_saturating(value)
            };
            let value = value - shift.map_or(0.0, |s| s[c]);
            let e = value + f;
            let t = w * e * e;
            if missing && e.is_nan() {
                0.0
            } else {
                t
            }
        };
        // The common case (data of moderate magnitude, nothing shifted or
        // missing) as plain arithmetic on slices, the same bits as `term`.
        let plain = unit && sw.is_one() && shift.is_none() && !missing;
        let terms = Terms { term, sw, plain };
        let tile = Tile {
            data,
            weights,
            negated,
        };
        if negated.row_stride() == 1 {
            terms.by_columns(&tile, sums);
        } else {
            terms.by_rows(&tile, sums);
        }
    }
}

/// One tile: the caller's M and W, and -f, rows x cols each.
struct Tile<'a> {
    data: MatRef<'a, f64>,
    weights: Option<MatRef<'a, f64>>,
    negated: MatRef<'a, f64>,
}

impl<'a> Tile<'a> {
    /// Rows `first..first + ROWS_TOGETHER` of -f, M and W as slices, where
    /// every one is contiguous.
    fn row_slices(&self, first: usize) -> Option<[RowSlices<'a>; ROWS_TOGETHER]> {
        let mut rows = [(&[][..], &[][..], None); ROWS_TOGETHER];
        for (t, row) in rows.iter_mut().enumerate() {
            let r = first + t;
            let w = match self.weights {
                Some(w) => Some(row_slice(w, r)?),
                None => None,
            };
            *row = (row_slice(self.negated, r)?, row_slice(self.data, r)?, w);
        }
        Some(rows)
    }
}

/// -f, M and W of one row.
type RowSlices<'a> = (&'a [f64], &'a [f64], Option<&'a [f64]>);

/// The share of one entry: `term(w, m, c, -f)` with the solvers' weight
/// `w` (W times `sw`, 1 without weights); `plain` where it reduces to
/// w (m - f)^2 on the caller's values.
struct Terms<T> {
    term: T,
    sw: Multiplier,
    plain: bool,
}

impl<T: Fn(f64, f64, usize, f64) -> f64> Terms<T> {
    /// The solvers' weight of the tile's entry (r, c).
    fn weight(&self, tile: &Tile<'_>, r: usize, c: usize) -> f64 {
        tile.weights.map_or(1.0, |w| self.sw.apply(w[(r, c)]))
    }

    /// Column by column, each column's entries added to their rows' sums.
    fn by_columns(&self, tile: &Tile<'_>, sums: &mut [f64]) {
        let (term, sw) = (&self.term, self.sw);
        for c in 0..tile.negated.ncols() {
            let f = column(tile.negated, c).expect("a column-major tile");
            let m = column(tile.data, c);
            let w = tile.weights.map(|w| column(w, c));
            match (m, w) {
                (Some(m), Some(Some(w))) if self.plain => {
                    let entries = sums.iter_mut().zip(w).zip(m.iter().zip(f));
                    entries.for_each(|((s, &w), (&m, &f))| {
                        let e = m + f;
                        *s += w * e * e;
                    });
                }
                (Some(m), None) if self.plain => {
                    let entries = sums.iter_mut().zip(m.iter().zip(f));
                    entries.for_each(|(s, (&m, &f))| {
                        let e = m + f;
                        *s += 1.0 * e * e;
                    });
                }
                (Some(m), Some(Some(w))) => {
                    for (r, s) in sums.iter_mut().enumerate() {
                        *s += term(sw.apply(w[r]), m[r], c, f[r]);
                    }
                }
                (Some(m), None) => {
                    for (r, s) in sums.iter_mut().enumerate() {
                        *s += term(1.0, m[r], c, f[r]);
                    }
                }
                _ => {
                    for (r, s) in sums.iter_mut().enumerate() {
                        *s += term(self.weight(tile, r, c), tile.data[(r, c)], c, f[r]);
                    }
                }
            }
        }
    }

    /// ROWS_TOGETHER rows at a time, each row's entries in column order.
    fn by_rows(&self, tile: &Tile<'_>, sums: &mut [f64]) {
        let (term, sw) = (&self.term, self.sw);
        let cols = tile.negated.ncols();
        let mut done = 0;
        while done + ROWS_TOGETHER <= sums.len() {
            let Some(rows) = tile.row_slices(done) else {
                break;
            };
            let together = &mut sums[done..done + ROWS_TOGETHER];
            for c in 0..cols {
                for (s, (f, m, w)) in together.iter_mut().zip(&rows) {
                    *s += term(w.map_or(1.0, |w| sw.apply(w[c])), m[c], c, f[c]);
                }
            }
            done += ROWS_TOGETHER;
        }
        for (r, s) in sums.iter_mut().enumerate().skip(done) {
            for c in 0..cols {
                let (w, m) = (self.weight(tile, r, c), tile.data[(r, c)]);
                *s += term(w, m, c, tile.negated[(r, c)]);
            }
        }
    }
}

/// Row r of x as a slice, where its entries are contiguous.
fn row_slice<'a>(x: MatRef<'a, f64>, r: usize) -> Option<&'a [f64]> {
    x.row(r).try_as_row_major().map(|x| x.as_slice())
}

/// Column c of x as a slice, where its entries are contiguous.
fn column<'a>(x: MatRef<'a, f64>, c: usize) -> Option<&'a [f64]> {
    x.col(c).try_as_col_major().map(|x| x.as_slice())
}

#[cfg(test)]
mod tests;
