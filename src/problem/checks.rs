//! The checks of a fit's input that need no model, each with its one
//! message: the shape, the rank against it, the values of M and W (or of
//! any matrix the caller names), and CSR input's arrays. The C entry points, the model and the
//! distributed fit all call these.

use crate::error::{fmt_g, invalid, Error, Result};
use crate::memory::try_reserve;
use faer::MatRef;

/// Both dimensions at least 1.
pub fn check_shape(n_rows: usize, n_cols: usize) -> Result<()> {
    if n_rows == 0 || n_cols == 0 {
        return Err(invalid(format!(
            "n_rows = {n_rows} and n_cols = {n_cols} must both be at least 1"
        )));
    }
    Ok(())
}

/// A non-empty shape the rank fits in.
pub fn check_rank(rank: usize, n_rows: usize, n_cols: usize) -> Result<()> {
    check_shape(n_rows, n_cols)?;
    if rank > n_rows.min(n_cols) {
        return Err(invalid(format!(
            "rank = {rank} exceeds min(n_rows, n_cols) = {}",
            n_rows.min(n_cols)
        )));
    }
    Ok(())
}

/// The hint a NaN weight's message gets when NaN in M means missing.
const NAN_WEIGHT_HINT: &str = " (NaN means missing in M only; give weight 0 instead)";

/// M and W finite, W non-negative; the messages call them `names` and
/// number their rows from `first_row` (a block of a larger matrix). With
/// `missing_nan` (WLRA_OPTION_MISSING_NAN) NaN in M is allowed (a missing
/// entry; ±Inf is still refused) and a NaN weight's message says where NaN
/// belongs. Returns whether M holds a missing entry (a NaN, with
/// `missing_nan`): without one the fit reads M as if the option were off.
pub fn check_values_with(
    names: [&str; 2],
    m: MatRef<'_, f64>,
    w: Option<MatRef<'_, f64>>,
    first_row: usize,
    missing_nan: bool,
) -> Result<bool> {
    let mut saw_nan = false;
    if missing_nan {
        for_each_in_memory_order(m, |i, j, v| match v.is_finite() || v.is_nan() {
            true => {
                saw_nan |= v.is_nan();
                Ok(())
            }
            false => Err(non_finite(names[0], first_row + i, j, v)),
        })?;
    } else {
        check_finite(names[0], m, first_row)?;
    }
    if let Some(w) = w {
        check_finite(names[1], w, first_row).map_err(|e| match e {
            Error::NonFiniteInput(text) if missing_nan && text.ends_with("= NaN is not finite") => {
                Error::NonFiniteInput(format!("{text}{NAN_WEIGHT_HINT}"))
            }
            e => e,
        })?;
        for_each_in_memory_order(w, |i, j, v| {
            if v >= 0.0 {
                Ok(())
            } else {
                Err(Error::NegativeWeight(format!(
                    "{}[{}, {j}] = {} is negative",
                    names[1],
                    first_row + i,
                    fmt_g(v)
                )))
            }
        })?;
    }
    Ok(saw_nan)
}

/// New rows for fold-in: `n_cols` columns (the fit's), W_rows (if given)
/// of M_rows' shape, values as `check_values_with` wants them (NaN in
/// M_rows allowed with `missing_nan`); whether M_rows holds a missing entry.
pub fn check_new_rows(
    m_rows: MatRef<'_, f64>,
    w_rows: Option<MatRef<'_, f64>>,
    n_cols: usize,
    missing_nan: bool,
) -> Result<bool> {
    if m_rows.ncols() != n_cols {
        return Err(invalid(format!(
            "the new rows have {} columns, the fitted model has {n_cols}",
            m_rows.ncols()
        )));
    }
    if let Some(w) = w_rows {
        if (w.nrows(), w.ncols()) != (m_rows.nrows(), m_rows.ncols()) {
            return Err(invalid(format!(
                "W_rows is {} x {}, M_rows is {} x {}",
                w.nrows(),
                w.ncols(),
                m_rows.nrows(),
                m_rows.ncols()
            )));
        }
    }
    check_values_with(["M_rows", "W_rows"], m_rows, w_rows, 0, missing_nan)
}

/// Index pairs to predict at: as many rows, columns and outputs, each
/// index below its side of `shape`.
pub fn check_pairs(
    rows: &[usize],
    cols: &[usize],
    outputs: usize,
    shape: (usize, usize),
) -> Result<()> {
    if rows.len() != cols.len() || outputs != rows.len() {
        return Err(invalid(format!(
            "{} row indices, {} column indices and {outputs} outputs must be as many",
            rows.len(),
            cols.len()
        )));
    }
    let check = |name: &str, index: &[usize], limit: usize| -> Result<()> {
        match index.iter().position(|&x| x >= limit) {
            Some(p) => Err(invalid(format!(
                "{name}[{p}] = {} is not below {limit}",
                index[p]
            ))),
            None => Ok(()),
        }
    };
    check("rows", rows, shape.0)?;
    check("cols", cols, shape.1)
}

/// Every entry of `a` finite; the first that is not is named.
pub fn check_finite(name: &str, a: MatRef<'_, f64>, first_row: usize) -> Result<()> {
    for_each_in_memory_order(a, |i, j, v| {
        if v.is_finite() {
            Ok(())
        } else {
            Err(non_finite(name, first_row + i, j, v))
        }
    })
}

/// The one message of a value that is not finite.
fn non_finite(name: &str, i: usize, j: usize, v: f64) -> Error {
    Error::NonFiniteInput(format!("{name}[{i}, {j}] = {} is not finite", fmt_g(v)))
}

