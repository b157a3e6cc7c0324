//! Newton's model of the reduced problem: the Gauss-Newton matrix
//! (`gauss_newton`) plus the terms it drops, which carry the residuals.
//!
//! phi(X) = min_Y F(X, Y) / 2, so its Hessian is the Schur complement of
//! the joint Hessian of F / 2 on Y's blocks: with r_ef = m_ef - x_f^T y_e,
//! s_ef = w_ef r_ef and b_ef = G_e^+ (w_ef x_f) (`Elimination::projected`),
//! the joint Hessian's cross block is w_ef (y_e x_f^T - r_ef I), and
//!     H_fg = GN_fg + sum_e (s_eg y_e b_ef^T + s_ef b_eg y_e^T - s_ef s_eg G_e^+).
//! Where the residuals are large (data far from rank k) these terms are
//! what Gauss-Newton misses, and it converges only linearly; with them the
//! step is Newton's, quadratic near a minimum. With ridge = 0 and X
//! orthonormal, X^T g = 0 (phi is invariant under X -> X B), so the
//! projected Euclidean Hessian is the Riemannian one on the Grassmannian
//! and the re-orthonormalized step keeps Newton's rate.
//!
//! The residual terms are never assembled (that would triple the
//! assembly's flops per pair of entries): `ResidualTerms` applies them in
//! O(entries k + eliminated rows k^2), and `newton_step` solves Newton's
//! damped system by conjugate gradients preconditioned with the damped
//! Gauss-Newton matrix's Cholesky factor, which the trial has already
//! computed, starting from Gauss-Newton's step. Unlike Gauss-Newton's,
//! Newton's matrix can be indefinite away from a minimum: a direction of
//! non-positive curvature ends the solve and the trial keeps Gauss-Newton's
//! step.

use super::damped_step::{gauge_part, mean_diagonal, project_out_gauge, DampedMatrix, Step};
use super::elimination::{dot, eliminate_keeping_inverses, Elimination};
use super::gauss_newton::Model;
use super::observed::Observed;
use crate::error::Result;
use crate::memory::try_filled;

/// Conjugate-gradient iterations at most per Newton step. Preconditioned
/// by Gauss-Newton's matrix, the iteration matrix is I + D^-1 E, whose
/// spread is Gauss-Newton's linear rate (0.4 to 0.7 on the Face and
/// Giraffe): a handful of iterations reach the tolerance below.
const MAX_CG_ITERATIONS: usize = 30;
/// Relative residual at which the Newton system counts as solved.
const CG_TOLERANCE: f64 = 1e-3;

/// Newton's residual terms at X, as a product.
pub(super) struct ResidualTerms<'a> {
    obs: &'a Observed,
    elim: &'a Elimination,
    k: usize,
    /// s = w (m - y_e^T x_f) per entry, in entry order.
    scaled: Vec<f64>,
}

impl<'a> ResidualTerms<'a> {
    pub(super) fn new(
        obs: &'a Observed,
        x: &[f64],
        elim: &'a Elimination,
        k: usize,
    ) -> Result<Self> {
        let mut scaled = try_filled(obs.nnz(), 0.0, "VarPro's weighted residuals")?;
        for e in 0..obs.n_eliminated {
            let ye = &elim.y[e * k..(e + 1) * k];
            for pos in obs.row(e) {
                let xf = &x[obs.free[pos] * k..][..k];
                scaled[pos] = obs.w[pos] * (obs.m[pos] - dot(ye, xf));
            }
        }
        Ok(ResidualTerms {
            obs,
            elim,
            k,
            scaled,
        })
    }

