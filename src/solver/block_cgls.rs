//! Batched, preconditioned CGLS for one block of rows: each row's
//! regression min_x sum_j w_j (y_j^T x - m_j)^2 + ridge ||x||^2, iterated
//! together so that every product with Y is a matrix-matrix product and the
//! weights enter elementwise. Each row has its own right preconditioner, an
//! upper triangular R_i (x = R_i^-1 z).
//!
//! CGLS keeps the residual r = m - Y x in data space, so it reaches about
//! cond(A) eps accuracy (CG on the normal equations stops near
//! cond(A)^2 eps). Per iteration and row: 4 m k flops in two GEMMs, two
//! fused elementwise passes over m entries (7 streams), 4 k^2 flops of
//! triangular solves. Scratch per block: three rb x m row-major buffers.

use crate::kernels::transpose::copy_to_rows;
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// A row block's data: its weights (rb x m, row-major, rows contiguous), its
/// values (rb x m, any layout), the fixed factor Y (m x k), the ridge.
pub struct BlockData<'a> {
    pub weights: &'a [f64],
    pub values: MatRef<'a, f64>,
    pub fixed: MatRef<'a, f64>,
    pub ridge: f64,
}

/// Scratch for `solve_block`, allocated once per task.
pub struct CglsWorkspace {
    residual: Vec<f64>,
    product: Vec<f64>,
    scaled: Vec<f64>,
    gradient: Mat<f64>,
    direction: Mat<f64>,
    step: Mat<f64>,
}

impl CglsWorkspace {
    pub fn new(rows: usize, m: usize, k: usize) -> Self {
        CglsWorkspace {
            residual: vec![0.0; rows * m],
            product: vec![0.0; rows * m],
            scaled: vec![0.0; rows * m],
            gradient: Mat::zeros(rows, k),
            direction: Mat::zeros(rows, k),
            step: Mat::zeros(rows, k),
        }
    }
}

/// A row-major rb x m view of a buffer.
fn rows_view(buffer: &[f64], rb: usize, m: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(&buffer[..rb * m], m, rb).transpose()
}

fn rows_view_mut(buffer: &mut [f64], rb: usize, m: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(&mut buffer[..rb * m], m, rb).transpose_mut()
}

/// The rows' right preconditioners R_i (upper triangular, x = R_i^-1 z).
pub enum Preconditioners {
    /// R_i = scale_i R for every row: one triangular solve for the block.
    Shared { r: Mat<f64>, scale: Vec<f64> },
    /// One R_i per row (SRHT sketches).
    PerRow(Vec<Mat<f64>>),
}

impl Preconditioners {
    /// Row i of `block` <- R_i^-1 (row i), or R_i^-T (row i) when
    /// `transposed`, each row as a column vector. Flops: k^2 a row.
    fn apply(&self, mut block: MatMut<'_, f64>, transposed: bool) {
        let solve = |r: MatRef<'_, f64>, x: MatMut<'_, f64>| {
            if transposed {
                solve_lower_triangular_in_place(r.transpose(), x, Par::Seq)
            } else {
                solve_upper_triangular_in_place(r, x, Par::Seq)
            }
        };
        match self {
            Preconditioners::Shared { r, scale } => {
                solve(r.as_ref(), block.as_mut().transpose_mut());
                for (i, s) in scale.iter().enumerate() {
                    let mut row = block.as_mut().subrows_mut(i, 1);
                    row *= faer::Scale(1.0 / s);
                }
            }
            Preconditioners::PerRow(rs) => {
                for (i, r) in rs.iter().enumerate() {
                    solve(r.as_ref(), block.as_mut().subrows_mut(i, 1).transpose_mut());
                }
            }
        }
    }
}

fn row_norm_squared(a: MatRef<'_, f64>, i: usize) -> f64 {
    (0..a.ncols()).map(|j| a[(i, j)] * a[(i, j)]).sum()
}

/// gradient = scaled Y - ridge x, then R_i^-T on every row (inactive rows
/// are ignored by the caller).
fn preconditioned_gradient(
    data: &BlockData<'_>,
    scaled: MatRef<'_, f64>,
    x: MatRef<'_, f64>,
    preconditioners: &Preconditioners,
    mut gradient: MatMut<'_, f64>,
) {
    matmul(
        gradient.as_mut(),
        Accum::Replace,
        scaled,
        data.fixed,
        1.0,
        Par::Seq,
    );
    if data.ridge > 0.0 {
        gradient -= faer::Scale(data.ridge) * x;
    }
    preconditioners.apply(gradient, true);
}

