//! wlra: weighted low rank approximation by alternating minimization.
//!
//! Minimizes sum_ij W_ij (M_ij - (U V^T)_ij)^2 + ridge (||U||^2 + ||V||^2)
//! over U (n x k), V (m x k). The C ABI lives in `ffi`; `Model` is the safe
//! Rust API under it.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod driver;
pub mod error;
pub mod ffi;
pub mod init;
pub mod kernels;
pub mod memory;
pub mod model;
pub mod options;
pub mod problem;
pub mod products;
pub mod rng;
pub mod solver;

pub use error::{Error, Result};
pub use model::Model;
pub use problem::DenseProblem;

/// What the benchmarks and the integration tests reach below the public
/// surface: re-exports only, no API promise.
#[doc(hidden)]
pub mod internals {
    pub use crate::kernels::gathered::{add_projections, add_row_sums, RowSums};
    pub use crate::kernels::orthonormal::{orthonormal_basis, RFactorWorkspace};
    pub use crate::kernels::spd_solve::SpdSolver;
    pub use crate::kernels::srht::{sketch_rows, srht_sketch};
    pub use crate::memory::gemm_workspace_bytes_per_thread;
    pub use crate::rng::{below, fill_gaussian, sign, stream, Purpose};
    pub use crate::solver::block_cgls::{solve_block, BlockData, CglsWorkspace, Preconditioners};
    pub use crate::solver::dense::exact::ExactSolver;
    pub use crate::solver::dense::sketch::SketchSolver;
    pub use crate::solver::{HalfStep, HalfStepSolver};
}
