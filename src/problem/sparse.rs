//! Sparse input (C ABI 1.1, `wlra_fit_csr`): a CSR pattern with its own M
//! and W values, and one constant M and W everywhere outside it. Nothing of
//! size n_rows x n_cols is ever formed: every product and sum below splits
//! into a constant part, done with k-dimensional sums, and a correction over
//! the pattern.
//!
//! The pattern's values and the constants are stored as the solvers see
//! them, times the powers of two of `scale` (`crate::scaling`), fixed when
//! the problem is built: the copy of the caller's arrays is scaled in place.
//!
//! A half-step with offsets (`crate::offsets`) reads M minus a shift per
//! column s_j: the pattern's values through a shifted copy (`shifted_values`,
//! nnz doubles per half-step), m_default - s_j outside it.
//!
//! Building the problem (validating, copying, scaling) is `construct`'s.

mod construct;

mod pattern;

use super::ResidualScratch;
use crate::error::Result;
use crate::kernels::blocking::{map_blocks_with, map_blocks_with_into, ordered, runs, stack_rows};
use crate::kernels::gathered::{add_rows, row_dots};
use crate::kernels::gram::gram;
use crate::kernels::transpose::{rows_contiguous, rows_contiguous_into};
use crate::memory::{try_collect, try_filled, try_reserve};
use crate::scaling::Scale;
use faer::{Mat, MatRef, Par};
use pattern::Pattern;
use std::ops::Range;

/// A validated sparse problem, owning its pattern in both orientations.
pub struct SparseProblem {
    rows: Pattern,
    cols: Pattern,
    n_rows: usize,
    n_cols: usize,
    m_default: f64,
    w_default: f64,
    scale: Scale,
}

/// The caller's CSR arrays, checked once by `SparseProblem::new`.
pub struct CsrInput<'a> {
    pub n_rows: usize,
    pub n_cols: usize,
    pub row_ptr: &'a [i64],
    pub col_idx: &'a [i64],
    pub m_values: &'a [f64],
    pub w_values: Option<&'a [f64]>,
    pub m_default: f64,
    pub w_default: f64,
}

impl SparseProblem {
    /// The pattern's entries (row, column, m, w), rows in order, in the
    /// solvers' units.
    #[cfg(feature = "mpi")]
    pub(crate) fn entries(&self) -> impl Iterator<Item = (usize, usize, f64, f64)> + '_ {
        let p = &self.rows;
        (0..self.n_rows).flat_map(move |i| p.row(i).map(move |q| (i, p.idx[q], p.m[q], p.w[q])))
    }

    /// Give weight 0 to every pattern entry (i, j) with `drop(i, j)`, in
    /// both orientations (held-out folds). Values stay.
    pub(crate) fn zero_weights_where(&mut self, drop: impl Fn(usize, usize) -> bool) {
        for i in 0..self.n_rows {
            for p in self.rows.row(i) {
                if drop(i, self.rows.idx[p]) {
                    self.rows.w[p] = 0.0;
                }
            }
        }
        for j in 0..self.n_cols {
            for p in self.cols.row(j) {
                if drop(self.cols.idx[p], j) {
                    self.cols.w[p] = 0.0;
                }
            }
        }
    }

    pub fn view(&self) -> SparseView<'_> {
        SparseView {
            pattern: &self.rows,
            n_rows: self.n_rows,
            n_cols: self.n_cols,
            m_default: self.m_default,
            w_default: self.w_default,
            other: &self.cols,
            scale: self.scale,
            shift: None,
            shifted: None,
        }
    }
}

/// The sparse problem seen from one side (rows of `pattern`).
#[derive(Clone, Copy)]
pub struct SparseView<'a> {
    pattern: &'a Pattern,
    other: &'a Pattern,
    n_rows: usize,
    n_cols: usize,
    m_default: f64,
    w_default: f64,
    scale: Scale,
    /// s_j subtracted from every M[i, j] the solvers see (offsets), and
    /// the pattern's values with it subtracted.
    shift: Option<&'a [f64]>,
    shifted: Option<&'a [f64]>,
}

impl<'a> SparseView<'a> {
    /// The pattern's values minus `shift` (one per column, the solvers'
    /// units), in pattern order, for `with_column_shift`. O(nnz).
    pub(crate) fn shifted_values(&self, shift: &[f64]) -> Result<Vec<f64>> {
        let p = self.pattern;
        try_collect(
            p.m.iter().zip(&p.idx).map(|(m, &j)| m - shift[j]),
            "the data minus the offsets",
        )
    }