/// Run CGLS on the active rows of the block, from `x` (warm start) in
/// place, until each row's preconditioned gradient is below `tol` times
/// its value at x = 0, or `max_iterations`. Rows with `active[i] == false`
/// are left untouched. Returns the row-iterations done (summed over rows).
pub fn solve_block(
    data: &BlockData<'_>,
    preconditioners: &Preconditioners,
    active: &mut [bool],
    mut x: MatMut<'_, f64>,
    tol: f64,
    max_iterations: usize,
    ws: &mut CglsWorkspace,
) -> usize {
    let (rb, m) = data.values.shape();
    let k = x.ncols();
    let weights = &data.weights[..rb * m];
    let gradient = &mut ws.gradient.as_mut().submatrix_mut(0, 0, rb, k);
    let direction = &mut ws.direction.as_mut().submatrix_mut(0, 0, rb, k);
    let step = &mut ws.step.as_mut().submatrix_mut(0, 0, rb, k);

    // residual = values; the reference is the preconditioned gradient at 0.
    copy_to_rows(data.values, &mut ws.residual);
    for ((s, w), r) in ws.scaled[..rb * m]
        .iter_mut()
        .zip(weights)
        .zip(&ws.residual[..rb * m])
    {
        *s = w * r;
    }
    step.fill(0.0);
    preconditioned_gradient(
        data,
        rows_view(&ws.scaled, rb, m),
        step.as_ref(),
        preconditioners,
        gradient.as_mut(),
    );
    let reference: Vec<f64> = (0..rb)
        .map(|i| row_norm_squared(gradient.as_ref(), i).sqrt())
        .collect();
    for i in 0..rb {
        if active[i] && reference[i] == 0.0 {
            x.as_mut().subrows_mut(i, 1).fill(0.0);
            active[i] = false;
        }
    }

    // residual = values - x Y^T, scaled = w o residual.
    matmul(
        rows_view_mut(&mut ws.residual, rb, m),
        Accum::Add,
        x.as_ref(),
        data.fixed.transpose(),
        -1.0,
        Par::Seq,
    );
    for ((s, w), r) in ws.scaled[..rb * m]
        .iter_mut()
        .zip(weights)
        .zip(&ws.residual[..rb * m])
    {
        *s = w * r;
    }
    preconditioned_gradient(
        data,
        rows_view(&ws.scaled, rb, m),
        x.as_ref(),
        preconditioners,
        gradient.as_mut(),
    );
    let mut gamma: Vec<f64> = (0..rb)
        .map(|i| row_norm_squared(gradient.as_ref(), i))
        .collect();
    direction.copy_from(gradient.as_ref());
    let mut work = 0;
    for _ in 0..max_iterations {
        for i in 0..rb {
            if active[i] && gamma[i].sqrt() <= tol * reference[i] {
                active[i] = false;
            }
        }
        let live = active.iter().filter(|a| **a).count();
        if live == 0 {
            break;
        }
        work += live;
        // step = R^-1 direction; product = step Y^T (unweighted).
        step.copy_from(direction.as_ref());
        preconditioners.apply(step.as_mut(), false);
        for (i, live) in active.iter().enumerate() {
            if !live {
                step.as_mut().subrows_mut(i, 1).fill(0.0);
            }
        }
        matmul(
            rows_view_mut(&mut ws.product, rb, m),
            Accum::Replace,
            step.as_ref(),
            data.fixed.transpose(),
            1.0,
            Par::Seq,
        );
        for i in 0..rb {
            if !active[i] {
                continue;
            }
            let span = i * m..(i + 1) * m;
            let (w, z) = (&weights[span.clone()], &ws.product[span.clone()]);
            let curvature = w.iter().zip(z).map(|(w, z)| w * z * z).sum::<f64>()
                + data.ridge * row_norm_squared(step.as_ref(), i);
            if curvature <= 0.0 {
                active[i] = false;
                continue;
            }
            let alpha = gamma[i] / curvature;
            for d in 0..k {
                x[(i, d)] += alpha * step[(i, d)];
            }
            // One fused pass: residual -= alpha z; scaled = w o residual.
            let (r, s) = (&mut ws.residual[span.clone()], &mut ws.scaled[span]);
            for (((r, s), w), z) in r.iter_mut().zip(s.iter_mut()).zip(w).zip(z) {
                *r -= alpha * z;
                *s = w * *r;
            }
        }
        preconditioned_gradient(
            data,
            rows_view(&ws.scaled, rb, m),
            x.as_ref(),
            preconditioners,
            gradient.as_mut(),
        );
        for i in 0..rb {
            if !active[i] {
                continue;
            }
            let next = row_norm_squared(gradient.as_ref(), i);
            let beta = next / gamma[i];
            for d in 0..k {
                direction[(i, d)] = gradient[(i, d)] + beta * direction[(i, d)];
            }
            gamma[i] = next;
        }
    }
    work
}
