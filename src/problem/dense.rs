//! Dense M and W as strided views of the caller's memory (no copy): a
//! row-major or column-major matrix with any leading dimension is just a
//! pair of strides. `w = None` means every weight is 1. Its products with
//! thin factors run block by block (no n x m temporary), over fixed row
//! blocks in parallel as the caller's `Par` says, each block sequential.

use crate::error::Result;
use crate::kernels::blocking::{
    block_list, blocks, map_blocks_with, stack_rows, COL_BLOCK, ROW_BLOCK,
};
use crate::memory::{try_filled, try_zeros};
use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatMut, MatRef, Par};
use std::ops::Range;

#[derive(Clone, Copy)]
pub struct DenseProblem<'a> {
    data: MatRef<'a, f64>,
    weights: Option<MatRef<'a, f64>>,
}

impl<'a> DenseProblem<'a> {
    /// `weights`, when given, must have the shape of `data`.
    pub fn new(data: MatRef<'a, f64>, weights: Option<MatRef<'a, f64>>) -> Self {
        if let Some(w) = weights {
            assert_eq!(w.shape(), data.shape(), "M and W must have one shape");
        }
        DenseProblem { data, weights }
    }

    pub fn n_rows(&self) -> usize {
        self.data.nrows()
    }

    pub fn n_cols(&self) -> usize {
        self.data.ncols()
    }

    /// The same problem seen from the other side (for the V half-step).
    pub fn transposed(&self) -> DenseProblem<'a> {
        DenseProblem {
            data: self.data.transpose(),
            weights: self.weights.map(|w| w.transpose()),
        }
    }

    pub fn data(&self) -> MatRef<'a, f64> {
        self.data
    }

    pub fn weights(&self) -> Option<MatRef<'a, f64>> {
        self.weights
    }

    /// True when W is all ones: every row then shares one Gram matrix.
    pub fn has_unit_weights(&self) -> bool {
        self.weights.is_none()
    }

    pub fn data_block(&self, rows: Range<usize>, cols: Range<usize>) -> MatRef<'a, f64> {
        self.data
            .subrows(rows.start, rows.len())
            .subcols(cols.start, cols.len())
    }

    /// The W block, or None for unit weights.
    pub fn weights_block(&self, rows: Range<usize>, cols: Range<usize>) -> Option<MatRef<'a, f64>> {
        self.weights.map(|w| {
            w.subrows(rows.start, rows.len())
                .subcols(cols.start, cols.len())
        })
    }

    /// out = (W o M)[rows, cols]. Flops: one multiply per entry.
    pub fn weighted_data_block(
        &self,
        rows: Range<usize>,
        cols: Range<usize>,
        mut out: MatMut<'_, f64>,
    ) {
        let m = self.data_block(rows.clone(), cols.clone());
        let Some(w) = self.weights_block(rows, cols) else {
            out.copy_from(m);
            return;
        };
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
    /// Extra memory: one ROW_BLOCK x COL_BLOCK block per thread.
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
            let mc = self.data_block(rows.clone(), cols);
            matmul(out, accum, mc, xc, 1.0, Par::Seq);
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

    /// sum_ij W_ij (M_ij - (U V^T)_ij)^2. Flops: 2 n m k + 3 n m.
    /// Partial sums per row block are added in block order (deterministic).
    /// Extra memory: one ROW_BLOCK x COL_BLOCK block per thread.
    pub fn weighted_residual(
        &self,
        u: MatRef<'_, f64>,
        v: MatRef<'_, f64>,
        par: Par,
    ) -> Result<f64> {
        let (n, m) = (self.n_rows(), self.n_cols());
        let row_blocks = block_list(n, ROW_BLOCK)?;
        let (rb, cb) = (ROW_BLOCK.min(n), COL_BLOCK.min(m));
        let workspace = || try_zeros(rb, cb, "a block of the residual");
        let partial = map_blocks_with(par, &row_blocks, workspace, |residual, rows| {
            let mut residual = residual.as_mut().subrows_mut(0, rows.len());
            let mut sum = 0.0;
            for cols in blocks(m, COL_BLOCK) {
                let mut r = residual.as_mut().subcols_mut(0, cols.len());
                r.copy_from(self.data_block(rows.clone(), cols.clone()));
                let ub = u.subrows(rows.start, rows.len());
                let vb = v.subrows(cols.start, cols.len());
                matmul(r.as_mut(), Accum::Add, ub, vb.transpose(), -1.0, Par::Seq);
                match self.weights_block(rows.clone(), cols.clone()) {
                    Some(w) => zip!(r.as_ref(), w).for_each(|unzip!(e, w)| sum += *w * *e * *e),
                    None => zip!(r.as_ref()).for_each(|unzip!(e)| sum += *e * *e),
                }
            }
            Ok(sum)
        })?;
        Ok(partial.iter().sum())
    }
}