/// Visit every entry, walking memory contiguously when one stride is 1.
fn for_each_in_memory_order(
    a: MatRef<'_, f64>,
    mut visit: impl FnMut(usize, usize, f64) -> Result<()>,
) -> Result<()> {
    if a.row_stride() == 1 || a.ncols() <= 1 {
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                visit(i, j, a[(i, j)])?;
            }
        }
    } else {
        for i in 0..a.nrows() {
            for j in 0..a.ncols() {
                visit(i, j, a[(i, j)])?;
            }
        }
    }
    Ok(())
}

/// Both orientations keep n + 1 offsets: n_rows + 1 and n_cols + 1 must
/// not wrap and their offsets must be addressable.
pub fn check_pattern_dims(n_rows: usize, n_cols: usize) -> Result<()> {
    check_shape(n_rows, n_cols)?;
    for (name, n) in [("n_rows", n_rows), ("n_cols", n_cols)] {
        let addressable = n
            .checked_add(1)
            .and_then(|len| len.checked_mul(std::mem::size_of::<usize>()))
            .is_some_and(|bytes| bytes <= isize::MAX as usize);
        if !addressable {
            return Err(invalid(format!(
                "{name} = {n} is too large: the pattern's {name} + 1 offsets cannot be addressed"
            )));
        }
    }
    Ok(())
}

/// Check row_ptr alone (it fixes how much of the other arrays to read):
/// returns nnz.
pub fn check_row_ptr(row_ptr: &[i64], n_cols: usize) -> Result<usize> {
    let (Some(&first), Some(&last)) = (row_ptr.first(), row_ptr.last()) else {
        return Err(invalid("row_ptr is empty: it needs n_rows + 1 entries"));
    };
    if first != 0 {
        return Err(invalid(format!("row_ptr[0] = {first} must be 0")));
    }
    for (i, pair) in row_ptr.windows(2).enumerate() {
        if pair[1] < pair[0] {
            return Err(invalid(format!(
                "row {i}: row_ptr[{}] = {} is less than row_ptr[{i}] = {} (row_ptr must not decrease)",
                i + 1,
                pair[1],
                pair[0]
            )));
        }
        // Column indices increase strictly within a row and stay below
        // n_cols, so a longer row is malformed, whatever col_idx holds
        // (and nothing is reserved for it).
        let len = pair[1].abs_diff(pair[0]);
        if len > n_cols as u64 {
            return Err(invalid(format!(
                "row {i}: row_ptr[{}] - row_ptr[{i}] = {len} entries, more than n_cols = {n_cols}",
                i + 1
            )));
        }
    }
    usize::try_from(last).map_err(|_| invalid("row_ptr[n_rows] does not fit in size_t"))
}

/// An array of the input must have exactly the length the pattern gives it.
pub fn check_len(name: &str, len: usize, needed: usize, because: &str) -> Result<()> {
    if len == needed {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} has {len} entries, {because} = {needed}"
        )))
    }
}

/// The constants outside the pattern: finite, w_default non-negative.
pub fn check_defaults(m_default: f64, w_default: f64) -> Result<()> {
    if !m_default.is_finite() || !w_default.is_finite() {
        return Err(Error::NonFiniteInput(format!(
            "m_default = {} and w_default = {} must be finite",
            fmt_g(m_default),
            fmt_g(w_default)
        )));
    }
    if w_default < 0.0 {
        return Err(Error::NegativeWeight(format!(
            "w_default = {} is negative",
            fmt_g(w_default)
        )));
    }
    Ok(())
}

/// The pattern's entries after `check_row_ptr` and the lengths: columns in
/// range and strictly increasing within each row, values finite, weights
/// (all 1 when None) non-negative. Returns the column indices as usize.
/// With `missing_nan` a NaN value is allowed (a missing entry).
pub fn check_entries(
    row_ptr: &[i64],
    (col_idx, m_values, w_values): (&[i64], &[f64], Option<&[f64]>),
    n_cols: usize,
    missing_nan: bool,
) -> Result<Vec<usize>> {
    let nnz = col_idx.len();
    let mut idx = Vec::new();
    try_reserve(&mut idx, nnz, "a copy of the pattern")?;
    for (i, pair) in row_ptr.windows(2).enumerate() {
        // Non-negative and at most nnz: check_row_ptr.
        let (start, end) = (pair[0] as usize, pair[1] as usize);
        for p in start..end {
            let c = col_idx[p];
            if c < 0 || c as u64 >= n_cols as u64 {
                return Err(invalid(format!(
                    "row {i}: col_idx[{p}] = {c} is out of range (n_cols = {n_cols})"
                )));
            }
            if p > start && c <= col_idx[p - 1] {
                return Err(invalid(format!(
                    "row {i}: col_idx[{p}] = {c} is not greater than col_idx[{}] = {} \
                     (columns must be strictly increasing within a row)",
                    p - 1,
                    col_idx[p - 1]
                )));
            }
            let (mv, wv) = (m_values[p], w_values.map_or(1.0, |w| w[p]));
            let allowed = mv.is_finite() || (missing_nan && mv.is_nan());
            if !allowed {
                return Err(Error::NonFiniteInput(format!(
                    "row {i}: m_values[{p}] = {} is not finite",
                    fmt_g(mv)
                )));
            }
            if !wv.is_finite() {
                let hint = if missing_nan && wv.is_nan() {
                    NAN_WEIGHT_HINT
                } else {
                    ""
                };
                return Err(Error::NonFiniteInput(format!(
                    "row {i}: w_values[{p}] = {} is not finite{hint}",
                    fmt_g(wv)
                )));
            }
            if wv < 0.0 {
                return Err(Error::NegativeWeight(format!(
                    "row {i}: w_values[{p}] = {} is negative",
                    fmt_g(wv)
                )));
            }
            idx.push(c as usize);
        }
    }
    Ok(idx)
}
