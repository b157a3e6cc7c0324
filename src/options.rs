//! Fit options, keyed by the C ABI's integer ids (like zstd's parameters), so
//! new options never change a struct layout. Every value travels as f64.

use crate::error::{fmt_g, invalid, Result};
use crate::offsets::Offsets;
use crate::validation::Folds;

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
/// least 11 and at most 32 starts, stopping once the best objective has been
/// reached twice; none for alternation. 0 = off; r > 0: up to r further
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
/// (added in 1.3): what AUTO runs with the SVD start where it is the optimum
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

/// Which half-step solver runs (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverChoice {
    Auto = WLRA_SOLVER_AUTO as isize,
    Exact = WLRA_SOLVER_EXACT as isize,
    Sketch = WLRA_SOLVER_SKETCH as isize,
    SharedPcg = WLRA_SOLVER_SHARED_PCG as isize,
}

/// Which outer method runs (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodChoice {
    Auto = WLRA_METHOD_AUTO as isize,
    Alternating = WLRA_METHOD_ALTERNATING as isize,
    VarPro = WLRA_METHOD_VARPRO as isize,
    Accelerated = WLRA_METHOD_ACCELERATED as isize,
}

/// How the factors start (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitChoice {
    Svd = WLRA_INIT_SVD as isize,
    Random = WLRA_INIT_RANDOM as isize,
    Given = WLRA_INIT_GIVEN as isize,
    /// Resolved by the model before a fit: into `Given` with the last fit's
    /// factors, or into `Svd` when there is none of this shape.
    Warm = WLRA_INIT_WARM as isize,
}

/// Largest integer a double holds exactly; integer options stop there.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;
/// A thread count beyond this is a typo, not a machine.
const MAX_THREADS: f64 = 4096.0;
/// No offsets: M ~ U V^T.
pub const WLRA_OFFSETS_NONE: i32 = 0;
/// A row offset a_i: M ~ a 1^T + U V^T.
pub const WLRA_OFFSETS_ROWS: i32 = 1;
/// A column offset b_j: M ~ 1 b^T + U V^T.
pub const WLRA_OFFSETS_COLUMNS: i32 = 2;
/// Both: M ~ a 1^T + 1 b^T + U V^T.
pub const WLRA_OFFSETS_BOTH: i32 = 3;
/// More folds than this leaves nothing to hold out.
const MAX_FOLDS: f64 = 1_000_000.0;
/// More restarts than this is a budget nobody waits for.
const MAX_RESTARTS: f64 = 1_000_000.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub max_iterations: usize,
    pub tolerance: f64,
    pub seed: u64,
    pub solver: SolverChoice,
    pub init: InitChoice,
    pub ridge: f64,
    pub threads: usize,
    pub sketch_size_factor: f64,
    pub regression_tolerance: f64,
    pub clip: f64,
    pub adaptive_accuracy: bool,
    pub overrelaxation: f64,
    pub method: MethodChoice,
    /// None: AUTO (see WLRA_OPTION_RESTARTS).
    pub restarts: Option<usize>,
    /// Whether the caller set WLRA_OPTION_MAX_ITERATIONS: VarPro's own
    /// default budget applies only when not.
    pub max_iterations_given: bool,
    /// WLRA_RIDGE_WEIGHT_SUMS: each row's and column's ridge times its
    /// weight sum.
    pub ridge_by_weight_sums: bool,
    /// WLRA_OPTION_FOLDS (0: none).
    pub folds: usize,
    pub held_out_fold: usize,
    /// WLRA_OPTION_OFFSETS.
    pub offsets: Offsets,
    /// Testing only (`Model::force_matrix_free_varpro`, not in the C
    /// ABI): VarPro solves its steps matrix-free even where the dense
    /// system would fit, so tests can compare the two paths.
    #[doc(hidden)]
    pub varpro_matrix_free: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_iterations: 100,
            tolerance: 1e-8,
            seed: 0,
            solver: SolverChoice::Auto,
            init: InitChoice::Svd,
            ridge: 0.0,
            threads: 0,
            sketch_size_factor: 4.0,
            regression_tolerance: 1e-10,
            clip: 0.0,
            adaptive_accuracy: true,
            overrelaxation: 1.0,
            method: MethodChoice::Auto,
            restarts: None,
            max_iterations_given: false,
            ridge_by_weight_sums: false,
            folds: 0,
            held_out_fold: 0,
            offsets: Offsets::NONE,
            varpro_matrix_free: false,
        }
    }
}

