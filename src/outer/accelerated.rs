//! Accelerated alternation: alternation's own half-steps, with Anderson
//! acceleration (type II, Walker and Ni 2011) of the map V -> V' that one
//! alternating iteration is, over a window of the last few iterates,
//! restarted whenever an extrapolation fails (as WLRMA does, Tuzhilina and
//! Hastie 2021).
//!
//! Each iteration ends, as alternation's does, at a plain point P = (U, G)
//! after a V half-step, objective f_plain. The next one extrapolates V_c
//! from the history and runs the U half-step from it (objective f_c); V_c
//! is kept only when f_c < f_plain, otherwise the U half-step runs from G
//! (alternation's own next half-step) and the history restarts. Then the V
//! half-step gives the next P. Both branches lower the objective; an
//! accepted extrapolation costs the two half-steps of a plain iteration
//! and one more objective, a rejected one a half-step more.

use super::alternating::{accept_iteration, stationary, verdict, AccuracySchedule, Verdict};
use super::sides::{Sides, StepSettings};
use super::FitOutcome;
use crate::error::{Error, Result};
use crate::init::Factors;
use crate::kernels::spd_solve::cholesky_upper;
use crate::memory::{try_filled, try_zeros};
use crate::options::Options;
use crate::products::tall_times_small_into;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

/// Differences kept in the history. Iterations to 1e-6 of f* on the
/// heteroscedastic benchmark at 1000 x 1000, k = 16 (plain: 144), by
/// window: 2: 52, 3: 38, 5: 35, 8: 28, 12: 29, 16: 29.
const WINDOW: usize = 8;
/// Tikhonov term of the least-squares problem for the mixing weights,
/// relative to its (unit) diagonal: bounds the weights where the residual
/// differences are nearly dependent.
const REGULARIZATION: f64 = 1e-10;
/// Extrapolate only while alternation converges slowly: the last decrease
/// of the objective at least this fraction of the one before. Where it
/// falls faster, plain alternation finishes in a few iterations and an
/// extrapolation would only add its objective (and, rejected, a
/// half-step): measured on the easy problem of benches/accelerated.rs,
/// 14 % more time with the defaults without this test.
const SLOW_RATE: f64 = 0.1;
/// The gauge basis B is replaced (and the history restarted) once
/// sum sin^2 of the principal angles between span(U) and span(B) exceeds
/// this: below it every angle is under 45 degrees, so B^T U stays
/// invertible with condition at most sqrt(2) times U's.
const GAUGE_DRIFT: f64 = 0.5;

/// a^T b for tall a, b (rows x k): a k x k reduction, sequential so its
/// bits do not depend on the thread count. Flops: 2 rows k^2.
fn cross(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let mut out = try_zeros(a.ncols(), b.ncols(), "a k x k cross product")?;
    matmul(
        out.as_mut(),
        Accum::Replace,
        a.transpose(),
        b,
        1.0,
        Par::Seq,
    );
    Ok(out)
}

/// sum a o b, column by column in a fixed order.
fn inner(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    let cols = a.col_iter().zip(b.col_iter());
    cols.map(|(x, y)| x.iter().zip(y.iter()).map(|(p, q)| p * q).sum::<f64>())
        .sum()
}

/// x = S^-1 b for S = R^T R (R upper triangular, `cholesky_upper`), in
/// place, sequentially.
fn cholesky_solve(r: &Mat<f64>, b: &mut [f64]) {
    let k = b.len();
    for i in 0..k {
        let s: f64 = (0..i).map(|p| r[(p, i)] * b[p]).sum();
        b[i] = (b[i] - s) / r[(i, i)];
    }
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|p| r[(i, p)] * b[p]).sum();
        b[i] = (b[i] - s) / r[(i, i)];
    }
}

/// Anderson's history in the gauge-free coordinates (see `Gauge`): the
/// last map value g and residual r = g - x, and up to WINDOW differences
/// of consecutive ones. Memory: 2 (WINDOW + 1) rows k doubles, reserved
/// once.
struct History {
    dg: Vec<Mat<f64>>,
    dr: Vec<Mat<f64>>,
    last_g: Mat<f64>,
    last_r: Mat<f64>,
    has_last: bool,
    len: usize,
    next: usize,
}

