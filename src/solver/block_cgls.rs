//! Batched, preconditioned conjugate gradients for one block of rows: each
//! row's regression min_x sum_j w_j (y_j^T x - m_j)^2 + ridge ||x||^2, as CG
//! on its normal equations (Y^T D_w Y + ridge I) x = Y^T D_w m, iterated
//! together so every product with Y is a matrix-matrix product. Each row has
//! its own right preconditioner, an upper triangular R_i (x = R_i^-1 z);
//! in exact arithmetic this is preconditioned CGLS.
//!
//! The operator v -> Y^T (w o (Y v)) runs over column chunks of CG_CHUNK
//! columns: Z = V Y_c^T, Z = W_c o Z, Q += Z Y_c, so the rb x CG_CHUNK block Z
//! stays in L2 and nothing of size rb x m is written (the CGLS this replaces
//! kept three rb x m residual buffers and streamed them twice an iteration).
//! Per iteration and row: 4 m k flops in two GEMMs, one elementwise pass over
//! the row's m weights, 4 k^2 flops of triangular solves. With Y orthonormal
//! and the preconditioner, cond(A R^-1) stays near the weights' range, so
//! the normal equations lose nothing at the accuracies the driver asks for
//! (`cargo bench --bench robustness` runs 1e-14).

use super::krylov::{run_cg_kept, CgScalars, CgSystem};
use crate::error::Result;
use crate::kernels::blocking::{blocks, CG_CHUNK};
use crate::kernels::transpose::copy_to_rows;
use crate::memory::{try_filled, try_zeros};
use crate::scaling::Multiplier;
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// A row block's data: its weights (rb x m, row-major, rows contiguous), its
/// values (rb x m, any layout) and what takes them to the solver's units
/// (`crate::scaling`), the fixed factor Y (m x k), the ridge.
pub struct BlockData<'a> {
    pub weights: &'a [f64],
    pub values: MatRef<'a, f64>,
    pub values_multiplier: Multiplier,
    /// The offsets' s_j, subtracted from every value after the multiplier.
    pub shift: Option<&'a [f64]>,
    pub fixed: MatRef<'a, f64>,
    pub ridge: f64,
}

/// Scratch for `solve_block`, allocated once per task.
pub struct CglsWorkspace {
    /// One rb x CG_CHUNK block, row-major: products with Y, or W o M.
    chunk: Vec<f64>,
    /// Normal-equation residuals h = b - A x, their preconditioned
    /// gradients, CG directions, preconditioned steps and A step (rb x k).
    residual: Mat<f64>,
    gradient: Mat<f64>,
    direction: Mat<f64>,
    step: Mat<f64>,
    image: Mat<f64>,
    /// CG's per-row scalars, kept across blocks.
    scalars: CgScalars,
}

impl CglsWorkspace {
    pub fn new(rows: usize, m: usize, k: usize) -> Result<Self> {
        let what = "the batched CG's blocks";
        Ok(CglsWorkspace {
            chunk: try_filled(rows * CG_CHUNK.min(m), 0.0, what)?,
            residual: try_zeros(rows, k, what)?,
            gradient: try_zeros(rows, k, what)?,
            direction: try_zeros(rows, k, what)?,
            step: try_zeros(rows, k, what)?,
            image: try_zeros(rows, k, what)?,
            scalars: CgScalars::default(),
        })
    }
}

