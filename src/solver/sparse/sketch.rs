//! The paper's half-step on sparse rows with w_default = 0 (completion):
//! row i's design A = D_sqrt(w) Y_p has only the row's nnz_i pattern rows,
//! so the SRHT costs k p log2 p with p = next_pow2(nnz_i), not m. R from the
//! QR of the sketch (of A itself when nnz_i <= s) preconditions CGLS on the
//! gathered A, warm-started. Cost per row: nnz_i k (gather) + k p log2 p +
//! 2 s k^2 + iterations (4 nnz_i k + 2 k^2); against 2 nnz_i k^2 + k^3 / 3
//! for the exact row, so it pays only on long rows (AUTO decides).
//!
//! With w_default > 0 the design has all m rows: `solver::applicable` says
//! SKETCH does not apply, and the half-step is solved exactly.

use super::exact::{ExactRowScratch, SparseExactSolver};
use super::BaseSystem;
use crate::error::Result;
use crate::kernels::blocking::{map_blocks, stack_rows};
use crate::kernels::orthonormal::RFactorWorkspace;
use crate::kernels::srht::{sketch_rows, sketched_r_factor, SrhtScratch};
use crate::memory::{try_reserve, try_zeros};
use crate::problem::sparse::SparseView;
use crate::rng::sketch_stream;
use crate::solver::half_step::MAX_INNER_ITERATIONS;
use crate::solver::half_step::{
    applicable, finite, HalfStep, HalfStepSolver, InnerAccuracy, InnerMethod, Solved, SolverKind,
    StreamPosition,
};
use crate::solver::krylov::{run_cg, CgSystem};
use crate::solver::rows::{may_be_singular, WeightedDesign};
use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// SKETCH on sparse input (`solver::Iterative` adds the accuracy): the
/// sketch size factor, the seed, and a half-step count so each gets fresh
/// sketches.
pub struct SparseSrhtCgls {
    sketch_size_factor: f64,
    seed: u64,
    half_steps: u64,
    /// A distributed fit's position of the next half-step, used once.
    position: Option<StreamPosition>,
}

impl SparseSrhtCgls {
    pub fn new(sketch_size_factor: f64, seed: u64) -> Self {
        SparseSrhtCgls {
            sketch_size_factor,
            seed,
            half_steps: 0,
            position: None,
        }
    }
}

impl InnerMethod for SparseSrhtCgls {
    const KIND: SolverKind = SolverKind::Sketch;

    fn set_stream_position(&mut self, position: StreamPosition) {
        self.position = Some(position);
    }

    fn solve_at(&mut self, step: &HalfStep<'_>, accuracy: InnerAccuracy) -> Solved {
        let position = self.position.take();
        let settings = SketchSettings {
            sketch_rows: sketch_rows(self.sketch_size_factor, step.fixed.ncols()),
            tolerance: accuracy.tolerance,
            seed: self.seed,
            half_step: position.map_or(self.half_steps, |p| p.half_step),
            first_row: position.map_or(0, |p| p.first_row),
            par: step.par,
        };
        self.half_steps += 1;
        if !applicable(SolverKind::Sketch, &step.problem) {
            // Every row's design would have all m rows: solved exactly.
            return Ok((SparseExactSolver::default().solve(step)?, 0));
        }
        let view = step.problem.sparse();
        let base = BaseSystem::new(view, step)?;
        let (x, work) = sketch_half_step(view, &base, step.ridge, step.warm_start, &settings)?;
        Ok((finite(x, "a sketched half-step")?, work))
    }
}

/// Per-task buffers of one row's sketch and CGLS, allocated once per block.
struct RowWork {
    design: WeightedDesign,
    srht: SrhtScratch,
    qr: RFactorWorkspace,
    cg: CglsVectors,
}

/// CGLS's vectors: k x 1 except `residual` and `image` (design rows x 1).
struct CglsVectors {
    x: Mat<f64>,
    gradient: Mat<f64>,
    direction: Mat<f64>,
    step: Mat<f64>,
    residual: Mat<f64>,
    image: Mat<f64>,
}