impl History {
    fn new(rows: usize, k: usize) -> Result<History> {
        let what = "the acceleration history";
        let slots = |_| try_zeros(rows, k, what);
        Ok(History {
            dg: (0..WINDOW).map(slots).collect::<Result<_>>()?,
            dr: (0..WINDOW).map(slots).collect::<Result<_>>()?,
            last_g: try_zeros(rows, k, what)?,
            last_r: try_zeros(rows, k, what)?,
            has_last: false,
            len: 0,
            next: 0,
        })
    }

    /// Forget the differences; with `keep_last`, the last point stays (it
    /// is in the current gauge and starts the new history).
    fn restart(&mut self, keep_last: bool) {
        self.len = 0;
        self.next = 0;
        self.has_last &= keep_last;
    }

    fn push(&mut self, g: &Mat<f64>, r: &Mat<f64>) {
        if self.has_last {
            let slot = self.next;
            // In place: no temporary of the factor's size.
            self.dg[slot].copy_from(g);
            self.dg[slot] -= &self.last_g;
            self.dr[slot].copy_from(r);
            self.dr[slot] -= &self.last_r;
            self.next = (slot + 1) % WINDOW;
            self.len = (self.len + 1).min(WINDOW);
        }
        self.last_g.copy_from(g);
        self.last_r.copy_from(r);
        self.has_last = true;
    }

    /// x_c = g - sum_j gamma_j dg_j, gamma = argmin ||r - sum_j gamma_j dr_j||
    /// (regularized, columns scaled to unit norm); None without differences
    /// or when the weights are not finite. Flops: about (len^2 + 4 len) rows k.
    /// Memory: the extrapolated point (a spare of `sides`); the rest is
    /// bounded by WINDOW.
    fn extrapolate(&self, sides: &mut dyn Sides) -> Result<Option<Mat<f64>>> {
        let used: Vec<usize> = (0..self.len)
            .filter(|&j| inner(&self.dr[j], &self.dr[j]) > 0.0)
            .collect();
        if used.is_empty() {
            return Ok(None);
        }
        let p = used.len();
        let scale: Vec<f64> = used
            .iter()
            .map(|&j| inner(&self.dr[j], &self.dr[j]).sqrt())
            .collect();
        let gram = Mat::from_fn(p, p, |a, b| {
            let value = inner(&self.dr[used[a]], &self.dr[used[b]]) / (scale[a] * scale[b]);
            if a == b {
                value + REGULARIZATION
            } else {
                value
            }
        });
        let mut gamma: Vec<f64> = (0..p)
            .map(|a| inner(&self.dr[used[a]], &self.last_r) / scale[a])
            .collect();
        let Some(r) = cholesky_upper(gram.as_ref())? else {
            return Ok(None);
        };
        cholesky_solve(&r, &mut gamma);
        if !gamma.iter().all(|g| g.is_finite()) {
            return Ok(None);
        }
        let mut x = sides.take_spare(self.last_g.nrows(), self.last_g.ncols())?;
        x.copy_from(&self.last_g);
        for (a, &j) in used.iter().enumerate() {
            let c = gamma[a] / scale[a];
            let cols = x.col_iter_mut().zip(self.dg[j].col_iter());
            cols.for_each(|(xc, dc)| xc.iter_mut().zip(dc.iter()).for_each(|(v, d)| *v -= c * d));
        }
        Ok(Some(x))
    }
}

/// The coordinates Anderson works in. With ridge = 0 alternation's
/// half-step orthonormalizes the fixed factor, so the V it returns is
/// expressed against whatever basis the QR of U picked: consecutive V's
/// sit in unrelated gauges and their differences mean nothing. Anderson
/// works instead on x = X^T B, the product X = U V^T (the same whatever
/// factorization gives it) times a fixed orthonormal n x k basis B. x is
/// linear in X, so differences and affine combinations of iterates are
/// well defined; span(x) = span(V) while B^T U is invertible, which the
/// drift test keeps so. With ridge > 0 no half-step rotates anything and V
/// itself is the coordinate.
struct Gauge {
    basis: Option<Mat<f64>>,
    /// Room for the basis, reserved at the start (n x k) when half-steps
    /// orthonormalize, so replacing it allocates nothing.
    room: Option<Mat<f64>>,
}

impl Gauge {
    /// Whether `q_u` (orthonormal) has drifted too far from the basis;
    /// true without a basis.
    fn drifted(&self, q_u: &Mat<f64>) -> Result<bool> {
        let Some(b) = &self.basis else {
            return Ok(true);
        };
        let t = cross(q_u.as_ref(), b.as_ref())?;
        let k = t.ncols() as f64;
        // ||Q_U^T B||^2 = sum cos^2 of the principal angles.
        Ok(k - t.squared_norm_l2() > GAUGE_DRIFT)
    }

