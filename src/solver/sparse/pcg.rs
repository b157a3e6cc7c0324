//! Preconditioned CG on each sparse row's normal equations G_i x = b_i,
//! never forming G_i: a product G_i v is the shared Gram times v (a scaling
//! when Y is orthonormal) plus sum_p c_p (y_j . v) y_j, 4 nnz_i k flops over
//! gathered rows of Y. The preconditioner is the shared part's diagonal, or
//! G_i's own diagonal when there is no shared part (completion).
//! With Y orthonormal (ridge = 0, the driver's default) the shared part is
//! a multiple of I, G_i is I plus the pattern's corrections, and warm starts
//! from the previous iteration leave CG little to do. (Jacobi on all of
//! G_i costs a third more per setup pass and measured slower overall on the
//! implicit-feedback benchmark: 5.8 vs 6.8 inner iterations, 3.0 vs 3.5 s
//! for 10 outer iterations.)

use super::exact::ExactRowScratch;
use super::SharedParts;
use crate::kernels::gathered::{add_projections, add_row_sums, add_squares, dot, RowSums};
use crate::problem::sparse::{SparseRow, SparseView};
use crate::products::stack_rows;
use crate::solver::iterative::MAX_INNER_ITERATIONS;
use faer::{Mat, MatRef};
use rayon::prelude::*;

/// Per-task buffers of one row's CG.
struct CgScratch {
    x: Vec<f64>,
    residual: Vec<f64>,
    direction: Vec<f64>,
    product: Vec<f64>,
    preconditioned: Vec<f64>,
    diagonal: Vec<f64>,
    rhs: Vec<f64>,
    c: Vec<f64>,
    t: Vec<f64>,
}

impl CgScratch {
    fn new(k: usize) -> Self {
        let zeros = || vec![0.0; k];
        CgScratch {
            x: zeros(),
            residual: zeros(),
            direction: zeros(),
            product: zeros(),
            preconditioned: zeros(),
            diagonal: zeros(),
            rhs: zeros(),
            c: Vec::new(),
            t: Vec::new(),
        }
    }
}

/// `out` = G_i v, with `c` the row's c_p.
fn apply_normal_matrix(
    shared: &SharedParts,
    row: &SparseRow<'_>,
    c: &[f64],
    v: &[f64],
    out: &mut [f64],
) {
    apply_shared_gram(shared, v, out);
    add_projections(out, c, row.cols, &shared.y_rows, v);
}

/// `out` = (w_default Y^T Y + ridge I) v.
fn apply_shared_gram(shared: &SharedParts, v: &[f64], out: &mut [f64]) {
    match shared.gram_scale {
        Some(s) => out.iter_mut().zip(v).for_each(|(o, x)| *o = s * x),
        None => {
            for (a, o) in out.iter_mut().enumerate() {
                // The Gram is symmetric: column a dotted with v is entry a.
                *o = shared.gram.col(a).iter().zip(v).map(|(g, x)| g * x).sum();
            }
        }
    }
}

/// Solve every row of `view` to relative accuracy `tol` (the preconditioned
/// residual against the preconditioned right-hand side), starting from
/// `warm` when given. Returns the solutions and the iterations summed over
/// rows.
pub fn pcg_half_step(
    view: &SparseView<'_>,
    shared: &SharedParts,
    warm: Option<MatRef<'_, f64>>,
    tol: f64,
) -> (Mat<f64>, usize) {
    let k = shared.rank();
    let row_blocks = view.row_blocks();
    let parts: Vec<(Mat<f64>, usize)> = row_blocks
        .par_iter()
        .map(|rows| {
            let mut cg = CgScratch::new(k);
            let mut exact = ExactRowScratch::new(k);
            let mut out = Mat::<f64>::zeros(rows.len(), k);
            let mut work = 0;
            for (r, i) in rows.clone().enumerate() {
                let row = view.row(i);
                if shared.maybe_singular(&row) {
                    exact.solve(view, shared, i, out.as_mut().subrows_mut(r, 1));
                    continue;
                }
                match warm {
                    Some(w) => (0..k).for_each(|d| cg.x[d] = w[(i, d)]),
                    None => cg.x.fill(0.0),
                }
                match solve_row(shared, &row, tol, &mut cg) {
                    Some(iterations) => {
                        work += iterations;
                        (0..k).for_each(|d| out[(r, d)] = cg.x[d]);
                    }
                    None => exact.solve(view, shared, i, out.as_mut().subrows_mut(r, 1)),
                }
            }
            (out, work)
        })
        .collect();
    let work = parts.iter().map(|p| p.1).sum();
    let mats: Vec<Mat<f64>> = parts.into_iter().map(|p| p.0).collect();
    (stack_rows(&mats, view.n_rows(), k), work)
}

/// CG from `cg.x` on G_i x = b_i, preconditioned by a diagonal: the
/// iterations taken, or None if G_i's diagonal is not positive (the row
/// then takes the exact path).
fn solve_row(
    shared: &SharedParts,
    row: &SparseRow<'_>,
    tol: f64,
    cg: &mut CgScratch,
) -> Option<usize> {
    shared.coefficients(row, &mut cg.c, &mut cg.t);
    cg.rhs.copy_from_slice(&shared.rhs);
    for (d, o) in cg.diagonal.iter_mut().enumerate() {
        *o = shared.gram[(d, d)];
    }
    apply_shared_gram(shared, &cg.x, &mut cg.product);
    let sums = RowSums {
        rhs: &mut cg.rhs,
        product: &mut cg.product,
    };
    add_row_sums(sums, &cg.c, &cg.t, row.cols, &shared.y_rows, &cg.x);
    let positive = |d: &[f64]| d.iter().all(|v| *v > 0.0 && v.is_finite());
    if !positive(&cg.diagonal) {
        // No shared part (w_default = ridge = 0, completion): G_i's own
        // diagonal (one more pass).
        add_squares(&mut cg.diagonal, &cg.c, row.cols, &shared.y_rows);
        if !positive(&cg.diagonal) {
            return None;
        }
    }
    let reference: f64 = cg
        .rhs
        .iter()
        .zip(&cg.diagonal)
        .map(|(b, d)| b * b / d)
        .sum::<f64>()
        .sqrt();
    if reference == 0.0 {
        cg.x.fill(0.0);
        return Some(0);
    }
    for d in 0..cg.x.len() {
        cg.residual[d] = cg.rhs[d] - cg.product[d];
        cg.preconditioned[d] = cg.residual[d] / cg.diagonal[d];
    }
    cg.direction.copy_from_slice(&cg.preconditioned);
    let mut gamma = dot(&cg.residual, &cg.preconditioned);
    let mut iterations = 0;
    while iterations < MAX_INNER_ITERATIONS && gamma.sqrt() > tol * reference {
        apply_normal_matrix(shared, row, &cg.c, &cg.direction, &mut cg.product);
        let curvature = dot(&cg.direction, &cg.product);
        // Exact arithmetic keeps this positive; rounding at convergence may not.
        if curvature.is_nan() || curvature <= 0.0 {
            break;
        }
        let alpha = gamma / curvature;
        for d in 0..cg.x.len() {
            cg.x[d] += alpha * cg.direction[d];
            cg.residual[d] -= alpha * cg.product[d];
            cg.preconditioned[d] = cg.residual[d] / cg.diagonal[d];
        }
        let next = dot(&cg.residual, &cg.preconditioned);
        let beta = next / gamma;
        gamma = next;
        for d in 0..cg.x.len() {
            cg.direction[d] = cg.preconditioned[d] + beta * cg.direction[d];
        }
        iterations += 1;
    }
    Some(iterations)
}
