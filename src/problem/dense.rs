//! Dense M and W as strided views of the caller's memory (no copy): a
//! row-major or column-major matrix with any leading dimension is just a
//! pair of strides. `w = None` means every weight is 1. Its products with
//! thin factors run block by block (no n x m temporary), over fixed row
//! blocks in parallel as the caller's `Par` says, each block sequential.
//!
//! The solvers see W and M times the powers of two of `scale`
//! (`crate::scaling`): every accessor below but `data` and `weights` (the
//! caller's values, for validation) applies them, and with the unit scale
//! (data already of moderate magnitude) reads the caller's memory as it is.
//!
//! A half-step with offsets (`crate::offsets`) reads M minus a shift per
//! column, s_j: every accessor but `data` subtracts it after the scale.
//!
//! With NaN read as missing (WLRA_OPTION_MISSING_NAN, `with_missing_nan`)
//! an entry whose M is NaN has weight 0 and value 0 in every accessor but
//! `data` and `weights`: nothing is copied, each read checks M.

use crate::error::Result;
use crate::kernels::blocking::{
    block_list, blocks, map_blocks_with, stack_rows, COL_BLOCK, ROW_BLOCK,
};
use crate::kernels::transpose::copy_to_rows;
use crate::memory::{try_filled, try_zeros};
use crate::scaling::{Multiplier, Scale};
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatMut, MatRef, Par};
use std::ops::Range;

mod residual;

#[derive(Clone, Copy)]
pub struct DenseProblem<'a> {
    data: MatRef<'a, f64>,
    weights: Option<MatRef<'a, f64>>,
    scale: Scale,
    /// s_j subtracted from every M[i, j] the solvers see (offsets).
    shift: Option<&'a [f64]>,
    /// NaN in M is a missing entry (weight 0).
    missing: bool,
}

impl<'a> DenseProblem<'a> {
    /// `weights`, when given, must have the shape of `data`.
    pub fn new(data: MatRef<'a, f64>, weights: Option<MatRef<'a, f64>>) -> Self {
        if let Some(w) = weights {
            assert_eq!(w.shape(), data.shape(), "M and W must have one shape");
        }
        DenseProblem {
            data,
            weights,
            scale: Scale::unit(),
            shift: None,
            missing: false,
        }
    }

