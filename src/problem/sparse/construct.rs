//! A sparse problem built from the caller's CSR arrays: validated (any
//! malformed input is an `Err`, never a panic), copied, and scaled in place
//! (`crate::scaling`); and for a distributed fit, a block copied as given
//! whose scale the ranks agree on afterwards.

use super::super::checks::{
    check_defaults, check_entries, check_len, check_pattern_dims, check_row_ptr,
};
use super::{CsrInput, Pattern, SparseProblem};
use crate::error::Result;
use crate::memory::{try_collect, try_filled};
use crate::scaling::Scale;

/// The caller's CSR arrays validated (any malformed input is an `Err`) and
/// copied as given; with `missing_nan` a NaN m_values[p] is a missing
/// entry: weight 0 and value 0 in the copy.
fn checked_copy(input: &CsrInput<'_>, missing_nan: bool) -> Result<Pattern> {
    let (n_rows, n_cols) = (input.n_rows, input.n_cols);
    check_pattern_dims(n_rows, n_cols)?;
    check_defaults(input.m_default, input.w_default)?;
    // n_rows + 1 does not wrap: check_pattern_dims.
    check_len("row_ptr", input.row_ptr.len(), n_rows + 1, "n_rows + 1")?;
    let nnz = check_row_ptr(input.row_ptr, n_cols)?;
    check_len("col_idx", input.col_idx.len(), nnz, "row_ptr[n_rows]")?;
    check_len("m_values", input.m_values.len(), nnz, "row_ptr[n_rows]")?;
    if let Some(w) = input.w_values {
        check_len("w_values", w.len(), nnz, "row_ptr[n_rows]")?;
    }
    let entries = (input.col_idx, input.m_values, input.w_values);
    let idx = check_entries(input.row_ptr, entries, n_cols, missing_nan)?;
    let what = "a copy of the pattern";
    let copy = |values: &[f64]| try_collect(values.iter().copied(), what);
    let mut rows = Pattern::new(
        try_collect(input.row_ptr.iter().map(|&p| p as usize), what)?,
        idx,
        copy(&input.m_values[..nnz])?,
        match input.w_values {
            Some(w) => copy(&w[..nnz])?,
            None => try_filled(nnz, 1.0, what)?,
        },
    )?;
    for (m, w) in rows.m.iter_mut().zip(rows.w.iter_mut()) {
        if m.is_nan() {
            (*m, *w) = (0.0, 0.0); // only with missing_nan: check_entries
        }
    }
    Ok(rows)
}

/// How `SparseProblem::scaled` picks the units of the copy.
enum ScaleChoice {
    /// From the largest weight and |M| (`Scale::for_largest`), applied.
    Largest,
    /// Values already in these units: recorded, not applied.
    #[cfg(feature = "mpi")]
    AsGiven(Scale),
}

impl SparseProblem {
    /// Validate and copy the caller's arrays (O(nnz) memory). Any malformed
    /// input (shapes, lengths, pattern, values) is an `Err`, never a panic.
    pub fn new(input: &CsrInput<'_>) -> Result<SparseProblem> {
        SparseProblem::new_with_missing(input, false)
    }

    /// `new`, and with `missing_nan` (WLRA_OPTION_MISSING_NAN) a NaN
    /// m_values[p] is a missing entry: weight 0 and value 0 in the copy.
    pub(crate) fn new_with_missing(
        input: &CsrInput<'_>,
        missing_nan: bool,
    ) -> Result<SparseProblem> {
        let rows = checked_copy(input, missing_nan)?;
        let (dims, defaults) = (
            (input.n_rows, input.n_cols),
            (input.m_default, input.w_default),
        );
        SparseProblem::scaled(rows, dims, defaults, ScaleChoice::Largest)
    }

