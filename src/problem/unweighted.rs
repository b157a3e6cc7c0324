//! Whether some entry of a problem carries no weight (W = 0, a NaN read as
//! missing, or, in sparse input without w_default, an entry outside the
//! pattern): AUTO reads it to choose VarPro, and on a dense problem with
//! every entry weighted it costs one pass over W, in W's storage order, on
//! the threads of the pool it is called in (the fit's: never rayon's global
//! one), stopping at the first unweighted entry. (Counting
//! VarPro's entries per row for it cost 90 ms of a 1.2 s fit on a dense
//! 4000 x 4000 problem, issue 25's acceptance 6.)

use super::{DenseProblem, Problem};
use crate::problem::sparse::SparseView;
use rayon::prelude::*;

impl Problem<'_> {
    /// Whether some entry has weight <= 0 as the solvers read it (weights
    /// are validated finite and >= 0): the entries VarPro's elimination
    /// leaves out (`varpro::observed`).
    pub(crate) fn has_unweighted_entry(&self) -> bool {
        match self {
            Problem::Dense(d) => dense_has_unweighted(d),
            Problem::Sparse(s) => sparse_has_unweighted(s),
        }
    }
}

fn dense_has_unweighted(d: &DenseProblem<'_>) -> bool {
    let missing = d.missing_nan();
    if d.weights().is_none() && !missing {
        return false; // unit weights, nothing read as missing
    }
    // `DenseProblem::weight` entry by entry, along the stored rows
    // (row-major input) or columns, without a call per entry.
    let scale = d.scale().weights();
    let (mut data, mut weights) = (d.data(), d.weights());
    let stored = weights.unwrap_or(data);
    if stored.col_stride().unsigned_abs() > stored.row_stride().unsigned_abs() {
        data = data.transpose();
        weights = weights.map(|w| w.transpose());
    }
    (0..data.nrows()).into_par_iter().any(|i| {
        let values = data.row(i);
        match weights {
            Some(w) => w
                .row(i)
                .iter()
                .zip(values.iter())
                .any(|(&w, &x)| (missing && x.is_nan()) || scale.apply(w) <= 0.0),
            None => values.iter().any(|x| x.is_nan()),
        }
    })
}

fn sparse_has_unweighted(s: &SparseView<'_>) -> bool {
    let m = s.n_cols();
    let outside_weighted = s.w_default() > 0.0;
    (0..s.n_rows()).into_par_iter().any(|e| {
        let row = s.row(e);
        (!outside_weighted && row.cols.len() < m) || row.weights.iter().any(|&w| w <= 0.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::sparse::{CsrInput, SparseProblem};
    use faer::Mat;

    fn weighted<'a>(data: &'a Mat<f64>, w: &'a Mat<f64>) -> DenseProblem<'a> {
        DenseProblem::new(data.as_ref(), Some(w.as_ref()))
    }

    #[test]
    fn finds_an_unweighted_entry_in_either_storage_order() {
        let data = Mat::from_fn(7, 5, |i, j| (i * 5 + j) as f64);
        let mut w = Mat::from_fn(7, 5, |_, _| 0.5);
        assert!(!Problem::Dense(DenseProblem::new(data.as_ref(), None)).has_unweighted_entry());
        assert!(!Problem::Dense(weighted(&data, &w)).has_unweighted_entry());
        assert!(!Problem::Dense(weighted(&data, &w))
            .transposed()
            .has_unweighted_entry());
        w[(6, 4)] = 0.0;
        assert!(Problem::Dense(weighted(&data, &w)).has_unweighted_entry());
        assert!(Problem::Dense(weighted(&data, &w))
            .transposed()
            .has_unweighted_entry());
        // A NaN read as missing has weight 0; not read as missing, it counts.
        let mut nan = data.clone();
        nan[(3, 2)] = f64::NAN;
        let plain = DenseProblem::new(nan.as_ref(), None);
        assert!(!Problem::Dense(plain).has_unweighted_entry());
        assert!(Problem::Dense(plain.with_missing_nan(true)).has_unweighted_entry());
    }

    #[test]
    fn a_sparse_pattern_is_unweighted_outside_without_w_default() {
        // 2 x 2: row 0 full, row 1 holds only column 1.
        let (row_ptr, col_idx, values) = ([0i64, 2, 3], [0i64, 1, 1], [1.0, 2.0, 3.0]);
        let fits = |weights: &[f64], w_default: f64| {
            let input = CsrInput {
                n_rows: 2,
                n_cols: 2,
                row_ptr: &row_ptr,
                col_idx: &col_idx,
                m_values: &values,
                w_values: Some(weights),
                m_default: 0.0,
                w_default,
            };
            let problem = SparseProblem::new(&input).unwrap();
            Problem::Sparse(problem.view()).has_unweighted_entry()
        };
        assert!(fits(&[1.0, 1.0, 1.0], 0.0), "(1, 0) is outside the pattern");
        assert!(!fits(&[1.0, 1.0, 1.0], 0.5));
        assert!(fits(&[1.0, 0.0, 1.0], 0.5), "a stored weight of 0");
    }
}
