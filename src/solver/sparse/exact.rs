//! The exact half-step on sparse rows: G_i = base Gram + Y_p^T diag(c) Y_p
//! with the row's pattern rows Y_p gathered contiguously so the correction
//! is one GEMM (2 nnz_i k^2 flops), then Cholesky (k^3 / 3), minimum norm
//! when singular. Per half-step: 2 m k^2 + 2 nnz k^2 + n k^3 / 3 flops.

use super::BaseSystem;
use crate::error::Result;
use crate::kernels::blocking::{fold_row_blocks_with, runs};
use crate::kernels::spd_solve::SpdSolver;
use crate::kernels::workspaces::Workspaces;
use crate::memory::{checked_len, try_filled, try_reserve};
use crate::problem::sparse::SparseView;
use crate::solver::half_step::{
    finite_in_place, into_new_solution, HalfStep, HalfStepSolver, SolverKind,
};
use crate::solver::rows::solve_normal_equations;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// EXACT on sparse input. It keeps Y's rows and its per-thread scratch
/// from one half-step to the next (issue 29: after the first iteration a
/// half-step allocates nothing that scales with the problem).
#[derive(Default)]
pub struct SparseExactSolver {
    y_rows: Vec<f64>,
    workspaces: Workspaces<(usize, usize), ExactRowScratch>,
}

impl HalfStepSolver for SparseExactSolver {
    fn kind(&self) -> SolverKind {
        SolverKind::Exact
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        Ok(into_new_solution(step, |out| self.solve_into(step, out))?.0)
    }

    fn solve_into(&mut self, step: &HalfStep<'_>, mut out: MatMut<'_, f64>) -> Result<()> {
        let view = step.problem.sparse();
        let y_rows = std::mem::take(&mut self.y_rows);
        let base = BaseSystem::with_rows_buffer(view, step, y_rows)?;
        let solved = exact_half_step(view, &base, step.par, out.as_mut(), &self.workspaces);
        self.y_rows = base.y_rows;
        solved?;
        finite_in_place(
            out.as_ref(),
            "the exact half-step (data too large for f64?)",
        )
    }

    fn release_kept(&mut self) {
        self.y_rows = Vec::new();
    }
}

/// Solve every row of `view` exactly against the fixed factor of `base`,
/// into `out` (n x k). One scratch per thread (lent by `workspaces`),
/// overwritten row by row; the row blocks are the view's own, so the loop
/// makes no list (issue 29).
pub fn exact_half_step(
    view: &SparseView<'_>,
    base: &BaseSystem,
    par: Par,
    out: MatMut<'_, f64>,
    workspaces: &Workspaces<(usize, usize), ExactRowScratch>,
) -> Result<()> {
    let (k, blocks) = (base.rank(), view.blocks());
    // Made for the longest row, so no buffer grows in a later half-step.
    let longest = view.longest_row();
    let make = || ExactRowScratch::for_rows(k, longest);
    workspaces.stock((k, longest), runs(par, blocks.len()), make)?;
    let workspace = || workspaces.lend((k, longest), make);
    fold_row_blocks_with(
        par,
        blocks,
        out,
        workspace,
        |scratch, rows, mut out| {
            for (r, i) in rows.enumerate() {
                scratch.solve(view, base, i, out.as_mut().subrows_mut(r, 1))?;
            }
            Ok(())
        },
        |(), ()| (),
    )
}

/// Per-task scratch of the exact row solve.
pub struct ExactRowScratch {
    spd: SpdSolver,
    /// The row's pattern rows y_j, and c_p y_j: k x nnz_i, column p for
    /// pattern entry p.
    plain: Vec<f64>,
    scaled: Vec<f64>,
    rhs: Vec<f64>,
    c: Vec<f64>,
    t: Vec<f64>,
}

impl ExactRowScratch {
    pub fn new(k: usize) -> Result<Self> {
        Ok(ExactRowScratch {
            spd: SpdSolver::new(k)?,
            plain: Vec::new(),
            scaled: Vec::new(),
            rhs: try_filled(k, 0.0, "a row's right-hand side")?,
            c: Vec::new(),
            t: Vec::new(),
        })
    }

    /// `new`, its buffers reserved for rows of up to `longest` entries.
    pub fn for_rows(k: usize, longest: usize) -> Result<Self> {
        let mut scratch = Self::new(k)?;
        let what = "a row's gathered factor rows";
        let size = checked_len(longest, k, what)?;
        try_reserve(&mut scratch.plain, size, what)?;
        try_reserve(&mut scratch.scaled, size, what)?;
        try_reserve(&mut scratch.c, longest, "a row's coefficients")?;
        try_reserve(&mut scratch.t, longest, "a row's coefficients")?;
        Ok(scratch)
    }

    /// Row i's exact solution into `x` (1 x k); NaN if G_i is not finite.
    pub fn solve(
        &mut self,
        view: &SparseView<'_>,
        base: &BaseSystem,
        i: usize,
        mut x: MatMut<'_, f64>,
    ) -> Result<()> {
        let k = base.rank();
        let row = view.row(i);
        let len = row.cols.len();
        // The buffers grow to the longest row seen, fallibly.
        let what = "a row's gathered factor rows";
        let size = checked_len(len, k, what)?;
        for buffer in [&mut self.plain, &mut self.scaled] {
            try_reserve(buffer, size.saturating_sub(buffer.len()), what)?;
            buffer.resize(size, 0.0);
        }
        base.coefficients(&row, &mut self.c, &mut self.t)?;
        for (p, (&j, &c)) in row.cols.iter().zip(&self.c).enumerate() {
            let y = &base.y_rows[j * k..(j + 1) * k];
            self.plain[p * k..(p + 1) * k].copy_from_slice(y);
            for (s, v) in self.scaled[p * k..(p + 1) * k].iter_mut().zip(y) {
                *s = c * v;
            }
        }
        let mut g = self.spd.gram_mut();
        g.copy_from(&base.gram);
        if len > 0 {
            let plain = MatRef::from_column_major_slice(&self.plain, k, len);
            let scaled = MatRef::from_column_major_slice(&self.scaled, k, len);
            matmul(
                g.as_mut(),
                Accum::Add,
                plain,
                scaled.transpose(),
                1.0,
                Par::Seq,
            );
        }
        // The product is symmetric only to rounding: mirror one triangle.
        for b in 0..k {
            for a in 0..b {
                g[(b, a)] = g[(a, b)];
            }
        }
        if let Some(ridges) = &base.row_ridges {
            for d in (0..k).filter(|&d| base.unpenalized != Some(d)) {
                g[(d, d)] += ridges[i];
            }
        }
        base.row_rhs(&row, &self.t, &mut self.rhs);
        solve_normal_equations(&mut self.spd, &mut self.rhs);
        for (d, v) in self.rhs.iter().enumerate() {
            x[(0, d)] = *v;
        }
        Ok(())
    }
}