    /// out = E v (p x k, rows contiguous). Per eliminated row e, with
    /// z = sum_g s_eg v_g, beta = sum_g (y_e^T v_g) b_eg and
    /// gamma = G_e^+ z, entry (e, f) adds y_e (b_ef^T z) + s_ef (beta - gamma).
    /// Flops: about 10 k per entry and 2 k^2 per eliminated row; one
    /// sequential pass, so the same bits on any thread count.
    pub(super) fn apply(&self, v: &[f64], out: &mut [f64]) {
        let (obs, elim, k) = (self.obs, self.elim, self.k);
        out.fill(0.0);
        let (mut z, mut beta, mut gamma) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
        for e in 0..obs.n_eliminated {
            let ye = &elim.y[e * k..(e + 1) * k];
            let inverse = &elim.inverses[e * k * k..(e + 1) * k * k];
            z.fill(0.0);
            beta.fill(0.0);
            for pos in obs.row(e) {
                let vg = &v[obs.free[pos] * k..][..k];
                let (s, t) = (self.scaled[pos], dot(ye, vg));
                let b = &elim.projected[pos * k..(pos + 1) * k];
                z.iter_mut().zip(vg).for_each(|(z, v)| *z += s * v);
                beta.iter_mut().zip(b).for_each(|(o, b)| *o += t * b);
            }
            gamma.fill(0.0);
            for (column, &zc) in inverse.chunks_exact(k).zip(&z) {
                gamma.iter_mut().zip(column).for_each(|(o, g)| *o += g * zc);
            }
            for pos in obs.row(e) {
                let b = &elim.projected[pos * k..(pos + 1) * k];
                let (along, s) = (dot(b, &z), self.scaled[pos]);
                let o = &mut out[obs.free[pos] * k..][..k];
                for a in 0..k {
                    o[a] += ye[a] * along + s * (beta[a] - gamma[a]);
                }
            }
        }
    }
}

/// The damped Gauss-Newton operator the factor in `damped` inverts:
/// H v + lambda s v + s (X X^T (x) I) v.
struct Damped<'a> {
    model: &'a Model,
    gauge: Option<&'a [f64]>,
    lambda_scale: f64,
    scale: f64,
}

impl Damped<'_> {
    fn apply(&self, v: &[f64]) -> Vec<f64> {
        let (p, k) = (self.model.p, self.model.k);
        let mut out = self.model.times(v);
        out.iter_mut()
            .zip(v)
            .for_each(|(o, v)| *o += self.lambda_scale * v);
        if let Some(x) = self.gauge {
            // s X (X^T v): the gauge directions' stiffness.
            let part = gauge_part(v, x, p, k);
            out.iter_mut()
                .zip(&part)
                .for_each(|(o, g)| *o += self.scale * g);
        }
        out
    }
}