    /// The same problem with NaN in M read as missing (`on`): weight 0 and
    /// value 0 there in every accessor the solvers use.
    pub(crate) fn with_missing_nan(&self, on: bool) -> DenseProblem<'a> {
        DenseProblem {
            missing: on,
            ..*self
        }
    }

    /// Whether NaN in M is read as missing.
    pub(crate) fn missing_nan(&self) -> bool {
        self.missing
    }

    /// Whether entry (i, j) is missing (NaN in M, read as missing).
    #[inline(always)]
    fn is_missing(&self, i: usize, j: usize) -> bool {
        self.missing && self.data[(i, j)].is_nan()
    }

    /// W[i, j] as the caller gave it (1 for unit weights), 0 where M is
    /// missing.
    #[inline]
    pub(crate) fn caller_weight(&self, i: usize, j: usize) -> f64 {
        if self.is_missing(i, j) {
            return 0.0;
        }
        self.weights.map_or(1.0, |w| w[(i, j)])
    }

    /// The same problem with s_j (in the solvers' units, one per column)
    /// subtracted from every M[i, j] the solvers read.
    pub(crate) fn with_column_shift<'s>(&self, shift: &'s [f64]) -> DenseProblem<'s>
    where
        'a: 's,
    {
        assert_eq!(shift.len(), self.n_cols());
        DenseProblem {
            shift: Some(shift),
            ..*self
        }
    }

    /// The shift per column, if any.
    pub(crate) fn column_shift(&self) -> Option<&'a [f64]> {
        self.shift
    }

    /// The same problem read through the scale its largest weight and its
    /// largest |M| where W > 0 call for. One pass over W and M.
    pub(crate) fn normalized(&self) -> DenseProblem<'a> {
        let (weight, value) = self.largest_magnitudes();
        self.with_scale(Scale::for_largest(weight, value))
    }

    /// The same problem read through `scale`.
    pub(crate) fn with_scale(&self, scale: Scale) -> DenseProblem<'a> {
        DenseProblem { scale, ..*self }
    }

    /// The largest weight and the largest |M| where W > 0, in the caller's
    /// units. One pass over W and M, along their contiguous direction.
    pub(crate) fn largest_magnitudes(&self) -> (f64, f64) {
        let (mut weight, mut value) = (0.0f64, 0.0f64);
        let (n, m) = (self.n_rows(), self.n_cols());
        let by_rows = self.weights.unwrap_or(self.data).row_stride() != 1;
        let mut visit = |i: usize, j: usize| {
            let w = self.caller_weight(i, j);
            if w > 0.0 {
                weight = weight.max(w);
                value = value.max(self.data[(i, j)].abs());
            }
        };
        if by_rows {
            (0..n).for_each(|i| (0..m).for_each(|j| visit(i, j)));
        } else {
            (0..m).for_each(|j| (0..n).for_each(|i| visit(i, j)));
        }
        (weight, value)
    }

    /// How the values the solvers see relate to the caller's.
    pub(crate) fn scale(&self) -> Scale {
        self.scale
    }

    pub fn n_rows(&self) -> usize {
        self.data.nrows()
    }

    pub fn n_cols(&self) -> usize {
        self.data.ncols()
    }

    /// The same problem seen from the other side (for the V half-step);
    /// a column shift does not carry over (it is one half-step's).
    pub fn transposed(&self) -> DenseProblem<'a> {
        DenseProblem {
            data: self.data.transpose(),
            weights: self.weights.map(|w| w.transpose()),
            scale: self.scale,
            shift: None,
            missing: self.missing,
        }
    }

    /// M as the caller gave it (unscaled): for validation only.
    pub fn data(&self) -> MatRef<'a, f64> {
        self.data
    }

    /// W as the caller gave it (unscaled): for validation only.
    pub fn weights(&self) -> Option<MatRef<'a, f64>> {
        self.weights
    }

    /// The solver's W[i, j] (1 for unit weights). Always inlined: the
    /// whole-matrix passes (weight sums, `has_unweighted_entry`) call it per
    /// entry, and a call per entry cost a 4000 x 4000 fit 5 % (issue 25's
    /// acceptance 6).
    #[inline(always)]
    pub(crate) fn weight(&self, i: usize, j: usize) -> f64 {
        if self.is_missing(i, j) {
            return 0.0;
        }
        self.weights
            .map_or(1.0, |w| self.scale.weights().apply(w[(i, j)]))
    }

    /// The solver's M[i, j].
    #[inline]
    pub fn value(&self, i: usize, j: usize) -> f64 {
        if self.is_missing(i, j) {
            return 0.0;
        }
        let m = self.scale.values().apply_saturating(self.data[(i, j)]);
        self.shift.map_or(m, |s| m - s[j])
    }

    /// M[rows, cols] in the caller's units and the multiplier that takes
    /// them to the solver's (`Multiplier::apply_to` after a copy); the
    /// column shift, if any, is the reader's to subtract after.
    pub(crate) fn values_block(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
    ) -> (MatRef<'a, f64>, Multiplier) {
        (self.data_block(rows, cols), self.scale.values())
    }

    /// The solver's W[rows, cols] with rows contiguous in `out` (all 1 for
    /// unit weights).
    pub(crate) fn weights_rows_into(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        out: &mut [f64],
    ) {
        let len = rows.len() * cols.len();
        match self.weights_block(rows.clone(), cols.clone()) {
            Some(w) => {
                copy_to_rows(w, out);
                self.scale.weights().apply_to(&mut out[..len]);
            }
            None => out[..len].fill(1.0),
        }
        if self.missing {
            let width = cols.len();
            for (r, i) in rows.enumerate() {
                for (c, j) in cols.clone().enumerate() {
                    if self.data[(i, j)].is_nan() {
                        out[r * width + c] = 0.0;
                    }
                }
            }
        }
    }

    /// The solver's W[rows, cols], or None for unit weights: a view of the
    /// caller's memory at the unit scale, else a scaled copy in `scratch`
    /// (at least rows x cols), in W's orientation.
    pub(crate) fn scaled_weights_block<'s>(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        scratch: &'s mut [f64],
    ) -> Option<MatRef<'s, f64>>
    where
        'a: 's,
    {
        if self.missing {
            return Some(self.missing_weights_block(rows, cols, scratch));
        }
        let w = self.weights_block(rows, cols)?;
        let multiplier = self.scale.weights();
        if multiplier.is_one() {
            return Some(w);
        }
        let (r, c) = w.shape();
        let col_major = w.row_stride() == 1;
        let buf = &mut scratch[..r * c];
        let copy = if col_major {
            MatMut::from_column_major_slice_mut(buf, r, c)
        } else {
            MatMut::from_row_major_slice_mut(buf, r, c)
        };
        zip!(copy, w).for_each(|unzip!(o, w)| *o = multiplier.apply(*w));
        let buf = &scratch[..r * c];
        Some(if col_major {
            MatRef::from_column_major_slice(buf, r, c)
        } else {
            MatRef::from_row_major_slice(buf, r, c)
        })
    }

    /// `scaled_weights_block` with NaN in M read as missing: always a copy
    /// in `scratch`, row-major, 0 at the missing entries.
    fn missing_weights_block<'s>(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        scratch: &'s mut [f64],
    ) -> MatRef<'s, f64> {
        let (r, c) = (rows.len(), cols.len());
        let buf = &mut scratch[..r * c];
        for (a, i) in rows.enumerate() {
            for (b, j) in cols.clone().enumerate() {
                buf[a * c + b] = self.weight(i, j);
            }
        }
        MatRef::from_row_major_slice(&scratch[..r * c], r, c)
    }

    /// True when W is all ones: every row then shares one Gram matrix.
    pub(crate) fn has_unit_weights(&self) -> bool {
        self.weights.is_none() && !self.missing
    }

    /// The caller's M block (unscaled).
    fn data_block(&self, rows: Range<usize>, cols: Range<usize>) -> MatRef<'a, f64> {
        self.data
            .subrows(rows.start, rows.len())
            .subcols(cols.start, cols.len())
    }

    /// The caller's W block (unscaled), or None for unit weights.
    fn weights_block(&self, rows: Range<usize>, cols: Range<usize>) -> Option<MatRef<'a, f64>> {
        self.weights.map(|w| {
            w.subrows(rows.start, rows.len())
                .subcols(cols.start, cols.len())
        })
    }

    /// out = (W o M)[rows, cols]. Flops: one multiply per entry.
    pub(crate) fn weighted_data_block(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        mut out: MatMut<'_, f64>,
    ) {
        if self.missing {
            // Entry by entry through `weight` and `value`: 0 where missing.
            for (c, j) in cols.enumerate() {
                for (r, i) in rows.clone().enumerate() {
                    out[(r, c)] = self.weight(i, j) * self.value(i, j);
                }
            }
            return;
        }
        let m = self.data_block(rows.clone(), cols.clone());
        let (sw, sm) = (self.scale.weights(), self.scale.values());
        if let Some(shift) = self.shift {
            // Offsets' half-steps: entry by entry, O(rows cols) against the
            // O(rows cols k) the block is read for.
            let w = self.weights_block(rows, cols.clone());
            for (c, j) in cols.enumerate() {
                for i in 0..out.nrows() {
                    let wij = w.map_or(1.0, |w| sw.apply(w[(i, c)]));
                    out[(i, c)] = wij * (sm.apply_saturating(m[(i, c)]) - shift[j]);
                }
            }
            return;
        }
        let Some(w) = self.weights_block(rows, cols) else {
            out.copy_from(m);
            if !sm.is_one() {
                zip!(out).for_each(|unzip!(o)| *o = sm.apply_saturating(*o));
            }
            return;
        };
        if !self.scale.is_unit() {
            zip!(out, w, m).for_each(|unzip!(o, w, m)| *o = sw.apply(*w) * sm.apply_saturating(*m));
            return;
        }
        // Along W's contiguous direction, as slices the compiler vectorizes
        // (faer's zip! calls its closure per entry here, which cost as much as
        // the Gram GEMM at k = 16); `out` should share W's orientation.
        let (mut out, w, m) = if w.row_stride() == 1 {
            (out, w, m)
        } else {
            (out.transpose_mut(), w.transpose(), m.transpose())
        };
        for j in 0..out.ncols() {
            let (w, m) = (w.col(j), m.col(j));
            let mut o = out.as_mut().col_mut(j);
            match (
                o.as_mut().try_as_col_major_mut(),
                w.try_as_col_major(),
                m.try_as_col_major(),
            ) {
                (Some(o), Some(w), Some(m)) => {
                    let (o, w, m) = (o.as_slice_mut(), w.as_slice(), m.as_slice());
                    o.iter_mut()
                        .zip(w)
                        .zip(m)
                        .for_each(|((o, w), m)| *o = w * m);
                }
                _ => zip!(o, w, m).for_each(|unzip!(o, w, m)| *o = *w * *m),
            }
        }
    }

    /// (W o M) x, for x with n_cols rows. Flops: 2 * n * m * x.ncols().
    /// Extra memory: one ROW_BLOCK x COL_BLOCK block per thread, kept.
    pub fn weighted_data_times(&self, x: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
        let (n, m) = (self.n_rows(), self.n_cols());
        let width = x.ncols();
        assert_eq!(x.nrows(), m);
        let row_blocks = block_list(n, ROW_BLOCK)?;
        let block = ROW_BLOCK.min(n) * COL_BLOCK.min(m);
        let workspace = || try_filled(block, 0.0, "a block of W o M");
        let parts = map_blocks_with(par, &row_blocks, workspace, |wm, rows| {
            let mut out = try_zeros(rows.len(), width, "a block of a product")?;
            for (c, cols) in blocks(m, COL_BLOCK).enumerate() {
                self.weighted_data_block_times(rows, cols, x, wm, out.as_mut(), c == 0);
            }
            Ok(out)
        })?;
        stack_rows(&parts, n, width)
    }

    /// out (= or +=) (W o M)[rows, cols] x[cols, :], one block of
    /// `weighted_data_times`; `wm` (at least rows x cols) is scratch. Flops:
    /// 2 * rows * cols * x.ncols(). Called right after another pass over the same
    /// W block, it reads W from cache instead of memory.
    pub(crate) fn weighted_data_block_times(
        &self,
        rows: &Range<usize>,
        cols: Range<usize>,
        x: MatRef<'_, f64>,
        wm: &mut [f64],
        out: MatMut<'_, f64>,
        first: bool,
    ) {
        let accum = if first { Accum::Replace } else { Accum::Add };
        let xc = x.subrows(cols.start, cols.len());
        let Some(w) = self.weights() else {
            let mc = self.data_block(rows.clone(), cols.clone());
            if self.scale.is_unit() && self.shift.is_none() && !self.missing {
                matmul(out, accum, mc, xc, 1.0, Par::Seq);
            } else {
                let (r, c) = mc.shape();
                let mut block = MatMut::from_column_major_slice_mut(&mut wm[..r * c], r, c);
                self.weighted_data_block(rows.clone(), cols, block.as_mut());
                matmul(out, accum, block.as_ref(), xc, 1.0, Par::Seq);
            }
            return;
        };
        // The scratch block takes W's orientation, so forming W o M runs along
        // contiguous memory in all three.
        let (r, c) = (rows.len(), cols.len());
        let buf = &mut wm[..r * c];
        let mut block = if w.row_stride() == 1 {
            MatMut::from_column_major_slice_mut(buf, r, c)
        } else {
            MatMut::from_row_major_slice_mut(buf, r, c)
        };
        self.weighted_data_block(rows.clone(), cols, block.as_mut());
        matmul(out, accum, block.as_ref(), xc, 1.0, Par::Seq);
    }
}