    /// X^T B for the product X = u v^T (n x k, m x k): v (u^T B), into
    /// `out` (m x k).
    fn coordinates(&self, u: &Mat<f64>, v: &Mat<f64>, out: &mut Mat<f64>) -> Result<()> {
        match &self.basis {
            Some(b) => {
                let ub = cross(u.as_ref(), b.as_ref())?;
                tall_times_small_into(v.as_ref(), ub.as_ref(), out.as_mut());
            }
            None => out.copy_from(v),
        }
        Ok(())
    }
}

/// A starting U for the half-step from v_c: the least-squares U with
/// U v_c^T closest to the plain step's product u g^T, i.e.
/// u (g^T v_c) (v_c^T v_c)^-1 (iterative solvers start there; the exact
/// one ignores it), into `out` (u's shape). Falls back to u when
/// v_c^T v_c is singular.
fn warm_for(u: &Mat<f64>, g: &Mat<f64>, v_c: &Mat<f64>, out: &mut Mat<f64>) -> Result<()> {
    let Some(r) = cholesky_upper(cross(v_c.as_ref(), v_c.as_ref())?.as_ref())? else {
        out.copy_from(u);
        return Ok(());
    };
    // C = (v_c^T v_c)^-1 (v_c^T g), so u (g^T v_c) (v_c^T v_c)^-1 = u C^T.
    let mut c = cross(v_c.as_ref(), g.as_ref())?;
    let mut col = try_filled(c.nrows(), 0.0, "a column of a k x k solve")?;
    for j in 0..c.ncols() {
        col.iter_mut()
            .zip(c.col(j).iter())
            .for_each(|(x, v)| *x = *v);
        cholesky_solve(&r, &mut col);
        col.iter().enumerate().for_each(|(i, &x)| c[(i, j)] = x);
    }
    tall_times_small_into(u.as_ref(), c.transpose(), out.as_mut());
    Ok(())
}

/// The settings of accelerated alternation's half-steps: no relaxation
/// and no clipping (it falls back to alternation when asked for either).
fn settings(accuracy: f64) -> StepSettings {
    StepSettings {
        omega: 1.0,
        clip: false,
        accuracy,
    }
}

