//! Batched, preconditioned CGLS for one block of rows: each row's
//! regression min_x ||D_sqrt(w_i) (Y x - m_i)||^2 + ridge ||x||^2, iterated
//! together so that every product with Y is a matrix-matrix product (the
//! row's weights scale it elementwise). Each row has its own right
//! preconditioner: an upper triangular R_i, with x = R_i^-1 z.
//!
//! CGLS keeps the residual in data space, so it reaches about cond(A) eps
//! accuracy (CG on the normal equations would stop near cond(A)^2 eps).
//! Per iteration and row: 4 m k flops in two GEMMs, about 4 m elementwise
//! operations, 4 k^2 for the triangular solves. Scratch per block: three
//! rb x m matrices (sqrt(w), the residual, one product).

use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatMut, MatRef, Par};

/// A row block's data: sqrt of its weights and its values (rb x m), and Y.
/// `sqrt_weights` is best stored with contiguous rows (see CglsWorkspace).
pub struct BlockData<'a> {
    pub sqrt_weights: MatRef<'a, f64>,
    pub values: MatRef<'a, f64>,
    pub fixed: MatRef<'a, f64>,
    pub ridge: f64,
}

/// Scratch for `solve_block`, allocated once per task. The rb x m
/// matrices are stored transposed (m x rb) so that each row is contiguous.
pub struct CglsWorkspace {
    residual: Mat<f64>,
    product: Mat<f64>,
    gradient: Mat<f64>,
    direction: Mat<f64>,
    step: Mat<f64>,
}

impl CglsWorkspace {
    pub fn new(rows: usize, m: usize, k: usize) -> Self {
        CglsWorkspace {
            residual: Mat::zeros(m, rows),
            product: Mat::zeros(m, rows),
            gradient: Mat::zeros(rows, k),
            direction: Mat::zeros(rows, k),
            step: Mat::zeros(rows, k),
        }
    }
}

/// Solve R^T x = x in place (R upper triangular). Flops: k^2.
pub fn solve_upper_transposed(r: MatRef<'_, f64>, mut x: MatMut<'_, f64>) {
    for i in 0..x.ncols() {
        let mut v = x[(0, i)];
        for j in 0..i {
            v -= r[(j, i)] * x[(0, j)];
        }
        x[(0, i)] = v / r[(i, i)];
    }
}

/// Solve R x = x in place (R upper triangular). Flops: k^2.
pub fn solve_upper(r: MatRef<'_, f64>, mut x: MatMut<'_, f64>) {
    let k = x.ncols();
    for i in (0..k).rev() {
        let mut v = x[(0, i)];
        for j in i + 1..k {
            v -= r[(i, j)] * x[(0, j)];
        }
        x[(0, i)] = v / r[(i, i)];
    }
}

/// gradient = (sqrt_w o residual) Y - ridge x, then R_i^-T per active row.
fn preconditioned_gradient(
    data: &BlockData<'_>,
    residual: MatRef<'_, f64>,
    x: MatRef<'_, f64>,
    preconditioners: &[Mat<f64>],
    active: &[bool],
    scratch: MatMut<'_, f64>,
    mut gradient: MatMut<'_, f64>,
) {
    let mut scratch = scratch;
    zip!(scratch.as_mut(), data.sqrt_weights, residual).for_each(|unzip!(s, w, r)| *s = *w * *r);
    matmul(
        gradient.as_mut(),
        Accum::Replace,
        scratch.as_ref(),
        data.fixed,
        1.0,
        Par::Seq,
    );
    if data.ridge > 0.0 {
        zip!(gradient.as_mut(), x).for_each(|unzip!(g, x)| *g -= data.ridge * *x);
    }
    for (i, r) in preconditioners.iter().enumerate() {
        if active[i] {
            solve_upper_transposed(r.as_ref(), gradient.as_mut().subrows_mut(i, 1));
        }
    }
}

