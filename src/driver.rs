//! Alternating minimization: initialization, half-steps U <- argmin, V <-
//! argmin, the objective after each iteration, stopping, progress.
//!
//! With ridge = 0 the fixed factor is orthonormalized before each half-step
//! (LLR16's ALT). That leaves the product U V^T of the exact argmin
//! unchanged while keeping each row's Gram as well conditioned as its
//! weights allow. With ridge > 0 the penalty is not invariant under that
//! change of basis, so plain alternation runs.

use crate::error::{Error, Result};
use crate::init::{random_factors, svd_factors, Factors};
use crate::kernels::orthonormal::{orthonormal_basis, thin_qr};
use crate::options::{InitChoice, Options};
use crate::problem::Problem;
use crate::products::tall_times_small;
use crate::solver::{HalfStep, SolverKind};
use faer::{Mat, MatRef};

/// Inner accuracy of the first iteration when it adapts.
const LOOSE_ACCURACY: f64 = 1e-4;
/// Inner accuracy = this * the last relative objective decrease, so the
/// inner error stays well below the outer progress (measured: looser rules,
/// such as 0.1 sqrt(decrease), multiplied the outer iterations by 7).
const ACCURACY_PER_DECREASE: f64 = 1e-2;

/// What a fit produced. `cancelled` fits still carry the factors of their
/// last completed iteration.
pub struct FitOutcome {
    pub factors: Factors,
    pub iterations: usize,
    pub objective: f64,
    pub converged: bool,
    pub cancelled: bool,
    pub solver_used: SolverKind,
    /// Inner iterations per row and half-step, averaged over the fit.
    pub mean_inner_iterations: f64,
    /// The inner accuracy each accepted iteration ran at.
    pub accuracies: Vec<f64>,
}

/// The progress callback: (completed iterations, objective) -> keep going?
pub type Progress<'a> = &'a mut dyn FnMut(usize, f64) -> bool;

/// f(U, V) = sum W (M - U V^T)^2 + ridge (||U||^2 + ||V||^2).
pub fn objective(problem: &Problem<'_>, u: MatRef<'_, f64>, v: MatRef<'_, f64>, ridge: f64) -> f64 {
    let penalty = if ridge > 0.0 {
        ridge * (u.squared_norm_l2() + v.squared_norm_l2())
    } else {
        0.0
    };
    problem.weighted_residual(u, v) + penalty
}

/// Zero the rows of an orthonormal basis whose norm exceeds
/// clip * sqrt(k / rows) (LLR16's incoherence step), then re-orthonormalize.
fn clip_rows(q: Mat<f64>, clip: f64) -> Mat<f64> {
    let (rows, k) = q.shape();
    let limit = clip * (k as f64 / rows as f64).sqrt();
    let mut clipped = q;
    let mut any = false;
    for i in 0..rows {
        let norm = (0..k)
            .map(|j| clipped[(i, j)] * clipped[(i, j)])
            .sum::<f64>()
            .sqrt();
        if norm > limit {
            any = true;
            (0..k).for_each(|j| clipped[(i, j)] = 0.0);
        }
    }
    if any {
        orthonormal_basis(clipped.as_ref())
    } else {
        clipped
    }
}

/// The fixed factor as the half-step will see it, and the R with y = Q R
/// when it was orthonormalized.
fn prepare_fixed(y: &Mat<f64>, options: &Options) -> (Mat<f64>, Option<Mat<f64>>) {
    if options.ridge > 0.0 {
        return (y.clone(), None);
    }
    let (q, r) = thin_qr(y.as_ref());
    let q = if options.clip > 0.0 {
        clip_rows(q, options.clip)
    } else {
        q
    };
    (q, Some(r))
}

/// The other factor expressed against the new fixed basis: if the product
/// was X Y^T and Y = Q R, it is (X R^T) Q^T. The iterative solver starts
/// there. Flops: 2 rows k^2.
fn warm_start(x: &Mat<f64>, r: Option<&Mat<f64>>) -> Mat<f64> {
    match r {
        Some(r) => tall_times_small(x.as_ref(), r.transpose()),
        None => x.clone(),
    }
}

/// old + omega (solved - old): over-relaxation of a half-step. Row i's
/// objective is a convex quadratic with its minimum at the solved row, so
/// any omega in (0, 2) still lowers it. Flops: 3 rows k.
fn relax(old: &Mat<f64>, solved: Mat<f64>, omega: f64) -> Mat<f64> {
    if omega == 1.0 {
        return solved;
    }
    let mut relaxed = solved;
    for j in 0..relaxed.ncols() {
        let pairs = relaxed.col_mut(j).iter_mut().zip(old.col(j).iter());
        pairs.for_each(|(x, o)| *x = o + omega * (*x - o));
    }
    relaxed
}

