//! The values of the options that pick one of a few things (ridge
//! scaling, outer method, solver, start, offsets).

/// ridge (|U|^2 + |V|^2): every row and column alike.
pub const WLRA_RIDGE_UNIFORM: i32 = 0;
/// ridge (sum_i w_i. |u_i|^2 + sum_j w_.j |v_j|^2): each row's and column's
/// penalty times its weight sum, as ALS-WR (Zhou et al. 2008) does with its
/// rating counts. The exact solver runs every half-step.
pub const WLRA_RIDGE_WEIGHT_SUMS: i32 = 1;

/// Picks the outer method from the problem and what alternation measures
/// on it: the truncated SVD where it is the optimum (WLRA_METHOD_SVD);
/// ACCELERATED, switching to VARPRO (with restarts) where entries are
/// missing and alternation's rate of progress says it would crawl (or it
/// spends the default WLRA_OPTION_MAX_ITERATIONS unconverged);
/// ALTERNATING when an option only alternation understands is set (an
/// explicit WLRA_OPTION_SOLVER, WLRA_OPTION_CLIP,
/// WLRA_OPTION_OVERRELAXATION != 1). WLRA_INFO_METHOD_USED says which ran.
pub const WLRA_METHOD_AUTO: i32 = 0;
/// Alternating minimization: one exact half-step per side and iteration.
pub const WLRA_METHOD_ALTERNATING: i32 = 1;
/// Variable projection: the larger factor eliminated exactly, damped
/// Gauss-Newton (Levenberg-Marquardt) steps on the other.
pub const WLRA_METHOD_VARPRO: i32 = 2;
/// Alternation with safeguarded Anderson acceleration (added in 1.2): each
/// iteration extrapolates V from the last few iterates and keeps the
/// extrapolation only when its objective is below the plain alternating
/// step's. With WLRA_OPTION_CLIP > 0 or WLRA_OPTION_OVERRELAXATION != 1
/// plain alternation runs instead, and WLRA_INFO_METHOD_USED says so.
pub const WLRA_METHOD_ACCELERATED: i32 = 3;
/// The truncated SVD of D_a^1/2 M D_b^1/2 in closed form, no iteration
/// (added in 1.2): what AUTO runs with the SVD start where it is the optimum
/// (dense input, weights W = a b^T with every entry positive, unit weights
/// included, no ridge, no offsets). Reported by WLRA_INFO_METHOD_USED only;
/// not a value of WLRA_OPTION_METHOD.
pub const WLRA_METHOD_SVD: i32 = 4;

/// Picks the faster solver for the problem's shape.
pub const WLRA_SOLVER_AUTO: i32 = 0;
/// Per-row weighted normal equations, Cholesky.
pub const WLRA_SOLVER_EXACT: i32 = 1;
/// SRHT-preconditioned iterative regression (Song, Ye, Yin, Zhang 2023).
pub const WLRA_SOLVER_SKETCH: i32 = 2;
/// Preconditioned conjugate gradients on each row's regression (added in
/// 1.0), warm-started, with a preconditioner that costs next to nothing to
/// build. The algorithm depends on the input kind:
/// - dense input (`wlra_fit`): block CGLS with the mean-weight
///   preconditioner mean(w_i) Y^T Y (`solver/mean_weight_cgls.rs`); fast
///   when each row's weights have a small dynamic range.
/// - sparse input (`wlra_fit_csr`): CG on each row's normal equations with a
///   Jacobi (diagonal) preconditioner, the base system's diagonal, or the
///   row's own when w_default = ridge = 0 (`solver/sparse/jacobi_cg.rs`);
///   fast when the pattern corrections are small next to the base system.
pub const WLRA_SOLVER_SHARED_PCG: i32 = 3;

/// Truncated SVD of W o M.
pub const WLRA_INIT_SVD: i32 = 0;
/// Seeded Gaussian factors.
pub const WLRA_INIT_RANDOM: i32 = 1;
/// Factors set with wlra_set_factors.
pub const WLRA_INIT_GIVEN: i32 = 2;
/// The model's last fit when its shape matches the problem, else the SVD
/// start: each fit of a regularization path starts where the last ended
/// (added in 1.2).
pub const WLRA_INIT_WARM: i32 = 3;

/// No offsets: M ~ U V^T.
pub const WLRA_OFFSETS_NONE: i32 = 0;
/// A row offset a_i: M ~ a 1^T + U V^T.
pub const WLRA_OFFSETS_ROWS: i32 = 1;
/// A column offset b_j: M ~ 1 b^T + U V^T.
pub const WLRA_OFFSETS_COLUMNS: i32 = 2;
/// Both: M ~ a 1^T + 1 b^T + U V^T.
pub const WLRA_OFFSETS_BOTH: i32 = 3;