fn row_norm_squared(a: MatRef<'_, f64>, i: usize) -> f64 {
    (0..a.ncols()).map(|j| a[(i, j)] * a[(i, j)]).sum()
}

/// Run CGLS on the active rows of the block, from `x` (warm start) in
/// place, until each row's preconditioned gradient is below `tol` times
/// its value at x = 0, or `max_iterations`. Rows with `active[i] == false`
/// are left untouched. Returns the row-iterations done (summed over rows).
pub fn solve_block(
    data: &BlockData<'_>,
    preconditioners: &[Mat<f64>],
    active: &mut [bool],
    mut x: MatMut<'_, f64>,
    tol: f64,
    max_iterations: usize,
    ws: &mut CglsWorkspace,
) -> usize {
    let (rb, m) = data.values.shape();
    let residual = &mut ws
        .residual
        .as_mut()
        .submatrix_mut(0, 0, m, rb)
        .transpose_mut();
    let product = &mut ws
        .product
        .as_mut()
        .submatrix_mut(0, 0, m, rb)
        .transpose_mut();
    let k = x.ncols();
    let gradient = &mut ws.gradient.as_mut().submatrix_mut(0, 0, rb, k);
    let direction = &mut ws.direction.as_mut().submatrix_mut(0, 0, rb, k);
    let step = &mut ws.step.as_mut().submatrix_mut(0, 0, rb, k);

    // Reference norms: the preconditioned gradient at x = 0.
    zip!(residual.as_mut(), data.sqrt_weights, data.values)
        .for_each(|unzip!(r, w, v)| *r = *w * *v);
    step.fill(0.0);
    preconditioned_gradient(
        data,
        residual.as_ref(),
        step.as_ref(),
        preconditioners,
        active,
        product.as_mut(),
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

    // residual = sqrt_w o (values - x Y^T)
    matmul(
        product.as_mut(),
        Accum::Replace,
        x.as_ref(),
        data.fixed.transpose(),
        1.0,
        Par::Seq,
    );
    zip!(
        residual.as_mut(),
        data.sqrt_weights,
        data.values,
        product.as_ref()
    )
    .for_each(|unzip!(r, w, v, p)| *r = *w * (*v - *p));
    preconditioned_gradient(
        data,
        residual.as_ref(),
        x.as_ref(),
        preconditioners,
        active,
        product.as_mut(),
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
        // step = R^-1 direction; product = sqrt_w o (step Y^T)
        step.copy_from(direction.as_ref());
        for (i, r) in preconditioners.iter().enumerate() {
            if active[i] {
                solve_upper(r.as_ref(), step.as_mut().subrows_mut(i, 1));
            } else {
                step.as_mut().subrows_mut(i, 1).fill(0.0);
            }
        }
        matmul(
            product.as_mut(),
            Accum::Replace,
            step.as_ref(),
            data.fixed.transpose(),
            1.0,
            Par::Seq,
        );
        zip!(product.as_mut(), data.sqrt_weights).for_each(|unzip!(p, w)| *p *= *w);
        for i in 0..rb {
            if !active[i] {
                continue;
            }
            let curvature = row_norm_squared(product.as_ref(), i)
                + data.ridge * row_norm_squared(step.as_ref(), i);
            if curvature <= 0.0 {
                active[i] = false;
                continue;
            }
            let alpha = gamma[i] / curvature;
            for d in 0..k {
                x[(i, d)] += alpha * step[(i, d)];
            }
            let (mut res_row, prod_row) = (
                residual.as_mut().subrows_mut(i, 1),
                product.as_ref().subrows(i, 1),
            );
            zip!(res_row.as_mut(), prod_row).for_each(|unzip!(r, p)| *r -= alpha * *p);
        }
        preconditioned_gradient(
            data,
            residual.as_ref(),
            x.as_ref(),
            preconditioners,
            active,
            product.as_mut(),
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