fn dot_all(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Newton's step at the trial's damping: conjugate gradients on
/// (D + E) delta = -g from Gauss-Newton's step `gauss_newton` (which
/// solves D delta = -g), preconditioned by D's factor in `damped`. None
/// where a search direction has non-positive curvature (Newton's matrix is
/// not positive definite there: the caller keeps Gauss-Newton's step).
/// Flops per iteration: 4 (p k)^2 (the factor's two solves, H v) and one
/// `ResidualTerms::apply`.
pub(super) fn newton_step(
    model: &Model,
    damped: &DampedMatrix,
    (gauge, lambda_scale, scale): (Option<&[f64]>, f64, f64),
    terms: &ResidualTerms<'_>,
    gauss_newton: &Step,
) -> Result<Option<Step>> {
    let (p, k) = (model.p, model.k);
    let dim = p * k;
    let operator = Damped {
        model,
        gauge,
        lambda_scale,
        scale,
    };
    // One buffer for E v across the iterations (no allocation per product).
    let mut extra = vec![0.0; dim];
    let mut newton_times = |v: &[f64], out: &mut Vec<f64>| {
        *out = operator.apply(v);
        terms.apply(v, &mut extra);
        out.iter_mut().zip(&extra).for_each(|(o, e)| *o += e);
    };
    let mut delta = gauss_newton.delta.clone();
    // r = -g - (D + E) delta = -E delta, since D delta = -g.
    let mut r = vec![0.0; dim];
    terms.apply(&delta, &mut r);
    r.iter_mut().for_each(|v| *v = -*v);
    let goal = CG_TOLERANCE * dot_all(&model.gradient, &model.gradient).sqrt();
    let mut z = r.clone();
    damped.solve(dim, &mut z)?;
    let mut direction = z.clone();
    let mut rz = dot_all(&r, &z);
    let mut product = Vec::new();
    for _ in 0..MAX_CG_ITERATIONS {
        if dot_all(&r, &r).sqrt() <= goal {
            break;
        }
        newton_times(&direction, &mut product);
        let curvature = dot_all(&direction, &product);
        // Non-positive or NaN: not a positive definite direction.
        if curvature.is_nan() || curvature <= 0.0 {
            return Ok(None);
        }
        let alpha = rz / curvature;
        delta
            .iter_mut()
            .zip(&direction)
            .for_each(|(d, p)| *d += alpha * p);
        r.iter_mut()
            .zip(&product)
            .for_each(|(r, q)| *r -= alpha * q);
        z.copy_from_slice(&r);
        damped.solve(dim, &mut z)?;
        let rz_next = dot_all(&r, &z);
        let beta = rz_next / rz;
        rz = rz_next;
        direction
            .iter_mut()
            .zip(&z)
            .for_each(|(d, z)| *d = z + beta * *d);
    }
    if let Some(x) = gauge {
        project_out_gauge(&mut delta, x, p, k);
    }
    if !delta.iter().all(|d| d.is_finite()) {
        return Ok(None);
    }
    // The undamped Newton model's decrease of phi.
    terms.apply(&delta, &mut extra);
    let quadratic = dot_all(&model.times(&delta), &delta) + dot_all(&extra, &delta);
    let predicted = -dot_all(&model.gradient, &delta) - 0.5 * quadratic;
    Ok(Some(Step { delta, predicted }))
}

/// Newton's step at damping `lambda` from Gauss-Newton's at `now` (whose
/// damped matrix's factor `damped` holds), or None where Newton's matrix is
/// not positive definite along the way.
pub(super) fn newton_refined(
    model: &Model,
    damped: &DampedMatrix,
    gauge: Option<&[f64]>,
    (lambda, ridge): (f64, f64),
    (obs, now, k): (&Observed, &super::Point, usize),
    gauss_newton: &Step,
) -> Result<Option<Step>> {
    // The rows' G^+ at `now`: kept by its elimination when it was a trial
    // under Newton's model, else an elimination again, keeping them (the
    // same operations, so the same Y and projections as `now.elim`).
    let again;
    let elim = if now.elim.inverses.is_empty() {
        again = eliminate_keeping_inverses(obs, &now.x, k, ridge)?;
        &again
    } else {
        &now.elim
    };
    let terms = ResidualTerms::new(obs, &now.x, elim, k)?;
    let scale = mean_diagonal(model, model.p * k);
    newton_step(
        model,
        damped,
        (gauge, lambda * scale, scale),
        &terms,
        gauss_newton,
    )
}

/// Gauss-Newton's undamped decreases in a row that Newton's model waits
/// for: five, whose three ratios two iterations apart must agree.
const STEADY_DECREASES: usize = 5;
/// How far apart those ratios may be. Gauss-Newton's error near a minimum
/// contracts by a fixed factor per iteration (the spectral radius of its
/// dropped term against J^T J), so decreases two iterations apart shrink
/// by a steady ratio; far from one the ratios jump (UM boy's random
/// starts: 0.03 to 0.9 from one iteration to the next). Two iterations
/// apart, because where two slow modes alternate the one-step ratios
/// alternate too (0.95, 1.01, 0.95, ... with a ridge in tests/varpro_newton.rs).
/// Measured on Giraffe and the Face from ten random starts each: Newton's
/// steps began only inside the basin of the optimum Gauss-Newton alone
/// reaches.
const STEADY_SPREAD: f64 = 0.1;

/// What `ModelChoice` learns from an accepted step.
#[derive(Clone, Copy)]
pub(super) struct AcceptedStep {
    /// Taken on Newton's model.
    pub newton: bool,
    /// Accepted only after raising the damping (or above the damping at
    /// which a step counts as Gauss-Newton's own).
    pub damped: bool,
    /// The objective's decrease.
    pub decrease: f64,
}

/// Which model the next VarPro step uses. Gauss-Newton's, the robust one,
/// until its decreases shrink by a steady ratio below one with undamped
/// steps: it is then converging linearly inside a basin, where Newton's
/// model converges quadratically (Newton everywhere was measured too: from
/// random starts it reached the Dinosaur's optimum from 1 of 6 against 5
/// of 6). Back to Gauss-Newton, and a fresh count, as soon as a Newton
/// step needs damping: outside the region where Newton's full step is
/// trusted.
#[derive(Default)]
pub(super) struct ModelChoice {
    /// Gauss-Newton's recent undamped decreases, newest last.
    decreases: Vec<f64>,
    newton: bool,
}

impl ModelChoice {
    pub(super) fn next_is_newton(&mut self, step: AcceptedStep) -> bool {
        if self.newton {
            self.newton = step.newton && !step.damped;
            if !self.newton {
                self.decreases.clear();
            }
            return self.newton;
        }
        if step.damped {
            self.decreases.clear();
            return false;
        }
        if self.decreases.len() == STEADY_DECREASES {
            self.decreases.remove(0);
        }
        self.decreases.push(step.decrease);
        if self.decreases.len() < STEADY_DECREASES {
            return false;
        }
        let ratios = self.decreases.windows(3).map(|d| d[2] / d[0]);
        let (lowest, highest) = ratios.fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
            (lo.min(r), hi.max(r))
        });
        self.newton = lowest > 0.0 && highest < 1.0 && highest - lowest <= STEADY_SPREAD;
        self.newton
    }
}