    /// The same problem with s_j subtracted from every M[i, j] the solvers
    /// read; `shifted` is `shifted_values(shift)`.
    pub(crate) fn with_column_shift<'s>(
        &self,
        shift: &'s [f64],
        shifted: &'s [f64],
    ) -> SparseView<'s>
    where
        'a: 's,
    {
        assert_eq!(shift.len(), self.n_cols);
        assert_eq!(shifted.len(), self.pattern.m.len());
        SparseView {
            shift: Some(shift),
            shifted: Some(shifted),
            ..*self
        }
    }

    /// The shift per column, if any.
    pub(crate) fn column_shift(&self) -> Option<&'a [f64]> {
        self.shift
    }

    /// The pattern's values as the solvers see them (shifted or not).
    fn values(&self) -> &'a [f64] {
        self.shifted.unwrap_or(&self.pattern.m)
    }

    /// M outside the pattern in column j: m_default - s_j.
    fn default_at(&self, j: usize) -> f64 {
        self.shift.map_or(self.m_default, |s| self.m_default - s[j])
    }

    /// How the values the solvers see relate to the caller's.
    pub(crate) fn scale(&self) -> Scale {
        self.scale
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn n_cols(&self) -> usize {
        self.n_cols
    }

    pub fn transposed(&self) -> SparseView<'a> {
        SparseView {
            pattern: self.other,
            other: self.pattern,
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            shift: None,
            shifted: None,
            ..*self
        }
    }

    /// (W o M) x. Flops: 2 n l (constant part) + 2 nnz l (pattern).
    pub fn weighted_data_times(&self, x: MatRef<'_, f64>, par: Par) -> Result<Mat<f64>> {
        let l = x.ncols();
        let wd = self.w_default;
        // sum_j w_default (m_default - s_j) x_j: the constant part.
        let column_sums = (0..l).map(|d| match self.shift {
            None => wd * self.m_default * x.col(d).iter().sum::<f64>(),
            Some(_) => {
                let col = x.col(d).iter().enumerate();
                wd * col.map(|(j, v)| self.default_at(j) * v).sum::<f64>()
            }
        });
        let column_sums = try_collect(column_sums, "column sums")?;
        let values = self.values();
        let x_rows = rows_contiguous(x, par)?;
        let workspace = || Ok((try_filled(l, 0.0, "a row of a product")?, Vec::new()));
        let parts = map_blocks_with(par, self.blocks(), workspace, |(out_row, coef), rows| {
            let mut out = crate::memory::try_zeros(rows.len(), l, "a block of a product")?;
            for (r, i) in rows.clone().enumerate() {
                let range = self.pattern.row(i);
                coef.clear();
                try_reserve(coef, range.len(), "a row's coefficients")?;
                let cols = &self.pattern.idx[range.clone()];
                coef.extend(
                    self.pattern.w[range.clone()]
                        .iter()
                        .zip(&values[range.clone()])
                        .zip(cols)
                        .map(|((w, m), &j)| w * m - wd * self.default_at(j)),
                );
                out_row.copy_from_slice(&column_sums);
                add_rows(out_row, coef, &self.pattern.idx[range], &x_rows);
                (0..l).for_each(|d| out[(r, d)] = out_row[d]);
            }
            Ok(out)
        })?;
        stack_rows(&parts, self.n_rows, l)
    }

    /// sum_ij W_ij (M_ij - u_i.v_j)^2 as w_default * (the all-entries sum,
    /// from k x k Grams) + the pattern's corrections. Flops: O((n + m) k^2
    /// + nnz k).
    pub(crate) fn weighted_residual(
        &self,
        u: MatRef<'_, f64>,
        v: MatRef<'_, f64>,
        par: Par,
        kept: &mut ResidualScratch,
    ) -> Result<f64> {
        let wd = self.w_default;
        let mut total = 0.0;
        if wd > 0.0 {
            // sum over all (i, j) of (c_j - u_i . v_j)^2, c_j = m_default - s_j.
            let k = u.ncols();
            let su = try_collect((0..k).map(|d| u.col(d).iter().sum::<f64>()), "sums")?;
            // sv_d = sum_j c_j v_jd (shifted), sum_j v_jd (times m_default below).
            let sv = (0..k).map(|d| match self.shift {
                None => v.col(d).iter().sum::<f64>(),
                Some(_) => {
                    let col = v.col(d).iter().enumerate();
                    col.map(|(j, x)| self.default_at(j) * x).sum::<f64>()
                }
            });
            let sv = try_collect(sv, "sums")?;
            let (gu, gv) = (gram(u, par)?, gram(v, par)?);
            let cross: f64 = su.iter().zip(&sv).map(|(a, b)| a * b).sum();
            let trace: f64 = (0..k)
                .flat_map(|a| (0..k).map(move |b| (a, b)))
                .map(|(a, b)| gu[(a, b)] * gv[(b, a)])
                .sum();
            let md = self.m_default;
            let all = match self.shift {
                None => {
                    (self.n_rows as f64) * (self.n_cols as f64) * md * md - 2.0 * md * cross + trace
                }
                Some(_) => {
                    let squares: f64 = (0..self.n_cols).map(|j| self.default_at(j).powi(2)).sum();
                    (self.n_rows as f64) * squares - 2.0 * cross + trace
                }
            };
            total += wd * all.max(0.0);
        }
        rows_contiguous_into(u, par, &mut kept.u_rows)?;
        rows_contiguous_into(v, par, &mut kept.v_rows)?;
        Ok(total + self.pattern_corrections(u.ncols(), par, kept)?)
    }

    /// sum over the pattern of W_ij (M_ij - f_ij)^2 - w_default (c_j -
    /// f_ij)^2, f_ij = u_i . v_j from the rows in `kept.u_rows`,
    /// `kept.v_rows`: one partial sum per row block, kept in
    /// `kept.block_sums` and added in block order. Flops: 4 nnz k.
    fn pattern_corrections(&self, k: usize, par: Par, kept: &mut ResidualScratch) -> Result<f64> {
        let (values, wd) = (self.values(), self.w_default);
        let (ur, vr, longest) = (&kept.u_rows, &kept.v_rows, self.longest_row());
        let make = || try_collect((0..longest).map(|_| 0.0), "a row's fitted values");
        kept.fitted
            .stock(longest, runs(par, self.blocks().len()), make)?;
        map_blocks_with_into(
            par,
            self.blocks(),
            || kept.fitted.lend(longest, make),
            |fitted, rows| {
                let mut sum = 0.0;
                for i in rows.clone() {
                    let range = self.pattern.row(i);
                    let more = range.len().saturating_sub(fitted.len());
                    try_reserve(fitted, more, "a row's fitted values")?;
                    fitted.resize(range.len(), 0.0);
                    row_dots(
                        fitted,
                        &self.pattern.idx[range.clone()],
                        vr,
                        &ur[i * k..(i + 1) * k],
                    );
                    let cols = &self.pattern.idx[range.clone()];
                    let (m, w) = (&values[range.clone()], &self.pattern.w[range]);
                    for (((f, m), w), &j) in fitted.iter().zip(m).zip(w).zip(cols) {
                        let (e, e0) = (m - f, self.default_at(j) - f);
                        sum += w * e * e - wd * e0 * e0;
                    }
                }
                Ok(sum)
            },
            &mut kept.block_sums,
        )?;
        Ok(ordered(&kept.block_sums)?.sum::<f64>())
    }

    /// The solver's w_default (scaled, as every value here).
    pub(crate) fn w_default(&self) -> f64 {
        self.w_default
    }

    pub(crate) fn m_default(&self) -> f64 {
        self.m_default
    }

    /// Entries stored in the pattern.
    pub fn nnz(&self) -> usize {
        self.pattern.idx.len()
    }

    /// Consecutive row ranges of at most ROW_BLOCK rows and about
    /// SPARSE_BLOCK_ENTRIES pattern entries each (`pattern`'s
    /// `entry_balanced_blocks`), as a new list: `blocks` without the copy.
    pub fn row_blocks(&self) -> Result<Vec<Range<usize>>> {
        try_collect(self.blocks().iter().cloned(), "the list of row blocks")
    }

    /// The row blocks of `row_blocks`, cut once when the pattern was built.
    pub(crate) fn blocks(&self) -> &'a [Range<usize>] {
        &self.pattern.blocks
    }

    /// The most entries in one row: what per-row buffers are sized for.
    pub(crate) fn longest_row(&self) -> usize {
        self.pattern.longest
    }

    /// Row i of the pattern: its columns, values and weights.
    pub fn row(&self, i: usize) -> SparseRow<'a> {
        let range = self.pattern.row(i);
        SparseRow {
            cols: &self.pattern.idx[range.clone()],
            values: &self.values()[range.clone()],
            weights: &self.pattern.w[range],
        }
    }
}

/// One row of the pattern (columns strictly increasing).
#[derive(Clone, Copy)]
pub struct SparseRow<'a> {
    pub cols: &'a [usize],
    pub values: &'a [f64],
    pub weights: &'a [f64],
}
