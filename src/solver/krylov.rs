//! The one Krylov core of the iterative solvers: preconditioned conjugate
//! gradients on the normal equations of a batch of rows' least-squares
//! problems (CGLS with a right preconditioner R_i per row). It holds the
//! control flow and the scalar recurrences: which rows are still active,
//! the convergence test, step lengths, direction updates and the count of
//! work. The linear algebra is the caller's (`CgSystem`): the batched dense
//! rows of `block_cgls` (GEMMs over row blocks) and the single gathered
//! sparse rows of `sparse::sketch`.

/// A batch of rows' CG state and the operations on it. Row i's scalars
/// (norms, curvatures) are computed by the implementation, so each keeps its
/// own order of sums.
pub(crate) trait CgSystem {
    /// Whether a NaN stops a row (the single-row CGLS) or is left to reach
    /// the half-step's finiteness check, an error (the batched CG).
    const STOP_ON_NAN: bool;
    fn rows(&self) -> usize;
    /// gradient <- R^-T A^T b, the preconditioned gradient at x = 0.
    fn gradient_at_zero(&mut self);
    /// |gradient_i|: at x = 0, the reference the tolerance is relative to.
    fn gradient_norm(&self, i: usize) -> f64;
    /// x_i <- 0 (a row whose right-hand side is zero).
    fn zero_solution(&mut self, i: usize);
    /// From the warm start x: residual, gradient, direction <- gradient.
    fn start(&mut self);
    /// |gradient_i|^2.
    fn gradient_squared(&self, i: usize) -> f64;
    /// step <- R^-1 direction (zero on inactive rows), image <- A step.
    fn step_and_image(&mut self, active: &[bool]);
    /// step_i^T A^T A step_i, from the image.
    fn curvature(&self, i: usize) -> f64;
    /// x_i += alpha step_i, and the residual follows.
    fn advance(&mut self, i: usize, alpha: f64);
    /// gradient <- the preconditioned gradient of the current residual.
    fn update_gradient(&mut self);
    /// direction_i <- gradient_i + beta direction_i.
    fn new_direction(&mut self, i: usize, beta: f64);
}

/// What a CG run spent.
pub(crate) struct CgWork {
    /// Row-iterations started, summed over rows.
    pub started: usize,
    /// Row-iterations that ended at a non-positive curvature (rounding at
    /// convergence) instead of taking a step.
    pub curvature_stops: usize,
}

/// Run CG on the active rows of `system` from its warm start until each
/// row's preconditioned gradient is within `tol` of its value at x = 0, or
/// `max_iterations`. Rows with `active[i] == false` are left untouched.
pub(crate) fn run_cg<S: CgSystem>(
    system: &mut S,
    active: &mut [bool],
    tol: f64,
    max_iterations: usize,
) -> CgWork {
    run_cg_kept(
        system,
        active,
        (tol, max_iterations),
        &mut CgScalars::default(),
    )
}

/// The per-row scalars of `run_cg` (the gradients' norms at x = 0 and
/// their squares now), kept by a caller that runs many blocks.
#[derive(Default)]
pub(crate) struct CgScalars {
    reference: Vec<f64>,
    gamma: Vec<f64>,
}

/// `run_cg` with its per-row scalars in `scalars`.
pub(crate) fn run_cg_kept<S: CgSystem>(
    system: &mut S,
    active: &mut [bool],
    (tol, max_iterations): (f64, usize),
    scalars: &mut CgScalars,
) -> CgWork {
    let rb = system.rows();
    system.gradient_at_zero();
    let CgScalars { reference, gamma } = scalars;
    reference.clear();
    reference.extend((0..rb).map(|i| system.gradient_norm(i)));
    for i in 0..rb {
        if active[i] && reference[i] == 0.0 {
            system.zero_solution(i);
            active[i] = false;
        }
    }
    system.start();
    gamma.clear();
    gamma.extend((0..rb).map(|i| system.gradient_squared(i)));
    let mut work = CgWork {
        started: 0,
        curvature_stops: 0,
    };
    for _ in 0..max_iterations {
        for i in 0..rb {
            if active[i] && converged(gamma[i].sqrt(), tol * reference[i], S::STOP_ON_NAN) {
                active[i] = false;
            }
        }
        let live = active.iter().filter(|a| **a).count();
        if live == 0 {
            break;
        }
        work.started += live;
        system.step_and_image(active);
        for i in 0..rb {
            if !active[i] {
                continue;
            }
            let curvature = system.curvature(i);
            if curvature <= 0.0 || (S::STOP_ON_NAN && curvature.is_nan()) {
                active[i] = false;
                work.curvature_stops += 1;
                continue;
            }
            system.advance(i, gamma[i] / curvature);
        }
        system.update_gradient();
        for i in 0..rb {
            if !active[i] {
                continue;
            }
            let next = system.gradient_squared(i);
            system.new_direction(i, next / gamma[i]);
            gamma[i] = next;
        }
    }
    work
}

/// Whether a row's gradient norm has reached its target. With
/// `stop_on_nan` a NaN counts as reached.
fn converged(norm: f64, target: f64, stop_on_nan: bool) -> bool {
    if stop_on_nan {
        // Not greater, NaN on either side included.
        norm.partial_cmp(&target) != Some(std::cmp::Ordering::Greater)
    } else {
        norm <= target
    }
}
