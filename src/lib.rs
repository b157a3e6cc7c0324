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
pub mod outer;
pub mod problem;
pub mod products;
pub mod rng;
pub mod solver;

pub use error::{Error, Result};
pub use model::Model;
pub use problem::DenseProblem;