/// How one half-step sketches: sketch rows, CGLS tolerance, and the seed and
/// half-step count that pick each row's random stream (never the thread).
pub struct SketchSettings {
    pub sketch_rows: usize,
    pub tolerance: f64,
    pub seed: u64,
    pub half_step: u64,
    /// The whole side's row of this problem's row 0 (distributed fits).
    pub first_row: usize,
    pub par: Par,
}

/// Sketch and solve every row of `view`; returns the solutions and the
/// CGLS iterations summed over rows.
pub fn sketch_half_step(
    view: &SparseView<'_>,
    base: &BaseSystem,
    ridge: f64,
    warm: Option<MatRef<'_, f64>>,
    settings: &SketchSettings,
) -> Result<(Mat<f64>, usize)> {
    let k = base.rank();
    let sketch_rows = settings.sketch_rows;
    // Buffers per block, sized by the block's longest row: one popular item
    // must not make every thread's buffers that long.
    let parts = map_blocks(settings.par, &view.row_blocks()?, |rows| {
        let mut exact = ExactRowScratch::new(k)?;
        let longest = rows
            .clone()
            .map(|i| view.row(i).cols.len())
            .max()
            .unwrap_or(0)
            + k;
        let what = "a row's CGLS vectors";
        let mut work = RowWork {
            design: WeightedDesign::new(longest, k)?,
            srht: SrhtScratch::new(longest, k, sketch_rows)?,
            qr: RFactorWorkspace::new(sketch_rows.max(k), k)?,
            cg: CglsVectors {
                x: try_zeros(k, 1, what)?,
                gradient: try_zeros(k, 1, what)?,
                direction: try_zeros(k, 1, what)?,
                step: try_zeros(k, 1, what)?,
                residual: try_zeros(longest, 1, what)?,
                image: try_zeros(longest, 1, what)?,
            },
        };
        let mut out = try_zeros(rows.len(), k, "a row block's solution")?;
        let mut iterations = 0;
        for (r, i) in rows.clone().enumerate() {
            match warm {
                Some(w) => (0..k).for_each(|d| work.cg.x[(d, 0)] = w[(i, d)]),
                None => work.cg.x.fill(0.0),
            }
            let count = gather(view, base, ridge, i, &mut work);
            let row = settings.first_row + i;
            let rng = &mut sketch_stream(settings.seed, settings.half_step, row);
            let solved = solve_row(
                &mut work,
                count,
                sketch_rows,
                rng,
                settings.tolerance,
                ridge,
            )?;
            match solved {
                Some(it) => {
                    iterations += it;
                    (0..k).for_each(|d| out[(r, d)] = work.cg.x[(d, 0)]);
                }
                None => exact.solve(view, base, i, out.as_mut().subrows_mut(r, 1))?,
            }
        }
        Ok((out, iterations))
    })?;
    let iterations = parts.iter().map(|p| p.1).sum();
    let mut mats: Vec<Mat<f64>> = Vec::new();
    try_reserve(&mut mats, parts.len(), "the row blocks' solutions")?;
    mats.extend(parts.into_iter().map(|p| p.0));
    Ok((stack_rows(&mats, view.n_rows(), k)?, iterations))
}

/// Gather row i's weighted design (`rows::WeightedDesign`) from the rows of
/// Y its pattern picks; returns A's row count.
fn gather(
    view: &SparseView<'_>,
    base: &BaseSystem,
    ridge: f64,
    i: usize,
    work: &mut RowWork,
) -> usize {
    let row = view.row(i);
    let k = base.rank();
    let y = MatRef::from_row_major_slice(&base.y_rows, base.y_rows.len() / k.max(1), k);
    let entries = row.cols.iter().zip(row.weights).zip(row.values);
    let entries = entries.map(|((&j, &w), &m)| (j, w, m));
    work.design.gather(entries, y, ridge)
}