    /// `new_with_missing` with the values as they are, recorded as being
    /// in the units of `units` (`crate::scaling`): the unit scale for a
    /// block of a problem whose scale the blocks agree on afterwards
    /// (`largest_magnitudes`, `rescale`), or that agreed scale for values
    /// already in it (a distributed fit's received column block).
    #[cfg(feature = "mpi")]
    pub(crate) fn new_in_units(
        input: &CsrInput<'_>,
        missing_nan: bool,
        units: Scale,
    ) -> Result<SparseProblem> {
        let rows = checked_copy(input, missing_nan)?;
        let (dims, defaults) = (
            (input.n_rows, input.n_cols),
            (input.m_default, input.w_default),
        );
        SparseProblem::scaled(rows, dims, defaults, ScaleChoice::AsGiven(units))
    }

    /// The largest weight (w_default included where it weighs an entry)
    /// and the largest |M| where W > 0, as `scaled` takes them: the max of
    /// the blocks' is the whole problem's. Read before `rescale`.
    #[cfg(feature = "mpi")]
    pub(crate) fn largest_magnitudes(&self) -> (f64, f64) {
        let p = &self.rows;
        let value = if self.w_default > 0.0 {
            self.m_default.abs()
        } else {
            0.0
        };
        let weighted = p.w.iter().zip(&p.m).filter(|(w, _)| **w > 0.0);
        weighted.fold((self.w_default, value), |(w, v), (wi, mi)| {
            (w.max(*wi), v.max(mi.abs()))
        })
    }

    /// A block read at the unit scale, multiplied into `scale`'s units as
    /// `scaled` multiplies a whole problem: the same bits.
    #[cfg(feature = "mpi")]
    pub(crate) fn rescale(&mut self, scale: Scale) {
        debug_assert!(self.scale.is_unit());
        let (sw, sm) = (scale.weights(), scale.values());
        for pattern in [&mut self.rows, &mut self.cols] {
            sw.apply_to(&mut pattern.w);
            sm.apply_to(&mut pattern.m);
        }
        self.m_default = sm.apply_saturating(self.m_default);
        self.w_default = sw.apply(self.w_default);
        self.scale = scale;
    }

    /// From the validated pattern (rows): its scale from the largest weight
    /// (w_default included) and the largest |M| where W > 0 (m_default when
    /// w_default > 0), the values scaled in place, then the columns'
    /// orientation.
    fn scaled(
        mut rows: Pattern,
        (n_rows, n_cols): (usize, usize),
        (m_default, w_default): (f64, f64),
        choice: ScaleChoice,
    ) -> Result<SparseProblem> {
        let outside = (n_rows as u128) * (n_cols as u128) > rows.idx.len() as u128;
        // Defaults that weigh nothing (a pattern holding every entry, or
        // w_default = 0) are dropped, so that scaling them (they do not set
        // the scale then) cannot saturate them into inf - inf in the sums
        // over "every entry minus the pattern" (found by fuzzing: 1 x 1,
        // M = 7.1e-304, m_default = 1.9 gave a NaN objective).
        let (m_default, w_default) = if outside && w_default > 0.0 {
            (m_default, w_default)
        } else {
            (0.0, 0.0)
        };
        let (mut weight, mut value) = (w_default, 0.0f64);
        if w_default > 0.0 && outside {
            value = m_default.abs();
        }
        for (w, m) in rows.w.iter().zip(&rows.m) {
            if *w > 0.0 {
                weight = weight.max(*w);
                value = value.max(m.abs());
            }
        }
        let scale = match choice {
            ScaleChoice::Largest => Scale::for_largest(weight, value),
            #[cfg(feature = "mpi")]
            ScaleChoice::AsGiven(units) => units,
        };
        // As given: applying the unit scale leaves every bit as it is.
        let applied = match choice {
            ScaleChoice::Largest => scale,
            #[cfg(feature = "mpi")]
            ScaleChoice::AsGiven(_) => Scale::unit(),
        };
        let (sw, sm) = (applied.weights(), applied.values());
        sw.apply_to(&mut rows.w);
        sm.apply_to(&mut rows.m);
        let cols = rows.transposed(n_cols)?;
        Ok(SparseProblem {
            rows,
            cols,
            n_rows,
            n_cols,
            m_default: sm.apply_saturating(m_default),
            w_default: sw.apply(w_default),
            scale,
        })
    }
}
