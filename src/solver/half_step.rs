//! What a half-step is and what a solver of one does: the input every
//! solver gets (`HalfStep`), the trait they implement, what the iterative
//! ones share (`Iterative`), and the one applicability rule. Every solver
//! file imports this; only the table (`solver/mod.rs`) imports the solvers.

use crate::error::{Error, Result};
use crate::problem::Problem;
use faer::{Mat, MatMut, MatRef, Par};

/// Inner iterations stop here even if the tolerance is not met: with
/// cond(A R^-1) below 10, 1e-14 takes about 60 iterations.
pub(crate) const MAX_INNER_ITERATIONS: usize = 300;

/// Which solver produced a half-step (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverKind {
    Exact,
    Sketch,
    SharedPcg,
}

impl SolverKind {
    pub(crate) fn c_value(self) -> i32 {
        match self {
            SolverKind::Exact => crate::vocabulary::WLRA_SOLVER_EXACT,
            SolverKind::Sketch => crate::vocabulary::WLRA_SOLVER_SKETCH,
            SolverKind::SharedPcg => crate::vocabulary::WLRA_SOLVER_SHARED_PCG,
        }
    }
}

/// One half-step's input: the data seen from the side being solved for.
pub struct HalfStep<'a> {
    pub problem: Problem<'a>,
    pub fixed: MatRef<'a, f64>,
    pub ridge: f64,
    /// WLRA_RIDGE_WEIGHT_SUMS: each row's weight sum, which multiplies its
    /// ridge (None: the ridge is the same for every row). Only the exact
    /// solvers read it (`solver::for_options` picks them then).
    pub ridge_scale: Option<&'a [f64]>,
    /// A column of `fixed` whose coefficient the ridge leaves alone: the
    /// offset solved with each row (`crate::offsets`). Only the exact
    /// solvers read it (`solver::for_options` picks them then).
    pub unpenalized: Option<usize>,
    /// A starting guess for the solution (n_rows x k), for iterative solvers.
    pub warm_start: Option<MatRef<'a, f64>>,
    /// Whether `fixed` has orthonormal columns (to rounding), as the driver
    /// makes it when ridge = 0: Y^T Y = I is then known, not computed.
    pub fixed_orthonormal: bool,
    /// How the half-step may run in parallel: `Par::Rayon(t)` hands its
    /// fixed row blocks to the rayon pool installed now (the model's own),
    /// at most t runs of them; `Par::Seq` runs them on this thread. The bits
    /// are the same either way.
    pub par: Par,
}

impl HalfStep<'_> {
    /// Row i's ridge: `ridge`, times the row's weight sum when scaled.
    pub fn row_ridge(&self, i: usize) -> f64 {
        self.ridge * self.ridge_scale.map_or(1.0, |scale| scale[i])
    }

    /// Whether the ridge applies to the coefficient of column d.
    pub fn penalizes(&self, d: usize) -> bool {
        self.unpenalized != Some(d)
    }
}

