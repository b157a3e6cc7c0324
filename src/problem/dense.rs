//! Dense M and W as strided views of the caller's memory (no copy): a
//! row-major or column-major matrix with any leading dimension is just a
//! pair of strides. `w = None` means every weight is 1.

use faer::{unzip, zip, MatMut, MatRef};
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
}
