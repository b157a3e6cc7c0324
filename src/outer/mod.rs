//! Outer methods: how a fit moves both factors toward the optimum. Peers
//! behind one signature, `run(ctx, start, progress) -> FitOutcome`:
//! alternation (one exact or inexact half-step per side and iteration),
//! accelerated alternation (the same half-steps, Anderson-extrapolated) and
//! variable projection (one factor eliminated, Levenberg-Marquardt steps on
//! the other). The driver picks one and may restart it.

pub mod accelerated;
pub mod alternating;
pub mod eckart_young;
pub(crate) mod local_sides;
pub(crate) mod offsets_step;
pub mod probe;
pub(crate) mod restarts;
pub mod sides;
pub mod unobserved;
pub mod varpro;

use crate::init::Factors;
use crate::offsets::Offsets;
use crate::options::Options;
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::{Problem, ResidualScratch};
use crate::scaling::{Pins, Scale};
use crate::solver::SolverKind;
use crate::vocabulary::choices::{
    WLRA_METHOD_ACCELERATED, WLRA_METHOD_ALTERNATING, WLRA_METHOD_SVD, WLRA_METHOD_VARPRO,
};
use faer::MatRef;

/// The progress callback: (completed iterations, objective) -> keep going?
pub type Progress<'a> = &'a mut dyn FnMut(usize, f64) -> bool;

/// Which outer method ran (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Alternating,
    VarPro,
    Accelerated,
    /// The closed form where the truncated SVD is the optimum
    /// (`eckart_young`): AUTO's, never asked for.
    TruncatedSvd,
}

impl Method {
    pub fn c_value(self) -> i32 {
        match self {
            Method::Alternating => WLRA_METHOD_ALTERNATING,
            Method::VarPro => WLRA_METHOD_VARPRO,
            Method::Accelerated => WLRA_METHOD_ACCELERATED,
            Method::TruncatedSvd => WLRA_METHOD_SVD,
        }
    }

    pub fn run(
        self,
        ctx: &Context<'_>,
        start: Factors,
        progress: Progress<'_>,
    ) -> crate::Result<FitOutcome> {
        let mut outcome = match self {
            Method::Alternating => local_sides::run_alternating(ctx, start, progress)?,
            Method::VarPro => varpro::run(ctx, start, progress)?,
            Method::Accelerated => local_sides::run_accelerated(ctx, start, progress)?,
            // Where the closed form cannot be trusted, the iterations it
            // stands for.
            Method::TruncatedSvd => match eckart_young::run(ctx, progress)? {
                Some(outcome) => return Ok(outcome),
                None => return Method::Accelerated.run(ctx, start, progress),
            },
        };
        outcome.method_used = self;
        Ok(outcome)
    }
}

/// What every outer method reads: the problem, rank, options and the pool
/// the heavy work runs on.
pub struct Context<'a> {
    pub problem: &'a Problem<'a>,
    /// The factors' columns: the model's rank plus one per offset side
    /// (`crate::offsets`).
    pub rank: usize,
    pub offsets: Offsets,
    /// The offsets' pinned columns' values (`Scale::pins`).
    pub pins: Pins,
    pub options: &'a Options,
    pub pool: &'a rayon::ThreadPool,
    /// The rows' and columns' weight sums when they scale the ridge
    /// (WLRA_RIDGE_WEIGHT_SUMS with ridge > 0).
    pub weight_sums: Option<&'a WeightSums>,
}

/// w_i. for every row and w_.j for every column: ALS-WR's ridge scales.
pub struct WeightSums {
    pub rows: Vec<f64>,
    pub cols: Vec<f64>,
}

impl WeightSums {
    /// The sums when `options` scale the ridge by them, else None.
    pub fn for_options(problem: &Problem<'_>, options: &Options) -> crate::Result<Option<Self>> {
        if !(options.ridge_by_weight_sums && options.ridge > 0.0) {
            return Ok(None);
        }
        Ok(Some(WeightSums {
            rows: row_weight_sums(problem)?,
            cols: row_weight_sums(&problem.transposed())?,
        }))
    }
}

impl Context<'_> {
    /// f at `factors`, on the pool. With offsets only the rank's columns
    /// carry the penalty: the offsets and their ones are unpenalized.
    pub fn objective(&self, factors: &Factors) -> crate::Result<f64> {
        self.objective_kept(factors, &mut ResidualScratch::default())
    }

    /// `objective` with its buffers kept in `scratch` (a loop's, reused
    /// from one iteration to the next).
    pub(crate) fn objective_kept(
        &self,
        factors: &Factors,
        scratch: &mut ResidualScratch,
    ) -> crate::Result<f64> {
        let (u, v) = (factors.u.as_ref(), factors.v.as_ref());
        let (ridge, sums) = (self.options.ridge, self.weight_sums);
        let k = self.rank - self.offsets.count();
        let parts = (ridge, sums, k);
        self.pool
            .install(|| objective_of(self.problem, u, v, parts, scratch))
    }

    /// Whether a half-step orthonormalizes its fixed factor (LLR16's ALT):
    /// without a ridge, whose penalty a change of basis would alter, and
    /// without offsets, whose pinned columns it would mix.
    pub fn orthonormalizes(&self) -> bool {
        self.options.ridge == 0.0 && !self.offsets.any()
    }

    /// The ridge scale of the U half-step's rows (`rows`) or the V
    /// half-step's (the columns).
    pub fn ridge_scale(&self, rows: bool) -> Option<&[f64]> {
        self.weight_sums
            .map(|s| if rows { &s.rows[..] } else { &s.cols[..] })
    }
}