/// A new n_rows x k solution of `step`, written whole by `fill` (a
/// solver's in-place solve), with what `fill` returns besides.
pub(crate) fn into_new_solution<R>(
    step: &HalfStep<'_>,
    fill: impl FnOnce(MatMut<'_, f64>) -> Result<R>,
) -> Result<(Mat<f64>, R)> {
    let (n, k) = (step.problem.n_rows(), step.fixed.ncols());
    let mut x = crate::memory::try_zeros(n, k, "a half-step's solution")?;
    let besides = fill(x.as_mut())?;
    Ok((x, besides))
}

/// A half-step solver. It runs as `HalfStep::par` says and must give the
/// same bits whatever the parallelism.
pub trait HalfStepSolver {
    fn kind(&self) -> SolverKind;
    /// The n_rows x k solution, or `Error::Numerical` if it is not finite.
    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>>;
    /// The same solution written into `out` (n_rows x k): what the outer
    /// methods call, so their factor matrices are reused across
    /// iterations. The default copies `solve`'s; the solvers the outer
    /// methods run most write in place and keep their workspaces.
    fn solve_into(&mut self, step: &HalfStep<'_>, mut out: MatMut<'_, f64>) -> Result<()> {
        out.copy_from(self.solve(step)?);
        Ok(())
    }
    /// Relative accuracy of the next half-steps' inner solves; the exact
    /// solver has nothing to tune.
    fn set_accuracy(&mut self, _accuracy: f64) {}
    /// Whether `set_accuracy` matters (iterative inner solves).
    fn is_iterative(&self) -> bool {
        false
    }
    /// Inner iterations of the last half-step, summed over its rows (0 for
    /// a direct solver).
    fn inner_iterations(&self) -> usize {
        0
    }
    /// Drop the buffers kept for the next half-step that scale with the
    /// factors (the fixed factor's gathered rows): for a caller with one
    /// solver per side, where each would keep its own (distributed fits,
    /// whose memory per rank must not grow by a whole factor pair).
    fn release_kept(&mut self) {}
    /// Which side the next half-steps solve (0: U's rows, 1: V's), and for
    /// a distributed fit the whole side over every rank (`WholeSide`),
    /// which AUTO's cost model reads instead of this rank's share. Only
    /// AUTO reads either.
    fn set_side(&mut self, _side: usize, _whole: Option<WholeSide>) {}
    /// A distributed fit's inner iterations of the last half-step, summed
    /// over every rank's rows: AUTO's estimate for the side follows them,
    /// and SKETCH's choice to keep or rebuild its preconditioners.
    fn set_whole_inner_iterations(&mut self, _total: f64) {}
    /// For a distributed fit, where the next half-step stands in the
    /// one-process fit it reproduces (`StreamPosition`): SKETCH keys its
    /// random streams by it.
    fn set_stream_position(&mut self, _position: StreamPosition) {}
    /// Whether the last half-step read float32 rows of the fixed factor
    /// (mixed precision, `NarrowRows`).
    fn read_narrow(&self) -> bool {
        false
    }
}

/// Where a rank's next half-step stands in the one-process fit that a
/// distributed fit reproduces: the index the one-process solver gives that
/// half-step, the first of this rank's rows in the whole side, and the
/// whole side's rows. SKETCH keys each row's random stream by (half-step,
/// row of the whole side), so every rank draws what one process draws for
/// the same row; and it decides to keep or rebuild its preconditioners
/// only from the whole side's inner iterations (`set_whole_inner_iterations`).
#[derive(Clone, Copy, Debug)]
pub struct StreamPosition {
    pub half_step: u64,
    pub first_row: usize,
    pub whole_rows: usize,
}

/// One side of a distributed problem as a whole: its rows, its pattern's
/// entries (sparse input) over every rank, and AUTO's predicted cost of a
/// sparse SKETCH half-step over every rank's rows (`auto::sparse_sketch_cost`
/// summed; infinite where SKETCH does not apply or the input is dense).
#[derive(Clone, Copy, Debug)]
pub struct WholeSide {
    pub rows: usize,
    pub entries: usize,
    pub sparse_sketch_cost: f64,
}

/// The accuracy an iterative method's inner solves run at.
#[derive(Clone, Copy)]
pub struct InnerAccuracy {
    /// The relative accuracy the driver asks for now.
    pub tolerance: f64,
    /// Whether that is looser than WLRA_OPTION_REGRESSION_TOLERANCE: the
    /// driver's iterations are then inexact anyway.
    pub loose: bool,
    /// Which passes of the half-step may read float32 rows of Y.
    pub narrow: NarrowRows,
}

/// Mixed precision (issue 29, WLRA_OPTION_MIXED_PRECISION): which passes of
/// a half-step read a float32 copy of the fixed factor's rows. Every sum
/// stays float64; only Y's entries are rounded, to relative 2^-24.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct NarrowRows {
    /// The products of the inner iterations (CG's G_i p). Their rounding
    /// perturbs the matrix the inner solve inverts, never the residual it
    /// starts from, so the half-step's fixed point is float64's: the
    /// inexact inner solves of the loose phase only go inexact differently.
    pub products: bool,
    /// The pass that forms each row's starting residual b_i - G_i x_0. Its
    /// rounding, about 2^-24 of b_i, is in the answer, so it runs narrow
    /// only while the accuracy asked for is far looser than that.
    pub residual: bool,
}

/// The loosest inner accuracy at which the starting residual is still
/// formed from float32 rows: 2^-24 of b_i is then under 1/100 of what the
/// inner solve may leave.
pub(crate) const NARROW_RESIDUAL_ACCURACY: f64 = 1e-5;

impl NarrowRows {
    /// What a half-step at `accuracy` (`loose`: the driver's loose phase)
    /// reads narrow where mixed precision is `allowed`: nothing once the
    /// driver asks for its final accuracy, so the last iterations, and the
    /// fixed point, are float64's.
    pub fn at(accuracy: f64, loose: bool, allowed: bool) -> Self {
        let products = allowed && loose;
        NarrowRows {
            products,
            residual: products && accuracy >= NARROW_RESIDUAL_ACCURACY,
        }
    }
}

/// What an iterative method's half-step gives: the n_rows x k solution
/// and the inner iterations summed over rows.
pub type Solved = Result<(Mat<f64>, usize)>;

