//! Half-steps on dense input (`wlra_fit`): one file per method, and the
//! frame the iterative ones share (`iterative`: per row block, the weights
//! with rows contiguous, a preconditioner rule, then `block_cgls`).

pub mod exact;
pub mod iterative;
pub mod mean_weight_cgls;
pub mod sketch;