/// Run the fit: this loop (and the progress callback) on the calling
/// thread, the heavy work on `pool`. `start` is used for
/// `InitChoice::Given` and must have matching shapes (checked by the caller).
pub fn fit(
    problem: &Problem<'_>,
    rank: usize,
    options: &Options,
    start: Option<&Factors>,
    progress: Progress<'_>,
    pool: &rayon::ThreadPool,
) -> Result<FitOutcome> {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let mut factors = match options.init {
        InitChoice::Svd => pool.install(|| svd_factors(problem, rank, options.seed)),
        InitChoice::Random => random_factors(n, m, rank, options.seed),
        InitChoice::Given => {
            let given = start.expect("validated: WLRA_INIT_GIVEN has factors");
            Factors {
                u: given.u.clone(),
                v: given.v.clone(),
            }
        }
    };
    let mut solver = crate::solver::for_options(options, problem);
    let ridge = options.ridge;
    let evaluate = |u: &Mat<f64>, v: &Mat<f64>| {
        pool.install(|| objective(problem, u.as_ref(), v.as_ref(), ridge))
    };
    let mut objective_now = evaluate(&factors.u, &factors.v);
    let final_accuracy = options.regression_tolerance;
    let mut accuracy = if options.adaptive_accuracy && solver.is_iterative() {
        LOOSE_ACCURACY.max(final_accuracy)
    } else {
        final_accuracy
    };
    let mut previous: Option<f64> = None;
    let mut iterations = 0;
    let mut converged = false;
    let transposed = problem.transposed();
    let (mut inner_work, mut half_steps) = (0.0, 0usize);
    let mut accuracies = Vec::new();
    while iterations < options.max_iterations {
        solver.set_accuracy(accuracy);
        let (v_fixed, v_r) = pool.install(|| prepare_fixed(&factors.v, options));
        let u_warm = pool.install(|| warm_start(&factors.u, v_r.as_ref()));
        let u_step = HalfStep {
            problem: *problem,
            fixed: v_fixed.as_ref(),
            ridge,
            warm_start: Some(u_warm.as_ref()),
            fixed_orthonormal: v_r.is_some(),
            par: faer::Par::rayon(pool.current_num_threads()),
        };
        // The first iteration corrects the start's scale; relaxing it
        // amplifies the start's error (measured: 100x the objective).
        let omega = if iterations == 0 {
            1.0
        } else {
            options.overrelaxation
        };
        let u_solved = relax(&u_warm, pool.install(|| solver.solve(&u_step))?, omega);
        inner_work += solver.inner_iterations() as f64 / n as f64;
        let (u, u_r) = pool.install(|| prepare_fixed(&u_solved, options));
        let v_warm = pool.install(|| warm_start(&v_fixed, u_r.as_ref()));
        let v_step = HalfStep {
            problem: transposed,
            fixed: u.as_ref(),
            ridge,
            warm_start: Some(v_warm.as_ref()),
            fixed_orthonormal: u_r.is_some(),
            par: faer::Par::rayon(pool.current_num_threads()),
        };
        let v = relax(&v_warm, pool.install(|| solver.solve(&v_step))?, omega);
        inner_work += solver.inner_iterations() as f64 / m as f64;
        half_steps += 2;
        let value = evaluate(&u, &v);
        if !value.is_finite() {
            return Err(Error::Numerical(format!(
                "the objective became non-finite at iteration {}",
                iterations + 1
            )));
        }
        let last = previous.unwrap_or(f64::INFINITY);
        // With exact half-steps a rise can only be rounding at the optimum:
        // keep the better factors and stop. With loose inner solves it means
        // the accuracy must tighten: redo the iteration at full accuracy.
        // Clipping may legitimately raise the objective, so it is exempt.
        let loose = accuracy > final_accuracy && solver.is_iterative();
        if previous.is_some() && value > last && options.clip == 0.0 {
            if loose {
                accuracy = final_accuracy;
                continue;
            }
            converged = true;
            break;
        }
        factors = Factors { u, v };
        accuracies.push(accuracy);
        objective_now = value;
        iterations += 1;
        previous = Some(value);
        let settled =
            last.is_finite() && (last - value) <= options.tolerance * last || value == 0.0;
        // Convergence counts only for iterations solved at full accuracy.
        converged = settled && !loose;
        if last.is_finite() && !converged {
            let decrease = ((last - value) / last).max(0.0);
            let wanted = if settled {
                0.0
            } else {
                ACCURACY_PER_DECREASE * decrease
            };
            accuracy = wanted.clamp(final_accuracy, accuracy);
        }
        if !progress(iterations, value) {
            return Ok(FitOutcome {
                factors,
                iterations,
                objective: objective_now,
                converged,
                cancelled: true,
                solver_used: solver.kind(),
                mean_inner_iterations: inner_work / half_steps.max(1) as f64,
                accuracies,
            });
        }
        if converged {
            break;
        }
    }
    Ok(FitOutcome {
        factors,
        iterations,
        objective: objective_now,
        converged,
        cancelled: false,
        solver_used: solver.kind(),
        mean_inner_iterations: inner_work / half_steps.max(1) as f64,
        accuracies,
    })
}
