//! One way each to solve a half-step: given the fixed factor Y (n_cols x k),
//! find for every row i of the problem
//!     x_i = argmin_x  sum_j w_ij (m_ij - y_j^T x)^2 + ridge ||x||^2,
//! the minimum-norm solution when that is not unique.

pub mod auto;
pub mod block_cgls;
pub mod exact;
pub mod iterative;
pub mod mean_weight_cgls;
pub mod sketch;
pub mod sparse;

use crate::error::{Error, Result};
use crate::options::{Options, SolverChoice};
use crate::problem::Problem;
use auto::AutoSolver;
use exact::ExactSolver;
use faer::{Mat, MatRef};
use mean_weight_cgls::MeanWeightCglsSolver;
use sketch::SketchSolver;

/// Which solver produced a half-step (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverKind {
    Exact,
    Sketch,
    SharedPcg,
}

impl SolverKind {
    pub fn c_value(self) -> i32 {
        match self {
            SolverKind::Exact => crate::options::WLRA_SOLVER_EXACT,
            SolverKind::Sketch => crate::options::WLRA_SOLVER_SKETCH,
            SolverKind::SharedPcg => crate::options::WLRA_SOLVER_SHARED_PCG,
        }
    }
}

/// One half-step's input: the data seen from the side being solved for.
pub struct HalfStep<'a> {
    pub problem: Problem<'a>,
    pub fixed: MatRef<'a, f64>,
    pub ridge: f64,
    /// A starting guess for the solution (n_rows x k), for iterative solvers.
    pub warm_start: Option<MatRef<'a, f64>>,
    /// Whether `fixed` has orthonormal columns (to rounding), as the driver
    /// makes it when ridge = 0: Y^T Y = I is then known, not computed.
    pub fixed_orthonormal: bool,
}

/// A half-step solver. It runs on the current rayon pool (the model's own)
/// and must give the same bits whatever that pool's size.
pub trait HalfStepSolver {
    fn kind(&self) -> SolverKind;
    /// The n_rows x k solution, or `Error::Numerical` if it is not finite.
    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>>;
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
}

/// `x` if every entry is finite, else `Error::Numerical` naming `what`.
pub fn finite(x: Mat<f64>, what: &str) -> Result<Mat<f64>> {
    if x.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
        Ok(x)
    } else {
        Err(Error::Numerical(format!(
            "{what} produced non-finite factors"
        )))
    }
}

/// The half-step solver the options ask for, on this problem.
pub fn for_options(options: &Options, problem: &Problem<'_>) -> Box<dyn HalfStepSolver + Send> {
    // The SRHT sketches a row's design; on sparse input with w_default > 0
    // that has all m rows, so those rows run EXACT (and SOLVER_USED says so).
    let sketch_applies = match problem {
        Problem::Sparse(view) => view.w_default() == 0.0,
        Problem::Dense(_) => true,
    };
    match options.solver {
        SolverChoice::Sketch if !sketch_applies => Box::new(ExactSolver),
        SolverChoice::Sketch => Box::new(SketchSolver::new(
            options.sketch_size_factor,
            options.regression_tolerance,
            options.seed,
        )),
        SolverChoice::SharedPcg => {
            Box::new(MeanWeightCglsSolver::new(options.regression_tolerance))
        }
        SolverChoice::Auto => Box::new(AutoSolver::new(
            options.sketch_size_factor,
            options.regression_tolerance,
            options.seed,
        )),
        SolverChoice::Exact => Box::new(ExactSolver),
    }
}