/// f(U, V) = sum W (M - U V^T)^2 + ridge (||U||^2 + ||V||^2).
pub fn objective(
    problem: &Problem<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    ridge: f64,
) -> crate::Result<f64> {
    objective_with(problem, u, v, ridge, None)
}

/// f with the ridge of each row and column scaled by `sums` when given:
/// sum W (M - U V^T)^2 + ridge (sum_i w_i. |u_i|^2 + sum_j w_.j |v_j|^2).
pub fn objective_with(
    problem: &Problem<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    ridge: f64,
    sums: Option<&WeightSums>,
) -> crate::Result<f64> {
    let parts = (ridge, sums, u.ncols());
    objective_of(problem, u, v, parts, &mut ResidualScratch::default())
}

/// `objective_with` with only the first `penalized` columns of u and v in
/// the penalty (the rank's: the offsets' columns beyond carry none).
fn objective_of(
    problem: &Problem<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    (ridge, sums, penalized): (f64, Option<&WeightSums>, usize),
    scratch: &mut ResidualScratch,
) -> crate::Result<f64> {
    let (pu, pv) = (u.subcols(0, penalized), v.subcols(0, penalized));
    let residual = problem.weighted_residual(u, v, scratch)?;
    Ok(residual + ridge_penalty(pu, pv, ridge, sums))
}

/// ridge (||U||^2 + ||V||^2), or with `sums` each row's and column's term
/// times its weight sum; the same sums in the same order wherever the
/// objective is evaluated (one process or many).
pub(crate) fn ridge_penalty(
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    ridge: f64,
    sums: Option<&WeightSums>,
) -> f64 {
    let scaled = |x: MatRef<'_, f64>, scale: &[f64]| -> f64 {
        let rows = x.row_iter().zip(scale);
        rows.map(|(row, s)| s * row.squared_norm_l2()).sum()
    };
    match (ridge > 0.0, sums) {
        (false, _) => 0.0,
        (true, None) => ridge * (u.squared_norm_l2() + v.squared_norm_l2()),
        (true, Some(s)) => ridge * (scaled(u, &s.rows) + scaled(v, &s.cols)),
    }
}

/// What a fit produced; one type from the outer methods to the model.
/// `cancelled` fits still carry the factors of their last completed
/// iteration.
pub struct FitOutcome {
    pub factors: Factors,
    pub iterations: usize,
    pub objective: f64,
    pub converged: bool,
    pub cancelled: bool,
    pub method_used: Method,
    pub solver_used: SolverKind,
    /// Inner iterations per row and half-step, averaged over the fit.
    pub mean_inner_iterations: f64,
    /// Half-steps that read float32 rows of the fixed factor
    /// (WLRA_INFO_NARROW_HALF_STEPS).
    pub narrow_half_steps: usize,
    /// The inner accuracy each accepted iteration ran at (alternation).
    pub accuracies: Vec<f64>,
    /// Starts run (1 without restarts) and how many reached the best.
    pub starts: usize,
    pub starts_at_best: usize,
    /// The units the fit ran in (`crate::scaling`), which fold-in uses too.
    pub scale: Scale,
    /// Rows plus columns with no positive weight (WLRA_INFO_ZERO_WEIGHT_LINES),
    /// once counted (by `unobserved::zero_unobserved`, or after the fit).
    pub zero_weight_lines: Option<usize>,
}

impl FitOutcome {
    /// Nothing done yet: the start and its objective.
    pub fn new(start: Factors, objective: f64) -> Self {
        FitOutcome {
            factors: start,
            iterations: 0,
            objective,
            converged: false,
            cancelled: false,
            method_used: Method::Alternating,
            solver_used: SolverKind::Exact,
            mean_inner_iterations: 0.0,
            narrow_half_steps: 0,
            accuracies: Vec::new(),
            starts: 1,
            starts_at_best: 1,
            scale: Scale::unit(),
            zero_weight_lines: None,
        }
    }

    /// One more completed iteration, at `factors` with objective `value`;
    /// the factors it replaces.
    pub fn accept(&mut self, factors: Factors, value: f64) -> Factors {
        self.objective = value;
        self.iterations += 1;
        std::mem::replace(&mut self.factors, factors)
    }

    /// The rest of a budget of `budget` iterations, when tolerance 0 asks
    /// for all of them and the method cannot move any more (a rise at full
    /// accuracy, a stationary point): each would repeat the last one
    /// exactly and keep these factors, so they are reported at them
    /// without being recomputed. The callback may still cancel.
    pub fn finish_budget(&mut self, budget: usize, progress: Progress<'_>) {
        while self.iterations < budget && !self.cancelled {
            self.iterations += 1;
            self.cancelled = !progress(self.iterations, self.objective);
        }
    }
}

/// The options of a fit's next start or stage: an explicit
/// WLRA_OPTION_MAX_ITERATIONS bounds the whole fit, restarts included, so
/// what is left of it; None when nothing is. Without one, every start gets
/// its method's default.
pub fn remaining_budget(options: &Options, used: usize) -> Option<Options> {
    let mut next = options.clone();
    if options.max_iterations_given {
        next.max_iterations = options
            .max_iterations
            .checked_sub(used)
            .filter(|&r| r > 0)?;
    }
    Some(next)
}
