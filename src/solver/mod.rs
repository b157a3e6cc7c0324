//! One way each to solve a half-step: given the fixed factor Y (n_cols x k),
//! find for every row i of the problem
//!     x_i = argmin_x  sum_j w_ij (m_ij - y_j^T x)^2 + ridge ||x||^2,
//! the minimum-norm solution when that is not unique.

pub mod auto;
pub mod block_cgls;
pub mod dense;
pub(crate) mod half_step;
pub(crate) mod krylov;
pub(crate) mod rows;
pub mod sparse;

pub use half_step::{applicable, HalfStep, HalfStepSolver, Iterative, SolverKind};
// Part of the interface the outer methods (the driver's split) build on.
#[allow(unused_imports)]
pub use half_step::finite;

use crate::options::{Options, SolverChoice};
use crate::problem::Problem;
use auto::AutoSolver;

/// What the solvers are built with, from the options.
#[derive(Clone, Copy)]
pub struct SolverSettings {
    pub sketch_size_factor: f64,
    pub tolerance: f64,
    pub seed: u64,
    /// WLRA_OPTION_MIXED_PRECISION.
    pub mixed_precision: bool,
}

/// The solver table: one half-step solver per (input kind, method), each in
/// its own file. `method` must be applicable (see `applicable`).
pub fn solver_for(
    method: SolverKind,
    problem: &Problem<'_>,
    settings: SolverSettings,
) -> Box<dyn HalfStepSolver + Send> {
    let SolverSettings {
        sketch_size_factor: factor,
        tolerance,
        seed,
        mixed_precision,
    } = settings;
    match (problem, method) {
        (Problem::Dense(_), SolverKind::Exact) => {
            Box::new(dense::exact::KeptExactSolver::default())
        }
        (Problem::Dense(_), SolverKind::Sketch) => {
            Box::new(dense::sketch::SketchSolver::new(factor, tolerance, seed))
        }
        (Problem::Dense(_), SolverKind::SharedPcg) => Box::new(Iterative::with_method(
            dense::mean_weight_cgls::MeanWeightCgls::default(),
            tolerance,
        )),
        (Problem::Sparse(_), SolverKind::Exact) => {
            Box::new(sparse::exact::SparseExactSolver::default())
        }
        (Problem::Sparse(_), SolverKind::Sketch) => Box::new(Iterative::with_method(
            sparse::sketch::SparseSrhtCgls::new(factor, seed),
            tolerance,
        )),
        (Problem::Sparse(_), SolverKind::SharedPcg) => Box::new(
            Iterative::with_method(sparse::jacobi_cg::JacobiCg::default(), tolerance)
                .mixed_precision(mixed_precision),
        ),
    }
}

/// The half-step solver the options ask for, on this problem.
pub fn for_options(options: &Options, problem: &Problem<'_>) -> Box<dyn HalfStepSolver + Send> {
    let settings = SolverSettings {
        sketch_size_factor: options.sketch_size_factor,
        tolerance: options.regression_tolerance,
        seed: options.seed,
        mixed_precision: options.mixed_precision,
    };
    // Only the exact solvers read a ridge scaled per row, or one that
    // leaves the offsets' columns alone.
    if (options.ridge_by_weight_sums || options.offsets.any()) && options.ridge > 0.0 {
        return solver_for(SolverKind::Exact, problem, settings);
    }
    // NaN read as missing (WLRA_OPTION_MISSING_NAN): only the exact
    // solver reads every weight and value through the checked accessors.
    if matches!(problem, Problem::Dense(d) if d.missing_nan()) {
        return solver_for(SolverKind::Exact, problem, settings);
    }
    let method = match options.solver {
        SolverChoice::Auto => {
            let [exact, shared_pcg, sketch] =
                [SolverKind::Exact, SolverKind::SharedPcg, SolverKind::Sketch]
                    .map(|method| solver_for(method, problem, settings));
            let solvers = auto::Candidates {
                exact,
                shared_pcg,
                sketch,
            };
            return Box::new(AutoSolver::new(solvers, settings.sketch_size_factor));
        }
        SolverChoice::Exact => SolverKind::Exact,
        SolverChoice::Sketch => SolverKind::Sketch,
        SolverChoice::SharedPcg => SolverKind::SharedPcg,
    };
    if applicable(method, problem) {
        solver_for(method, problem, settings)
    } else {
        solver_for(SolverKind::Exact, problem, settings)
    }
}
