//! Each row's weight sum, w_i. = sum_j W_ij, for ALS-WR's ridge scaling
//! (WLRA_RIDGE_WEIGHT_SUMS); the columns' come from the transposed problem.
//! One pass over W: n m reads dense, nnz plus the w_default entries outside
//! the pattern (counted, not visited) sparse.

use super::Problem;
use crate::error::Result;
use crate::memory::try_filled;

pub fn row_weight_sums(problem: &Problem<'_>) -> Result<Vec<f64>> {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    match problem {
        Problem::Dense(dense) => {
            if dense.has_unit_weights() {
                return try_filled(n, m as f64, "the rows' weight sums");
            }
            let w = dense.weights().unwrap_or(dense.data());
            let mut sums = try_filled(n, 0.0, "the rows' weight sums")?;
            // The solver's weights (`DenseProblem::weight`: scaled), walked
            // in memory order: down columns when they are contiguous.
            if w.row_stride() == 1 {
                for j in 0..m {
                    for (i, s) in sums.iter_mut().enumerate() {
                        *s += dense.weight(i, j);
                    }
                }
            } else {
                for (i, s) in sums.iter_mut().enumerate() {
                    *s = (0..m).map(|j| dense.weight(i, j)).sum();
                }
            }
            Ok(sums)
        }
        Problem::Sparse(view) => {
            let mut sums = try_filled(n, 0.0, "the rows' weight sums")?;
            let w_default = view.w_default();
            for (i, s) in sums.iter_mut().enumerate() {
                let row = view.row(i);
                let outside = (m - row.cols.len()) as f64;
                *s = row.weights.iter().sum::<f64>() + w_default * outside;
            }
            Ok(sums)
        }
    }
}

/// How many rows plus columns have no positive weight (weight sum 0):
/// WLRA_INFO_ZERO_WEIGHT_LINES. Unit weights have none; otherwise one pass
/// over W per side (dense), or over the pattern (sparse).
pub fn zero_weight_lines(problem: &Problem<'_>) -> Result<usize> {
    let none = match problem {
        Problem::Dense(dense) => dense.has_unit_weights(),
        Problem::Sparse(view) => view.w_default() > 0.0,
    };
    if none {
        return Ok(0);
    }
    let zeros = |sums: Vec<f64>| sums.iter().filter(|&&s| s <= 0.0).count();
    Ok(zeros(row_weight_sums(problem)?) + zeros(row_weight_sums(&problem.transposed())?))
}