/// The rows' right preconditioners R_i (upper triangular, x = R_i^-1 z).
pub enum Preconditioners {
    /// R_i = scale_i R for every row: one triangular solve for the block.
    Scaled { r: Mat<f64>, scale: Vec<f64> },
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
            Preconditioners::Scaled { r, scale } => {
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

/// A row-major r x c view of the first r c entries of a buffer.
fn rows_mut(buffer: &mut [f64], r: usize, c: usize) -> MatMut<'_, f64> {
    MatMut::from_row_major_slice_mut(&mut buffer[..r * c], r, c)
}

/// out = the rows' Y^T (w_i o (Y v_i)) + ridge v_i for the rows v_i of `v`,
/// chunked over columns. Flops: 4 rb m k.
fn apply_normal_operator(
    data: &BlockData<'_>,
    v: MatRef<'_, f64>,
    chunk: &mut [f64],
    mut out: MatMut<'_, f64>,
) {
    let (rb, m) = data.values.shape();
    for (c, cols) in blocks(m, CG_CHUNK).enumerate() {
        let yc = data.fixed.subrows(cols.start, cols.len());
        let cb = cols.len();
        let mut z = rows_mut(chunk, rb, cb);
        matmul(z.as_mut(), Accum::Replace, v, yc.transpose(), 1.0, Par::Seq);
        scale_by_weights(data, &cols, chunk);
        let z = MatRef::from_row_major_slice(&chunk[..rb * cb], rb, cb);
        let accum = if c == 0 { Accum::Replace } else { Accum::Add };
        matmul(out.as_mut(), accum, z, yc, 1.0, Par::Seq);
    }
    if data.ridge > 0.0 {
        out += faer::Scale(data.ridge) * v;
    }
}

/// chunk (row-major rb x cols.len()) *= W[:, cols], entry by entry.
fn scale_by_weights(data: &BlockData<'_>, cols: &std::ops::Range<usize>, chunk: &mut [f64]) {
    let (rb, m) = data.values.shape();
    let cb = cols.len();
    for (i, z) in chunk[..rb * cb].chunks_exact_mut(cb).enumerate() {
        let w = &data.weights[i * m + cols.start..i * m + cols.end];
        z.iter_mut().zip(w).for_each(|(z, w)| *z *= w);
    }
}

/// out = the rows' Y^T (w_i o m_i), the normal equations' right-hand sides.
fn right_hand_sides(data: &BlockData<'_>, chunk: &mut [f64], mut out: MatMut<'_, f64>) {
    let (rb, m) = data.values.shape();
    for (c, cols) in blocks(m, CG_CHUNK).enumerate() {
        let yc = data.fixed.subrows(cols.start, cols.len());
        let cb = cols.len();
        copy_to_rows(data.values.subcols(cols.start, cb), chunk);
        data.values_multiplier.apply_to(&mut chunk[..rb * cb]);
        if let Some(shift) = data.shift {
            let s = &shift[cols.clone()];
            for row in chunk[..rb * cb].chunks_exact_mut(cb) {
                row.iter_mut().zip(s).for_each(|(x, s)| *x -= s);
            }
        }
        scale_by_weights(data, &cols, chunk);
        let wm = MatRef::from_row_major_slice(&chunk[..rb * cb], rb, cb);
        let accum = if c == 0 { Accum::Replace } else { Accum::Add };
        matmul(out.as_mut(), accum, wm, yc, 1.0, Par::Seq);
    }
}

/// Row i of `out` <- R_i^-T (row i of `h`).
fn precondition(preconditioners: &Preconditioners, h: MatRef<'_, f64>, mut out: MatMut<'_, f64>) {
    out.copy_from(h);
    preconditioners.apply(out, true);
}

/// Run preconditioned CG (`krylov::run_cg`) on the normal equations of the
/// active rows of the block, from `x` (warm start) in place, until each
/// row's preconditioned gradient is below `tol` times its value at x = 0,
/// or `max_iterations`. Rows with `active[i] == false` are left untouched.
/// Returns the row-iterations done (summed over rows).
pub fn solve_block(
    data: &BlockData<'_>,
    preconditioners: &Preconditioners,
    active: &mut [bool],
    x: MatMut<'_, f64>,
    tol: f64,
    max_iterations: usize,
    ws: &mut CglsWorkspace,
) -> usize {
    let (rb, k) = x.shape();
    let CglsWorkspace {
        chunk,
        residual,
        gradient,
        direction,
        step,
        image,
        scalars,
    } = ws;
    let mut system = BlockSystem {
        data,
        preconditioners,
        x,
        chunk,
        residual: residual.as_mut().submatrix_mut(0, 0, rb, k),
        gradient: gradient.as_mut().submatrix_mut(0, 0, rb, k),
        direction: direction.as_mut().submatrix_mut(0, 0, rb, k),
        step: step.as_mut().submatrix_mut(0, 0, rb, k),
        image: image.as_mut().submatrix_mut(0, 0, rb, k),
    };
    run_cg_kept(&mut system, active, (tol, max_iterations), scalars).started
}

/// A row block as `krylov::CgSystem`: the residual h = b - A x lives in
/// normal-equation space (rb x k), so nothing of size rb x m is kept.
struct BlockSystem<'a, 'w> {
    data: &'a BlockData<'a>,
    preconditioners: &'a Preconditioners,
    x: MatMut<'w, f64>,
    chunk: &'w mut [f64],
    residual: MatMut<'w, f64>,
    gradient: MatMut<'w, f64>,
    direction: MatMut<'w, f64>,
    step: MatMut<'w, f64>,
    image: MatMut<'w, f64>,
}

impl CgSystem for BlockSystem<'_, '_> {
    const STOP_ON_NAN: bool = false;

    fn rows(&self) -> usize {
        self.x.nrows()
    }

    fn gradient_at_zero(&mut self) {
        right_hand_sides(self.data, self.chunk, self.residual.as_mut());
        let (h, g) = (self.residual.as_ref(), self.gradient.as_mut());
        precondition(self.preconditioners, h, g);
    }

    fn gradient_norm(&self, i: usize) -> f64 {
        row_norm_squared(self.gradient.as_ref(), i).sqrt()
    }

    fn zero_solution(&mut self, i: usize) {
        self.x.as_mut().subrows_mut(i, 1).fill(0.0);
    }

    fn start(&mut self) {
        let image = self.image.as_mut();
        apply_normal_operator(self.data, self.x.as_ref(), self.chunk, image);
        self.residual -= self.image.as_ref();
        self.update_gradient();
        self.direction.copy_from(self.gradient.as_ref());
    }

    fn gradient_squared(&self, i: usize) -> f64 {
        row_norm_squared(self.gradient.as_ref(), i)
    }

    fn step_and_image(&mut self, active: &[bool]) {
        self.step.copy_from(self.direction.as_ref());
        self.preconditioners.apply(self.step.as_mut(), false);
        for (i, live) in active.iter().enumerate() {
            if !live {
                self.step.as_mut().subrows_mut(i, 1).fill(0.0);
            }
        }
        let image = self.image.as_mut();
        apply_normal_operator(self.data, self.step.as_ref(), self.chunk, image);
    }

    fn curvature(&self, i: usize) -> f64 {
        let k = self.step.ncols();
        (0..k).map(|d| self.step[(i, d)] * self.image[(i, d)]).sum()
    }

    fn advance(&mut self, i: usize, alpha: f64) {
        for d in 0..self.x.ncols() {
            self.x[(i, d)] += alpha * self.step[(i, d)];
            self.residual[(i, d)] -= alpha * self.image[(i, d)];
        }
    }

    fn update_gradient(&mut self) {
        let (h, g) = (self.residual.as_ref(), self.gradient.as_mut());
        precondition(self.preconditioners, h, g);
    }

    fn new_direction(&mut self, i: usize, beta: f64) {
        for d in 0..self.x.ncols() {
            self.direction[(i, d)] = self.gradient[(i, d)] + beta * self.direction[(i, d)];
        }
    }
}