#[cfg(test)]
mod tests {
    use super::super::elimination::eliminate_keeping_inverses;
    use super::super::gauss_newton::assemble;
    use super::super::test_problems::{free_factor, hash, observed};
    use super::*;

    /// Newton's H v against the central difference of the gradient along v
    /// (the gradient is exact: the envelope theorem), on a weighted problem
    /// with missing entries and residuals far from zero, at ranks the
    /// assembly compiles in (3) and not (9), with and without a ridge.
    #[test]
    fn newton_matrix_is_the_derivative_of_the_gradient() {
        for (k, ridge) in [(3, 0.0), (3, 0.3), (9, 0.0), (9, 0.2)] {
            let p = 14;
            let obs = observed(40, p, k, 0.7);
            let x = free_factor(p, k);
            let gradient_at = |x: &[f64]| {
                let elim = eliminate_keeping_inverses(&obs, x, k, ridge).unwrap();
                assemble(&obs, x, &elim, k, ridge, Vec::new())
                    .unwrap()
                    .gradient
            };
            let elim = eliminate_keeping_inverses(&obs, &x, k, ridge).unwrap();
            let gauss_newton = assemble(&obs, &x, &elim, k, ridge, Vec::new()).unwrap();
            let terms = ResidualTerms::new(&obs, &x, &elim, k).unwrap();
            let v: Vec<f64> = (0..p * k).map(|t| hash(t, 9, 6) - 0.5).collect();
            let step = 1e-5;
            let moved = |sign: f64| -> Vec<f64> {
                let y: Vec<f64> = x.iter().zip(&v).map(|(x, v)| x + sign * step * v).collect();
                gradient_at(&y)
            };
            let (plus, minus) = (moved(1.0), moved(-1.0));
            let difference: Vec<f64> = plus
                .iter()
                .zip(&minus)
                .map(|(a, b)| (a - b) / (2.0 * step))
                .collect();
            let gap = |hv: &[f64]| {
                let d: f64 = hv
                    .iter()
                    .zip(&difference)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum();
                (d / difference.iter().map(|b| b * b).sum::<f64>()).sqrt()
            };
            let gn_v = gauss_newton.times(&v);
            let mut extra = vec![0.0; p * k];
            terms.apply(&v, &mut extra);
            let newton_v: Vec<f64> = gn_v.iter().zip(&extra).map(|(a, b)| a + b).collect();
            let (newton_gap, gn_gap) = (gap(&newton_v), gap(&gn_v));
            println!("k {k}, ridge {ridge}: Newton {newton_gap:.1e}, Gauss-Newton {gn_gap:.1e}");
            assert!(
                newton_gap <= 1e-7,
                "k {k}, ridge {ridge}: Newton's H v off by {newton_gap:e}"
            );
            // The residuals are not small: Gauss-Newton's matrix is not the Hessian.
            assert!(
                gn_gap >= 1e-2,
                "k {k}, ridge {ridge}: Gauss-Newton's gap only {gn_gap:e}"
            );
        }
    }
}

