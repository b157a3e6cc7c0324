//! wlra: weighted low rank approximation by alternating minimization.
//!
//! Minimizes sum_ij W_ij (M_ij - (U V^T)_ij)^2 + ridge (||U||^2 + ||V||^2)
//! over U (n x k), V (m x k). The C ABI lives in `ffi`; `Model` is the safe
//! Rust API under it.

#![deny(unsafe_op_in_unsafe_fn)]

// The public Rust surface: the model and its options, errors, how a problem
// is described, and the C boundary.
/// Fits distributed over MPI or another engine (docs/mpi.md).
/// cbindgen:ignore
#[cfg(feature = "mpi")]
pub mod distributed;
pub mod error;
pub mod ffi;
pub mod model;
pub mod options;
pub mod problem;
/// Every WLRA_* value of the C ABI, and the option table.
pub mod vocabulary;

// The fit: start, outer method and restarts (driver), the outer methods.
pub(crate) mod driver;
pub(crate) mod fold_in;
pub(crate) mod init;
pub(crate) mod outer;

// Everything below the driver: reached from outside only through
// `internals`, for the benchmarks and the integration tests.
pub(crate) mod canonical;
pub(crate) mod held_out;
pub(crate) mod kernels;
pub(crate) mod memory;
pub(crate) mod offsets;
pub(crate) mod panics;
pub(crate) mod products;
pub(crate) mod rng;
pub(crate) mod scaling;
pub(crate) mod solver;
pub(crate) mod thread_pool;
pub(crate) mod warm;

pub use error::{Error, Result};
pub use model::Model;
pub use problem::DenseProblem;
/// Which half-step solver ran (`Model`'s fit information).
pub use solver::SolverKind;

/// What the benchmarks and the integration tests reach below the public
/// surface: re-exports only, no API promise.
#[doc(hidden)]
pub mod internals {
    /// Testing only: a panic inside the C boundary (tests/reliability.rs).
    pub use crate::ffi::panic_probe as boundary_panic_probe;
    pub use crate::held_out::Folds;
    pub use crate::init::svd_factors;
    pub use crate::kernels::gathered::{
        add_projections, add_projections_narrow, add_row_sums, narrow_rows_fast, RowSums,
    };
    pub use crate::kernels::orthonormal::{orthonormal_basis, RFactorWorkspace};
    pub use crate::kernels::srht::srht_sketch;
    pub use crate::kernels::vectorized::set_baseline_only as vectorized_kernels_off;
    pub use crate::memory::gemm_workspace_bytes_per_thread;
    pub use crate::outer::objective;
    /// Testing only: (matrix-free VarPro steps, their CG iterations) of
    /// the fits run from the calling thread so far.
    pub use crate::outer::varpro::cg_tally as matrix_free_cg_tally;
    /// Benchmarks and tests: accepted VarPro steps on Newton's model of the
    /// fits run from the calling thread so far.
    pub use crate::outer::varpro::newton_tally as varpro_newton_tally;
    pub use crate::outer::varpro::parts::{process_cpu_seconds, step_parts, Part as VarProPart};
    /// Benchmarks only: dense VarPro damping trials of the fits run from
    /// the calling thread so far.
    pub use crate::outer::varpro::trial_tally as varpro_trial_tally;
    pub use crate::rng::{stream, Purpose};
    pub use crate::solver::dense::exact::ExactSolver;
    pub use crate::solver::dense::sketch::SketchSolver;
    pub use crate::solver::half_step::StreamPosition;
    pub use crate::solver::{HalfStep, HalfStepSolver};
    /// The option table, to test wlra_option_info against.
    pub use crate::vocabulary::option_table::{OptionKind, OPTIONS as OPTION_TABLE};
}
