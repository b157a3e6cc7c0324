//! The option ids of wlra_set_option / wlra_get_option. Their names,
//! bounds and defaults are in `option_table`, the one place that says what
//! each accepts.

/// Outer alternating iterations; integer >= 0, default 100.
pub const WLRA_OPTION_MAX_ITERATIONS: i32 = 1;
/// Stop when the relative objective decrease is below this; default 1e-8.
pub const WLRA_OPTION_TOLERANCE: i32 = 2;
/// Seed of every random choice; integer in [0, 2^53], default 0.
pub const WLRA_OPTION_SEED: i32 = 3;
/// A WLRA_SOLVER_* value; default WLRA_SOLVER_AUTO.
pub const WLRA_OPTION_SOLVER: i32 = 4;
/// A WLRA_INIT_* value; default WLRA_INIT_SVD.
pub const WLRA_OPTION_INIT: i32 = 5;
/// Ridge penalty on ||U||_F^2 + ||V||_F^2; >= 0, default 0.
pub const WLRA_OPTION_RIDGE: i32 = 6;
/// Threads of the model's own pool; 0 (default) = all cores.
pub const WLRA_OPTION_THREADS: i32 = 7;
/// Sketch rows = ceil(factor * rank); factor >= 1, default 4.
pub const WLRA_OPTION_SKETCH_SIZE_FACTOR: i32 = 8;
/// Accuracy of each inner regression solve; in (0, 1), default 1e-10.
pub const WLRA_OPTION_REGRESSION_TOLERANCE: i32 = 9;
/// 0 = off (default); > 0: clip rows as in LLR16's ALT, at this constant.
pub const WLRA_OPTION_CLIP: i32 = 10;

/// 1 (default): inner solves start loose and tighten as the objective
/// settles, ending at WLRA_OPTION_REGRESSION_TOLERANCE; 0: always at it.
pub const WLRA_OPTION_ADAPTIVE_ACCURACY: i32 = 11;
/// Over-relaxation of each half-step, in (0, 2), default 1 (plain
/// alternating minimization): the new factor is old + omega (argmin - old),
/// from the second iteration on. Each half-step still lowers the objective
/// (it is a convex quadratic in the factor solved for). It pays where plain
/// alternation converges slowly (1.5 measured half the outer iterations
/// there) and costs where it converges fast, hence off by default.
pub const WLRA_OPTION_OVERRELAXATION: i32 = 12;
/// A WLRA_METHOD_* value: the outer method; default WLRA_METHOD_AUTO.
pub const WLRA_OPTION_METHOD: i32 = 13;
/// Random restarts: -1 (default) = AUTO: when the method is VarPro, at
/// least 11 random starts (or 4 that all reached one optimum), stopping
/// once the best objective has been reached twice; where 11 reached no
/// optimum twice, hops from the best fit until 29 in a row find nothing
/// lower or they have taken the iterations of 32 random starts; none for
/// alternation. 0 = off; r > 0: up to r further
/// seeded random starts, stopping once the best has been reached twice.
pub const WLRA_OPTION_RESTARTS: i32 = 14;
/// How the ridge weighs each row and column (added in 1.2):
/// WLRA_RIDGE_UNIFORM (0, default) or WLRA_RIDGE_WEIGHT_SUMS (1).
pub const WLRA_OPTION_RIDGE_SCALING: i32 = 15;
/// Cross-validation folds of the observed entries: 0 (default) = none, or
/// f >= 2 folds by a hash of (seed, row, column) (added in 1.2).
pub const WLRA_OPTION_FOLDS: i32 = 16;
/// The fold a fit holds out (weight 0) and reports the error of
/// (WLRA_INFO_HELD_OUT_RMSE), in [0, WLRA_OPTION_FOLDS); default 0.
pub const WLRA_OPTION_HELD_OUT_FOLD: i32 = 17;
/// Offsets fitted with the factors, M ~ a 1^T + 1 b^T + U V^T (added in
/// 1.2): WLRA_OFFSETS_NONE (0, default), _ROWS (1: a), _COLUMNS (2: b) or
/// _BOTH (3). Read them with wlra_get_offsets.
pub const WLRA_OPTION_OFFSETS: i32 = 18;
/// NaN in M means missing (added in 1.4): 0 (default) = off, a NaN in M is
/// WLRA_ERROR_NON_FINITE_INPUT; 1 = an entry whose M is NaN gets weight 0
/// (W = NULL included) and its M is never used, in wlra_fit (dense M, no
/// copy of M or W) and wlra_fit_csr (a NaN m_values[p]). ±Inf in M and NaN
/// in W stay errors.
pub const WLRA_OPTION_MISSING_NAN: i32 = 19;
/// Mixed precision (added in 1.5): 1 (default) = while the inner solves
/// are loose (WLRA_OPTION_ADAPTIVE_ACCURACY), SHARED_PCG on sparse input
/// gathers a float32 copy of the fixed factor's rows in its inner products,
/// and in the pass that forms each row's residual while the inner accuracy
/// asked for is 1e-5 or looser; sums stay float64, and the iterations at
/// the final accuracy, the objective and the factors are float64 (the fit
/// converges to the same fixed point). Only where the CPU runs those
/// kernels at speed (AVX-512, rank 8, 16, ..., 64); WLRA_INFO_NARROW_HALF_STEPS
/// counts the half-steps that did. 0 = float64 throughout.
pub const WLRA_OPTION_MIXED_PRECISION: i32 = 20;