/// An iterative half-step method. `Iterative` adds what every iterative
/// solver shares: the accuracy the driver sets and the inner iterations it
/// reads back.
pub trait InnerMethod {
    const KIND: SolverKind;
    fn solve_at(&mut self, step: &HalfStep<'_>, accuracy: InnerAccuracy) -> Solved;
    /// `solve_at` writing the solution into `out` (n_rows x k); the inner
    /// iterations. The default copies `solve_at`'s.
    fn solve_at_into(
        &mut self,
        step: &HalfStep<'_>,
        accuracy: InnerAccuracy,
        mut out: MatMut<'_, f64>,
    ) -> Result<usize> {
        let (x, work) = self.solve_at(step, accuracy)?;
        out.copy_from(x);
        Ok(work)
    }
    /// `HalfStepSolver::release_kept`.
    fn release_kept(&mut self) {}
    /// `HalfStepSolver::set_stream_position`.
    fn set_stream_position(&mut self, _position: StreamPosition) {}
    /// `HalfStepSolver::set_whole_inner_iterations`.
    fn set_whole_inner_iterations(&mut self, _total: f64) {}
    /// Whether the last half-step read float32 rows (`NarrowRows`); only
    /// methods that can say yes.
    fn read_narrow(&self) -> bool {
        false
    }
}

/// An iterative method as a `HalfStepSolver`.
pub struct Iterative<M> {
    pub method: M,
    /// The accuracy the driver asks for now.
    tolerance: f64,
    /// WLRA_OPTION_REGRESSION_TOLERANCE, where the accuracy ends.
    final_tolerance: f64,
    /// Inner iterations of the last half-step, summed over rows.
    pub last_inner_iterations: usize,
    /// Whether the method may read float32 rows (WLRA_OPTION_MIXED_PRECISION).
    mixed_precision: bool,
}

impl<M> Iterative<M> {
    pub fn with_method(method: M, tolerance: f64) -> Self {
        Iterative {
            method,
            tolerance,
            final_tolerance: tolerance,
            last_inner_iterations: 0,
            mixed_precision: false,
        }
    }

    /// With mixed precision allowed (`NarrowRows`) or not.
    pub fn mixed_precision(self, allowed: bool) -> Self {
        Iterative {
            mixed_precision: allowed,
            ..self
        }
    }
}

impl<M> Iterative<M> {
    fn accuracy(&self) -> InnerAccuracy {
        let loose = self.tolerance > self.final_tolerance;
        InnerAccuracy {
            tolerance: self.tolerance,
            loose,
            narrow: NarrowRows::at(self.tolerance, loose, self.mixed_precision),
        }
    }
}

impl<M: InnerMethod> HalfStepSolver for Iterative<M> {
    fn kind(&self) -> SolverKind {
        M::KIND
    }

    fn release_kept(&mut self) {
        self.method.release_kept();
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        let (x, work) = self.method.solve_at(step, self.accuracy())?;
        self.last_inner_iterations = work;
        Ok(x)
    }

    fn solve_into(&mut self, step: &HalfStep<'_>, out: MatMut<'_, f64>) -> Result<()> {
        let work = self.method.solve_at_into(step, self.accuracy(), out)?;
        self.last_inner_iterations = work;
        Ok(())
    }

    fn set_accuracy(&mut self, accuracy: f64) {
        self.tolerance = accuracy;
    }

    fn is_iterative(&self) -> bool {
        true
    }

    fn inner_iterations(&self) -> usize {
        self.last_inner_iterations
    }

    fn set_stream_position(&mut self, position: StreamPosition) {
        self.method.set_stream_position(position);
    }

    fn set_whole_inner_iterations(&mut self, total: f64) {
        self.method.set_whole_inner_iterations(total);
    }

    fn read_narrow(&self) -> bool {
        self.method.read_narrow()
    }
}

/// `x` if every entry is finite, else `Error::Numerical` naming `what`.
pub fn finite(x: Mat<f64>, what: &str) -> Result<Mat<f64>> {
    finite_in_place(x.as_ref(), what)?;
    Ok(x)
}

/// Ok if every entry of `x` is finite, else `Error::Numerical` naming
/// `what` (`finite` for a solution written in place).
pub fn finite_in_place(x: MatRef<'_, f64>, what: &str) -> Result<()> {
    if x.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
        Ok(())
    } else {
        Err(Error::Numerical(format!(
            "{what} produced non-finite factors"
        )))
    }
}

/// Whether `method` applies to `problem`, the one place that is decided.
/// The SRHT sketches a row's design; on sparse input with w_default > 0
/// that design has all m rows, so SKETCH does not apply there (those
/// half-steps run EXACT, and SOLVER_USED says so).
pub fn applicable(method: SolverKind, problem: &Problem<'_>) -> bool {
    match (method, problem) {
        (SolverKind::Sketch, Problem::Sparse(view)) => view.w_default() == 0.0,
        _ => true,
    }
}