#[cfg(test)]
mod choice_tests {
    use super::{AcceptedStep, ModelChoice};

    fn gauss_newton(decrease: f64) -> AcceptedStep {
        AcceptedStep {
            newton: false,
            damped: false,
            decrease,
        }
    }

    /// Decreases shrinking by a steady 0.5 switch to Newton after five
    /// (three ratios two apart); ratios that jump, or a damped step, do
    /// not; a Newton step that needed damping, or did not happen, returns
    /// to Gauss-Newton and starts the count again.
    #[test]
    fn newton_follows_a_steady_linear_rate_and_leaves_on_damping() {
        let mut choice = ModelChoice::default();
        let steady = [16.0, 8.0, 4.0, 2.0];
        assert!(steady
            .iter()
            .all(|&d| !choice.next_is_newton(gauss_newton(d))));
        assert!(choice.next_is_newton(gauss_newton(1.0)));
        let newton = AcceptedStep {
            newton: true,
            damped: false,
            decrease: 0.1,
        };
        assert!(choice.next_is_newton(newton));
        let damped_newton = AcceptedStep {
            damped: true,
            ..newton
        };
        assert!(!choice.next_is_newton(damped_newton));
        // The count starts again: five more steady decreases are needed.
        let again = [0.5, 0.25, 0.125, 0.0625];
        assert!(again
            .iter()
            .all(|&d| !choice.next_is_newton(gauss_newton(d))));
        assert!(choice.next_is_newton(gauss_newton(0.03125)));
        // A step that fell back to Gauss-Newton inside the trials.
        assert!(!choice.next_is_newton(gauss_newton(0.03)));

        // Two alternating slow modes: one-step ratios 0.5 and 1.9, two
        // steps apart a steady 0.95.
        let mut alternating = ModelChoice::default();
        let decreases = [1.0, 0.5, 0.95, 0.475, 0.9025];
        let switched: Vec<bool> = decreases
            .iter()
            .map(|&d| alternating.next_is_newton(gauss_newton(d)))
            .collect();
        assert_eq!(switched, [false, false, false, false, true]);

        let mut jumpy = ModelChoice::default();
        let decreases = [8.0, 4.0, 3.9, 0.5, 0.45, 0.44, 0.05];
        assert!(decreases
            .iter()
            .all(|&d| !jumpy.next_is_newton(gauss_newton(d))));

        let mut damped = ModelChoice::default();
        for (i, d) in [32.0, 16.0, 8.0, 4.0, 2.0, 1.0].into_iter().enumerate() {
            let step = AcceptedStep {
                damped: i == 3,
                ..gauss_newton(d)
            };
            assert!(!damped.next_is_newton(step), "step {i}");
        }

        // Ratios at or above one (a plateau that is not converging).
        let mut flat = ModelChoice::default();
        assert!([1.0; 8]
            .iter()
            .all(|&d| !flat.next_is_newton(gauss_newton(d))));
    }
}
