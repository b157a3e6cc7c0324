//! Dense hot loops. Each kernel is sequential (`Par::Seq`): the caller decides
//! parallelism, so results never depend on the thread count.

pub mod blocked_cholesky;
pub mod blocking;
pub mod fwht;
pub mod gathered;
pub mod gram;
pub mod orthonormal;
pub mod spd_solve;
pub mod srht;
pub mod transpose;
pub mod vectorized;
pub mod workspaces;
