//! Outer methods: how a fit moves both factors toward the optimum. Peers
//! behind one signature, `run(ctx, start, progress) -> FitOutcome`:
//! alternation (one exact or inexact half-step per side and iteration),
//! accelerated alternation (the same half-steps, Anderson-extrapolated) and
//! variable projection (one factor eliminated, Levenberg-Marquardt steps on
//! the other). The driver picks one and may restart it.

pub mod accelerated;
pub mod alternating;
pub mod varpro;

use crate::init::Factors;
use crate::options::{
    Options, WLRA_METHOD_ACCELERATED, WLRA_METHOD_ALTERNATING, WLRA_METHOD_VARPRO,
};
use crate::problem::Problem;
use crate::solver::SolverKind;
use faer::MatRef;

/// The progress callback: (completed iterations, objective) -> keep going?
pub type Progress<'a> = &'a mut dyn FnMut(usize, f64) -> bool;

/// Which outer method ran (values as in the C ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Alternating,
    VarPro,
    Accelerated,
}

impl Method {
    pub fn c_value(self) -> i32 {
        match self {
            Method::Alternating => WLRA_METHOD_ALTERNATING,
            Method::VarPro => WLRA_METHOD_VARPRO,
            Method::Accelerated => WLRA_METHOD_ACCELERATED,
        }
    }

    pub fn run(
        self,
        ctx: &Context<'_>,
        start: Factors,
        progress: Progress<'_>,
    ) -> crate::Result<FitOutcome> {
        let mut outcome = match self {
            Method::Alternating => alternating::run(ctx, start, progress)?,
            Method::VarPro => varpro::run(ctx, start, progress)?,
            Method::Accelerated => accelerated::run(ctx, start, progress)?,
        };
        outcome.method_used = self;
        Ok(outcome)
    }
}

/// What every outer method reads: the problem, rank, options and the pool
/// the heavy work runs on.
pub struct Context<'a> {
    pub problem: &'a Problem<'a>,
    pub rank: usize,
    pub options: &'a Options,
    pub pool: &'a rayon::ThreadPool,
}

impl Context<'_> {
    /// f at `factors`, on the pool.
    pub fn objective(&self, factors: &Factors) -> crate::Result<f64> {
        let (u, v) = (factors.u.as_ref(), factors.v.as_ref());
        self.pool
            .install(|| objective(self.problem, u, v, self.options.ridge))
    }
}

/// f(U, V) = sum W (M - U V^T)^2 + ridge (||U||^2 + ||V||^2).
pub fn objective(
    problem: &Problem<'_>,
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    ridge: f64,
) -> crate::Result<f64> {
    let penalty = if ridge > 0.0 {
        ridge * (u.squared_norm_l2() + v.squared_norm_l2())
    } else {
        0.0
    };
    Ok(problem.weighted_residual(u, v)? + penalty)
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
    /// The inner accuracy each accepted iteration ran at (alternation).
    pub accuracies: Vec<f64>,
    /// Starts run (1 without restarts) and how many reached the best.
    pub starts: usize,
    pub starts_at_best: usize,
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
            accuracies: Vec::new(),
            starts: 1,
            starts_at_best: 1,
        }
    }

    /// One more completed iteration, at `factors` with objective `value`.
    pub fn accept(&mut self, factors: Factors, value: f64) {
        self.factors = factors;
        self.objective = value;
        self.iterations += 1;
    }
}