/// CGLS on A R^-1 from `work.cg.x`; the iterations, or None when the row
/// needs the exact minimum-norm path (`may_be_singular`, or a singular R).
fn solve_row(
    work: &mut RowWork,
    count: usize,
    sketch_rows: usize,
    rng: &mut rand_xoshiro::Xoshiro256PlusPlus,
    tol: f64,
    ridge: f64,
) -> Result<Option<usize>> {
    let RowWork {
        design,
        srht,
        qr,
        cg,
    } = work;
    let k = cg.x.nrows();
    if may_be_singular(design.positive_weights(), k, ridge > 0.0) {
        return Ok(None);
    }
    let (a, b) = (design.a(count), design.b(count));
    let Some(r) = sketched_r_factor(a, sketch_rows, rng, srht, qr)? else {
        return Ok(None);
    };
    let mut system = RowSystem {
        a,
        b,
        r: r.as_ref(),
        cg,
        count,
    };
    let work = run_cg(&mut system, &mut [true], tol, MAX_INNER_ITERATIONS);
    Ok(Some(work.started - work.curvature_stops))
}

/// One gathered row as `krylov::CgSystem`: CGLS on A R^-1 with the residual
/// r = b - A x kept in data space (count x 1).
struct RowSystem<'a> {
    a: MatRef<'a, f64>,
    b: MatRef<'a, f64>,
    r: MatRef<'a, f64>,
    cg: &'a mut CglsVectors,
    count: usize,
}

/// out <- R^-T A^T v.
fn gradient_of(
    a: MatRef<'_, f64>,
    r: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    mut out: MatMut<'_, f64>,
) {
    matmul(
        out.as_mut(),
        Accum::Replace,
        a.transpose(),
        v,
        1.0,
        Par::Seq,
    );
    solve_lower_triangular_in_place(r.transpose(), out, Par::Seq);
}

impl RowSystem<'_> {
    /// gradient <- R^-T A^T residual.
    fn gradient_of_residual(&mut self) {
        let cg = &mut *self.cg;
        let residual = cg.residual.as_ref().subrows(0, self.count);
        gradient_of(self.a, self.r, residual, cg.gradient.as_mut());
    }
}

impl CgSystem for RowSystem<'_> {
    const STOP_ON_NAN: bool = true;

    fn rows(&self) -> usize {
        1
    }

    fn gradient_at_zero(&mut self) {
        gradient_of(self.a, self.r, self.b, self.cg.gradient.as_mut());
    }

    fn gradient_norm(&self, _: usize) -> f64 {
        self.cg.gradient.norm_l2()
    }

    fn zero_solution(&mut self, _: usize) {
        self.cg.x.fill(0.0);
    }

    fn start(&mut self) {
        let mut residual = self.cg.residual.as_mut().subrows_mut(0, self.count);
        residual.copy_from(self.b);
        let (a, x) = (self.a, self.cg.x.as_ref());
        matmul(residual.as_mut(), Accum::Add, a, x, -1.0, Par::Seq);
        self.gradient_of_residual();
        self.cg.direction.copy_from(&self.cg.gradient);
    }

    fn gradient_squared(&self, _: usize) -> f64 {
        self.cg.gradient.squared_norm_l2()
    }

    fn step_and_image(&mut self, _: &[bool]) {
        let cg = &mut *self.cg;
        cg.step.copy_from(&cg.direction);
        solve_upper_triangular_in_place(self.r, cg.step.as_mut(), Par::Seq);
        let image = cg.image.as_mut().subrows_mut(0, self.count);
        matmul(
            image,
            Accum::Replace,
            self.a,
            cg.step.as_ref(),
            1.0,
            Par::Seq,
        );
    }

    fn curvature(&self, _: usize) -> f64 {
        self.cg
            .image
            .as_ref()
            .subrows(0, self.count)
            .squared_norm_l2()
    }

    fn advance(&mut self, _: usize, alpha: f64) {
        let cg = &mut *self.cg;
        cg.x += faer::Scale(alpha) * &cg.step;
        let image = cg.image.as_ref().subrows(0, self.count);
        let mut residual = cg.residual.as_mut().subrows_mut(0, self.count);
        residual -= faer::Scale(alpha) * image;
    }

    fn update_gradient(&mut self) {
        self.gradient_of_residual();
    }

    fn new_direction(&mut self, _: usize, beta: f64) {
        let cg = &mut *self.cg;
        for d in 0..cg.direction.nrows() {
            cg.direction[(d, 0)] = cg.gradient[(d, 0)] + beta * cg.direction[(d, 0)];
        }
    }
}