/// The C name of an option id, for messages.
pub fn option_name(option: i32) -> &'static str {
    match option {
        WLRA_OPTION_MAX_ITERATIONS => "WLRA_OPTION_MAX_ITERATIONS",
        WLRA_OPTION_TOLERANCE => "WLRA_OPTION_TOLERANCE",
        WLRA_OPTION_SEED => "WLRA_OPTION_SEED",
        WLRA_OPTION_SOLVER => "WLRA_OPTION_SOLVER",
        WLRA_OPTION_INIT => "WLRA_OPTION_INIT",
        WLRA_OPTION_RIDGE => "WLRA_OPTION_RIDGE",
        WLRA_OPTION_THREADS => "WLRA_OPTION_THREADS",
        WLRA_OPTION_SKETCH_SIZE_FACTOR => "WLRA_OPTION_SKETCH_SIZE_FACTOR",
        WLRA_OPTION_REGRESSION_TOLERANCE => "WLRA_OPTION_REGRESSION_TOLERANCE",
        WLRA_OPTION_CLIP => "WLRA_OPTION_CLIP",
        WLRA_OPTION_ADAPTIVE_ACCURACY => "WLRA_OPTION_ADAPTIVE_ACCURACY",
        WLRA_OPTION_OVERRELAXATION => "WLRA_OPTION_OVERRELAXATION",
        WLRA_OPTION_METHOD => "WLRA_OPTION_METHOD",
        WLRA_OPTION_RESTARTS => "WLRA_OPTION_RESTARTS",
        WLRA_OPTION_RIDGE_SCALING => "WLRA_OPTION_RIDGE_SCALING",
        WLRA_OPTION_FOLDS => "WLRA_OPTION_FOLDS",
        WLRA_OPTION_HELD_OUT_FOLD => "WLRA_OPTION_HELD_OUT_FOLD",
        WLRA_OPTION_OFFSETS => "WLRA_OPTION_OFFSETS",
        _ => "unknown option",
    }
}

fn integer_in(option: i32, value: f64, min: f64, max: f64) -> Result<f64> {
    if !value.is_finite() || value.fract() != 0.0 || value < min || value > max {
        return Err(invalid(format!(
            "{} = {} must be an integer in [{}, {}]",
            option_name(option),
            fmt_g(value),
            // The bounds are integers (up to 2^53): exact, not %g.
            min as i64,
            max as i64
        )));
    }
    Ok(value)
}

fn real_at_least(option: i32, value: f64, min: f64, inclusive: bool) -> Result<f64> {
    let ok = value.is_finite() && if inclusive { value >= min } else { value > min };
    if !ok {
        let relation = if inclusive { ">=" } else { ">" };
        return Err(invalid(format!(
            "{} = {} must be finite and {} {}",
            option_name(option),
            fmt_g(value),
            relation,
            fmt_g(min)
        )));
    }
    Ok(value)
}