/// The U half-step from the extrapolated `v_c`, kept when its objective is
/// below `f_plain`, the plain point's; None otherwise (a solve broken by a
/// wild extrapolation included).
fn try_extrapolation(
    sides: &mut dyn Sides,
    accuracy: f64,
    plain: &Factors,
    f_plain: f64,
    v_c: &Mat<f64>,
) -> Result<Option<Factors>> {
    let mut warm = sides.take_spare(plain.u.nrows(), plain.u.ncols())?;
    sides
        .pool()
        .install(|| warm_for(&plain.u, &plain.v, v_c, &mut warm))?;
    let step = sides.half_step(true, &warm, v_c, settings(accuracy));
    sides.keep_spare(warm);
    let (v, u) = match step {
        Ok(step) => step,
        Err(Error::Numerical(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let point = Factors { u, v };
    let f_c = sides.objective(&point)?;
    if f_c < f_plain {
        return Ok(Some(point));
    }
    sides.keep_spare(point.u);
    sides.keep_spare(point.v);
    Ok(None)
}

/// One iteration's half-steps: the U half-step from the extrapolated
/// `candidate` when that beats the plain point (else the history restarts
/// and it runs from the plain point), then the V half-step. Returns the U
/// step's point and the next plain point.
fn half_steps(
    sides: &mut dyn Sides,
    accuracy: f64,
    run: &FitOutcome,
    candidate: Option<Mat<f64>>,
    history: &mut History,
) -> Result<(Factors, Factors)> {
    let mut extrapolated = None;
    if let Some(v_c) = candidate {
        let plain = &run.factors;
        extrapolated = try_extrapolation(sides, accuracy, plain, run.objective, &v_c)?;
        sides.keep_spare(v_c);
        if extrapolated.is_none() {
            history.restart(true);
        }
    }
    let point = match extrapolated {
        Some(point) => point,
        None => {
            let now = &run.factors;
            let (v, u) = sides.half_step(true, &now.u, &now.v, settings(accuracy))?;
            Factors { u, v }
        }
    };
    // The V half-step: the next plain point, (q_u, g).
    let (q_u, g) = sides.half_step(false, &point.v, &point.u, settings(accuracy))?;
    Ok((point, Factors { u: q_u, v: g }))
}

/// The iteration's move into the history, in gauge-free coordinates (the
/// basis replaced first, and the history restarted, when U drifted from it).
fn record(
    sides: &mut dyn Sides,
    gauge: &mut Gauge,
    history: &mut History,
    point: &Factors,
    plain: &Factors,
) -> Result<()> {
    if sides.orthonormalizes() && gauge.drifted(&plain.u)? {
        let mut basis = match gauge.basis.take().or(gauge.room.take()) {
            Some(basis) => basis,
            None => try_zeros(plain.u.nrows(), plain.u.ncols(), "the acceleration's basis")?,
        };
        basis.copy_from(&plain.u);
        gauge.basis = Some(basis);
        history.restart(false);
    }
    let (m, k) = point.v.shape();
    let (mut x, mut gx) = (sides.take_spare(m, k)?, sides.take_spare(m, k)?);
    sides.pool().install(|| -> Result<_> {
        gauge.coordinates(&point.u, &point.v, &mut x)?;
        gauge.coordinates(&plain.u, &plain.v, &mut gx)
    })?;
    // x becomes the residual gx - x in place (no temporary): the same
    // entries, each one subtraction.
    x.as_mut()
        .col_iter_mut()
        .zip(gx.col_iter())
        .for_each(|(xc, gc)| xc.iter_mut().zip(gc.iter()).for_each(|(v, g)| *v = g - *v));
    history.push(&gx, &x);
    sides.keep_spare(x);
    sides.keep_spare(gx);
    Ok(())
}

/// Accelerated alternation over `sides` (one process's or a distributed
/// fit's, as `alternating::alternate`).
pub fn accelerate(sides: &mut dyn Sides, start: Factors, options: &Options) -> Result<FitOutcome> {
    let (m, k) = (start.v.nrows(), start.v.ncols());
    let mut schedule = AccuracySchedule::new(options, sides.iterative());
    let start_objective = sides.objective(&start)?;
    let mut run = FitOutcome::new(start, start_objective);
    let mut history = History::new(m, k)?;
    let room = if sides.orthonormalizes() {
        Some(try_zeros(
            run.factors.u.nrows(),
            k,
            "the acceleration's basis",
        )?)
    } else {
        None
    };
    let mut gauge = Gauge { basis: None, room };
    let mut candidate: Option<Mat<f64>> = None;
    let mut previous = f64::INFINITY;
    let mut last_decrease = f64::INFINITY;
    while run.iterations < options.max_iterations {
        let loose = schedule.loose();
        let taken = candidate.take();
        let (point, plain) = half_steps(sides, schedule.now, &run, taken, &mut history)?;
        let value = sides.objective(&plain)?;
        if !value.is_finite() {
            return Err(Error::Numerical(format!(
                "the objective became non-finite at iteration {}",
                run.iterations + 1
            )));
        }
        let mut proceed = |iterations: usize, value: f64| sides.proceed(iterations, value);
        // Clipping never runs here (it falls back to alternation).
        match verdict(previous, value, loose) {
            Verdict::RoseRetry => {
                schedule.tighten_fully();
                history.restart(false);
                continue;
            }
            Verdict::RoseAtOptimum => {
                stationary(&mut run, options, &mut proceed);
                break;
            }
            Verdict::Accept => {}
        }
        let last = std::mem::replace(&mut previous, value);
        let objectives = (last, value);
        let tolerance = options.tolerance;
        let (stop, spent) = accept_iteration(
            &mut run,
            &mut schedule,
            tolerance,
            objectives,
            plain,
            &mut proceed,
        );
        sides.keep_spare(spent.u);
        sides.keep_spare(spent.v);
        if stop {
            break;
        }
        // The iteration's plain point is now the run's factors.
        record(sides, &mut gauge, &mut history, &point, &run.factors)?;
        sides.keep_spare(point.u);
        sides.keep_spare(point.v);
        let decrease = last - value;
        if decrease >= SLOW_RATE * last_decrease {
            candidate = history.extrapolate(sides)?;
        }
        last_decrease = decrease;
    }
    if let Some(failure) = sides.take_failure() {
        return Err(failure);
    }
    run.solver_used = sides.solver_kind();
    run.mean_inner_iterations = sides.mean_inner_iterations();
    run.narrow_half_steps = sides.narrow_half_steps();
    Ok(run)
}
