//! The items of wlra_get_info: what a fit reports.

/// Outer iterations completed.
pub const WLRA_INFO_ITERATIONS: i32 = 1;
/// f(U, V) at the returned factors.
pub const WLRA_INFO_OBJECTIVE: i32 = 2;
/// 1 if the tolerance was met, else 0.
pub const WLRA_INFO_CONVERGED: i32 = 3;
/// Wall-clock seconds of the last fit.
pub const WLRA_INFO_ELAPSED_SECONDS: i32 = 4;
/// The WLRA_SOLVER_* that ran the last half-step (never AUTO, which chooses
/// per half-step).
pub const WLRA_INFO_SOLVER_USED: i32 = 5;
/// Inner iterations per row and half-step, averaged over the last fit (0
/// for the exact solver). Added in 1.0.
pub const WLRA_INFO_INNER_ITERATIONS: i32 = 6;

/// WLRA_METHOD_ALTERNATING, WLRA_METHOD_VARPRO or WLRA_METHOD_ACCELERATED:
/// the outer method the last fit ran (added in 1.2).
pub const WLRA_INFO_METHOD_USED: i32 = 7;
/// Starts the last fit ran: 1, plus the restarts (added in 1.2).
pub const WLRA_INFO_STARTS: i32 = 8;
/// How many of those starts reached the best objective, within 1e-9
/// relative (added in 1.2).
pub const WLRA_INFO_STARTS_AT_BEST: i32 = 9;
/// sqrt(sum w (m - fitted)^2 / sum w) over the held-out fold's entries
/// (WLRA_OPTION_FOLDS; added in 1.2).
pub const WLRA_INFO_HELD_OUT_RMSE: i32 = 10;
/// How many observed entries the held-out fold holds (added in 1.2).
pub const WLRA_INFO_HELD_OUT_ENTRIES: i32 = 11;
/// How many rows plus columns of the last fit's problem have no positive
/// weight (all-zero weights, or all missing, or held out): their factor
/// rows are 0 (added in 1.4). Bindings warn when it is not 0.
pub const WLRA_INFO_ZERO_WEIGHT_LINES: i32 = 12;
/// How many of the rank's components the fitted product U V^T lacks: rank
/// minus its numerical rank, where a singular value at most
/// max(n_rows, n_cols) DBL_EPSILON times the largest counts as 0; rank
/// when U V^T = 0. Computed from the factors when asked (added in 1.4).
/// Bindings warn when it is not 0.
pub const WLRA_INFO_DEGENERATE: i32 = 13;
/// How many half-steps of the last fit read a float32 copy of the fixed
/// factor's rows (WLRA_OPTION_MIXED_PRECISION; added in 1.5). 0 where
/// mixed precision is off or did not apply.
pub const WLRA_INFO_NARROW_HALF_STEPS: i32 = 14;