impl Options {
    /// Set one option; on error nothing changes.
    pub fn set(&mut self, option: i32, value: f64) -> Result<()> {
        match option {
            WLRA_OPTION_MAX_ITERATIONS => {
                self.max_iterations = integer_in(option, value, 0.0, MAX_EXACT_INTEGER)? as usize;
                self.max_iterations_given = true;
            }
            WLRA_OPTION_TOLERANCE => self.tolerance = real_at_least(option, value, 0.0, true)?,
            WLRA_OPTION_SEED => {
                self.seed = integer_in(option, value, 0.0, MAX_EXACT_INTEGER)? as u64
            }
            WLRA_OPTION_SOLVER => {
                self.solver = match integer_in(option, value, 0.0, 3.0)? as i32 {
                    WLRA_SOLVER_AUTO => SolverChoice::Auto,
                    WLRA_SOLVER_EXACT => SolverChoice::Exact,
                    WLRA_SOLVER_SKETCH => SolverChoice::Sketch,
                    _ => SolverChoice::SharedPcg,
                }
            }
            WLRA_OPTION_INIT => {
                self.init = match integer_in(option, value, 0.0, 3.0)? as i32 {
                    WLRA_INIT_SVD => InitChoice::Svd,
                    WLRA_INIT_RANDOM => InitChoice::Random,
                    WLRA_INIT_GIVEN => InitChoice::Given,
                    _ => InitChoice::Warm,
                }
            }
            WLRA_OPTION_RIDGE => self.ridge = real_at_least(option, value, 0.0, true)?,
            WLRA_OPTION_THREADS => {
                self.threads = integer_in(option, value, 0.0, MAX_THREADS)? as usize
            }
            WLRA_OPTION_SKETCH_SIZE_FACTOR => {
                self.sketch_size_factor = real_at_least(option, value, 1.0, true)?
            }
            WLRA_OPTION_REGRESSION_TOLERANCE => {
                let tol = real_at_least(option, value, 0.0, false)?;
                if tol >= 1.0 {
                    return Err(invalid(format!(
                        "WLRA_OPTION_REGRESSION_TOLERANCE = {} must be below 1",
                        fmt_g(tol)
                    )));
                }
                self.regression_tolerance = tol
            }
            WLRA_OPTION_CLIP => self.clip = real_at_least(option, value, 0.0, true)?,
            WLRA_OPTION_ADAPTIVE_ACCURACY => {
                self.adaptive_accuracy = integer_in(option, value, 0.0, 1.0)? == 1.0
            }
            WLRA_OPTION_OVERRELAXATION => {
                if !(value > 0.0 && value < 2.0) {
                    return Err(invalid(format!(
                        "WLRA_OPTION_OVERRELAXATION = {} must be in (0, 2)",
                        fmt_g(value)
                    )));
                }
                self.overrelaxation = value
            }
            WLRA_OPTION_METHOD => {
                self.method = match integer_in(option, value, 0.0, 3.0)? as i32 {
                    WLRA_METHOD_AUTO => MethodChoice::Auto,
                    WLRA_METHOD_ALTERNATING => MethodChoice::Alternating,
                    WLRA_METHOD_VARPRO => MethodChoice::VarPro,
                    _ => MethodChoice::Accelerated,
                }
            }
            WLRA_OPTION_RESTARTS => {
                let r = integer_in(option, value, -1.0, MAX_RESTARTS)?;
                self.restarts = (r >= 0.0).then_some(r as usize)
            }
            WLRA_OPTION_RIDGE_SCALING => {
                let scaling = integer_in(option, value, 0.0, 1.0)? as i32;
                self.ridge_by_weight_sums = scaling == WLRA_RIDGE_WEIGHT_SUMS
            }
            WLRA_OPTION_OFFSETS => {
                self.offsets = Offsets::from_c(integer_in(option, value, 0.0, 3.0)? as i32)
            }
            WLRA_OPTION_FOLDS => {
                let folds = integer_in(option, value, 0.0, MAX_FOLDS)?;
                if folds == 1.0 {
                    return Err(invalid(
                        "WLRA_OPTION_FOLDS = 1 would hold out every entry: use 0 (none) or at least 2",
                    ));
                }
                self.folds = folds as usize
            }
            WLRA_OPTION_HELD_OUT_FOLD => {
                self.held_out_fold = integer_in(option, value, 0.0, MAX_FOLDS - 1.0)? as usize
            }
            _ => {
                return Err(invalid(format!(
                    "option = {option} is not a WLRA_OPTION_* value"
                )))
            }
        }
        Ok(())
    }

    /// The fold a fit holds out, if any; the fold must exist.
    pub fn folds(&self) -> Result<Option<Folds>> {
        if self.folds == 0 {
            return Ok(None);
        }
        if self.held_out_fold >= self.folds {
            return Err(invalid(format!(
                "WLRA_OPTION_HELD_OUT_FOLD = {} must be below WLRA_OPTION_FOLDS = {}",
                self.held_out_fold, self.folds
            )));
        }
        Ok(Some(Folds {
            count: self.folds,
            held_out: self.held_out_fold,
            seed: self.seed,
        }))
    }

    pub fn get(&self, option: i32) -> Result<f64> {
        Ok(match option {
            WLRA_OPTION_MAX_ITERATIONS => self.max_iterations as f64,
            WLRA_OPTION_TOLERANCE => self.tolerance,
            WLRA_OPTION_SEED => self.seed as f64,
            WLRA_OPTION_SOLVER => self.solver as i32 as f64,
            WLRA_OPTION_INIT => self.init as i32 as f64,
            WLRA_OPTION_RIDGE => self.ridge,
            WLRA_OPTION_THREADS => self.threads as f64,
            WLRA_OPTION_SKETCH_SIZE_FACTOR => self.sketch_size_factor,
            WLRA_OPTION_REGRESSION_TOLERANCE => self.regression_tolerance,
            WLRA_OPTION_CLIP => self.clip,
            WLRA_OPTION_ADAPTIVE_ACCURACY => f64::from(u8::from(self.adaptive_accuracy)),
            WLRA_OPTION_OVERRELAXATION => self.overrelaxation,
            WLRA_OPTION_METHOD => self.method as i32 as f64,
            WLRA_OPTION_RESTARTS => self.restarts.map_or(-1.0, |r| r as f64),
            WLRA_OPTION_RIDGE_SCALING => f64::from(u8::from(self.ridge_by_weight_sums)),
            WLRA_OPTION_FOLDS => self.folds as f64,
            WLRA_OPTION_HELD_OUT_FOLD => self.held_out_fold as f64,
            WLRA_OPTION_OFFSETS => f64::from(self.offsets.c_value()),
            _ => {
                return Err(invalid(format!(
                    "option = {option} is not a WLRA_OPTION_* value"
                )))
            }
        })
    }
}
