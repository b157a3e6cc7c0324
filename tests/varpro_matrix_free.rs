//! Matrix-free VarPro (issue 25, acceptance 5; docs/varpro_matrix_free.md):
//! it agrees with dense VarPro on planted problems, it is what an explicit
//! VARPRO runs beyond the dense limit, and it reaches the planted optimum
//! of a problem with more than 20,000 free unknowns. H v against the dense
//! matrix is a unit test beside the code (`gauss_newton_product`).
//!
//!     cargo test --release --test varpro_matrix_free -- --nocapture

mod common;

use common::{isolated_mask, planted, Rng};
use faer::Mat;
use std::time::Instant;
use wlra::internals::matrix_free_cg_tally;
use wlra::problem::sparse::{CsrInput, SparseProblem};
use wlra::problem::Problem;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

fn model(k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model
}

fn info(model: &Model, item: i32) -> f64 {
    model.info(item).unwrap()
}

/// (matrix-free steps, CG iterations) that `run` took on this thread.
fn cg_during(run: impl FnOnce()) -> (usize, usize) {
    let (steps, iterations) = matrix_free_cg_tally();
    run();
    let (after_steps, after_iterations) = matrix_free_cg_tally();
    (after_steps - steps, after_iterations - iterations)
}

/// Objective and U V^T relative gaps between two fits.
fn gaps(a: &Model, b: &Model) -> (f64, f64) {
    let (fa, fb) = (info(a, WLRA_INFO_OBJECTIVE), info(b, WLRA_INFO_OBJECTIVE));
    let product = |m: &Model| {
        let (u, v) = m.factors().unwrap();
        u * v.transpose()
    };
    let (pa, pb) = (product(a), product(b));
    ((fa - fb).abs() / fa, (&pa - &pb).norm_l2() / pa.norm_l2())
}

/// Planted rank 3, 60 x 45, noise `noise`: a 0/1 mask (60 % observed),
/// weights U(0.1, 1) on it, and CSR with half the entries (unit weights).
struct SmallProblems {
    noisy: Mat<f64>,
    masked: Mat<f64>,
    weighted_mask: Mat<f64>,
    csr: SparseProblem,
}

const SMALL: (usize, usize, usize) = (60, 45, 3);

fn small_problems(noise: f64) -> SmallProblems {
    let (n, m, k) = SMALL;
    let p = planted(n, m, k, 40);
    let mut rng = Rng::new(41);
    let noisy = &p.truth + rng.normal_mat(n, m) * faer::Scale(noise);
    let uniform = rng.uniform_mat(n, m, 0.1, 1.0);
    let masked = isolated_mask(n, m, k, 0.6, 42);
    let weighted_mask = Mat::from_fn(n, m, |i, j| masked[(i, j)] * uniform[(i, j)]);
    let pattern = isolated_mask(n, m, k, 0.5, 43);
    let ones = Mat::from_fn(n, m, |_, _| 1.0);
    let csr =
        SparseProblem::new(&common::csr(&pattern, &noisy, &ones).input(n, m, 0.0, 0.0)).unwrap();
    SmallProblems {
        noisy,
        masked,
        weighted_mask,
        csr,
    }
}

impl SmallProblems {
    fn each(&self) -> [(&'static str, Problem<'_>); 3] {
        [
            (
                "dense, 0/1 mask, 60 % observed",
                DenseProblem::new(self.noisy.as_ref(), Some(self.masked.as_ref())).into(),
            ),
            (
                "dense, W ~ U(0.1, 1) on a 60 % mask",
                DenseProblem::new(self.noisy.as_ref(), Some(self.weighted_mask.as_ref())).into(),
            ),
            ("CSR, 50 % observed", self.csr.view().into()),
        ]
    }
}

/// Explicit VARPRO, one start, tolerance 0 (to stationarity), dense or
/// forced matrix-free; the fit and its (matrix-free steps, CG iterations).
fn varpro(
    problem: Problem<'_>,
    ridge: f64,
    init: i32,
    matrix_free: bool,
) -> (Model, (usize, usize)) {
    let mut fit = model(
        SMALL.2,
        &[
            (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
            (WLRA_OPTION_RESTARTS, 0.0),
            (WLRA_OPTION_TOLERANCE, 0.0),
            (WLRA_OPTION_MAX_ITERATIONS, 3000.0),
            (WLRA_OPTION_RIDGE, ridge),
            (WLRA_OPTION_INIT, init as f64),
        ],
    );
    fit.force_matrix_free_varpro(matrix_free);
    let cg = cg_during(|| fit.fit(problem).unwrap());
    assert_eq!(info(&fit, WLRA_INFO_METHOD_USED), WLRA_METHOD_VARPRO as f64);
    (fit, cg)
}

/// Dense and matrix-free VarPro from the SVD start, and dense from a
/// random start (the control: how closely two dense fits agree); prints
/// all three and returns (objective gap, U V^T gap, control's U V^T gap).
fn compare(name: &str, problem: Problem<'_>, ridge: f64) -> (f64, f64, f64) {
    let (dense, dense_cg) = varpro(problem, ridge, WLRA_INIT_SVD, false);
    let (matrix_free, (steps, cg)) = varpro(problem, ridge, WLRA_INIT_SVD, true);
    let (control, _) = varpro(problem, ridge, WLRA_INIT_RANDOM, false);
    let (f_gap, p_gap) = gaps(&dense, &matrix_free);
    let (control_f, control_p) = gaps(&dense, &control);
    println!(
        "{name}, ridge {ridge}: f = {:.15e}; matrix-free {steps} steps, {cg} CG iterations \
         ({:.1} per step); objectives differ by {f_gap:.1e}, U V^T by {p_gap:.1e} (dense \
         from a random start: {control_f:.1e}, {control_p:.1e})",
        info(&dense, WLRA_INFO_OBJECTIVE),
        cg as f64 / steps.max(1) as f64,
    );
    assert_eq!(
        dense_cg,
        (0, 0),
        "{name}: the dense fit took matrix-free steps"
    );
    assert!(steps > 0, "{name}: the forced fit took no matrix-free step");
    (f_gap, p_gap, control_p)
}

#[test]
fn matrix_free_and_dense_varpro_agree_without_ridge() {
    // Noise 1e-3: at 1e-2 two dense fits from different starts already
    // differ by 1.4e-10 in U V^T (the stationary point is resolved no
    // better in f64), so 1e-10 would measure rounding, not the solver.
    let problems = small_problems(1e-3);
    let mut failures = Vec::new();
    for (name, problem) in problems.each() {
        let (f_gap, p_gap, _) = compare(name, problem, 0.0);
        if f_gap > 1e-10 || p_gap > 1e-10 {
            failures.push(format!(
                "{name}: objectives differ by {f_gap:e}, U V^T by {p_gap:e}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

#[test]
fn matrix_free_and_dense_varpro_agree_with_ridge() {
    // With ridge > 0 VarPro's Gauss-Newton model (Kaufman's) converges
    // only linearly, so the last step no longer squares the error: both
    // paths stop where f64 resolves the objective, and U V^T is fixed
    // only to what the last linear steps leave (measured: two dense fits
    // from different starts differ by up to 6e-10). The objective agrees
    // to 1e-10, U V^T to 1e-8.
    let problems = small_problems(1e-3);
    let mut failures = Vec::new();
    for (name, problem) in problems.each() {
        let (f_gap, p_gap, control_p) = compare(name, problem, 1.0);
        if f_gap > 1e-10 || p_gap > 1e-8 {
            failures.push(format!(
                "{name}: objectives differ by {f_gap:e}, U V^T by {p_gap:e} (control {control_p:e})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("; "));
}

#[test]
fn explicit_varpro_beyond_the_dense_limit_runs_matrix_free_and_says_so() {
    // 120 x 120 at k = 40: 4800 free unknowns, beyond the dense
    // Gauss-Newton limit (4096): VarPro still runs, matrix-free.
    let p = planted(120, 120, 40, 31);
    let mut fit = model(
        40,
        &[
            (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
            (WLRA_OPTION_MAX_ITERATIONS, 3.0),
        ],
    );
    let (steps, _) = cg_during(|| {
        fit.fit(DenseProblem::new(p.truth.as_ref(), None)).unwrap();
    });
    assert_eq!(info(&fit, WLRA_INFO_METHOD_USED), WLRA_METHOD_VARPRO as f64);
    assert!(steps > 0, "no matrix-free step at 4800 unknowns");
    // Where the dense system fits, it is what runs.
    let q = planted(30, 120, 4, 32);
    let mut small = model(
        4,
        &[
            (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
            (WLRA_OPTION_RESTARTS, 0.0),
        ],
    );
    let (steps, _) = cg_during(|| {
        small
            .fit(DenseProblem::new(q.truth.as_ref(), None))
            .unwrap();
    });
    assert_eq!(
        info(&small, WLRA_INFO_METHOD_USED),
        WLRA_METHOD_VARPRO as f64
    );
    assert_eq!(steps, 0, "matrix-free steps at 120 unknowns");
}

/// A planted sparse completion problem too large for the dense step: U*
/// (n x k) and V* (m x k) standard normal, about `per_row` random entries
/// per row plus a cyclic pattern giving every column k + 1, values
/// u_i^T v_j + noise N(0, sigma^2), unit weights.
struct LargePlanted {
    n: usize,
    m: usize,
    k: usize,
    sigma: f64,
    u: Mat<f64>,
    v: Mat<f64>,
    row_ptr: Vec<i64>,
    col_idx: Vec<i64>,
    values: Vec<f64>,
}

fn large_planted(n: usize, m: usize, k: usize, per_row: usize, sigma: f64) -> LargePlanted {
    let mut rng = Rng::new(77);
    let u = rng.normal_mat(n, k);
    let v = rng.normal_mat(m, k);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); n];
    for j in 0..m {
        for t in 0..=k {
            rows[(j * 7 + t) % n].push(j);
        }
    }
    for row in rows.iter_mut() {
        for _ in 0..per_row {
            row.push((rng.uniform() * m as f64) as usize % m);
        }
        row.sort_unstable();
        row.dedup();
    }
    let (mut row_ptr, mut col_idx, mut values) = (vec![0i64], Vec::new(), Vec::new());
    for (i, row) in rows.iter().enumerate() {
        for &j in row {
            let truth: f64 = (0..k).map(|a| u[(i, a)] * v[(j, a)]).sum();
            col_idx.push(j as i64);
            values.push(truth + sigma * rng.normal());
        }
        row_ptr.push(col_idx.len() as i64);
    }
    LargePlanted {
        n,
        m,
        k,
        sigma,
        u,
        v,
        row_ptr,
        col_idx,
        values,
    }
}

impl LargePlanted {
    fn problem(&self) -> SparseProblem {
        SparseProblem::new(&CsrInput {
            n_rows: self.n,
            n_cols: self.m,
            row_ptr: &self.row_ptr,
            col_idx: &self.col_idx,
            m_values: &self.values,
            w_values: None,
            m_default: 0.0,
            w_default: 0.0,
        })
        .unwrap()
    }

    /// RMS over all n m entries of U V^T - U* V*^T, without forming
    /// either: |[U, -U*] [V, V*]^T|_F^2 from the two 2k x 2k Grams.
    fn rms_error(&self, fit: &Model) -> f64 {
        let (u, v) = fit.factors().unwrap();
        let k = self.k;
        let a = Mat::from_fn(self.n, 2 * k, |i, c| {
            if c < k {
                u[(i, c)]
            } else {
                -self.u[(i, c - k)]
            }
        });
        let b = Mat::from_fn(self.m, 2 * k, |j, c| {
            if c < k {
                v[(j, c)]
            } else {
                self.v[(j, c - k)]
            }
        });
        let (ga, gb) = (a.transpose() * &a, b.transpose() * &b);
        let mut sum = 0.0;
        for c in 0..2 * k {
            for d in 0..2 * k {
                sum += ga[(c, d)] * gb[(c, d)];
            }
        }
        (sum.max(0.0) / (self.n * self.m) as f64).sqrt()
    }

    /// sigma^2 (entries - free parameters): the expected objective at the
    /// optimum.
    fn noise_floor(&self) -> f64 {
        let dof = (self.n + self.m - self.k) * self.k;
        self.sigma.powi(2) * (self.values.len() - dof) as f64
    }
}

/// 4200 x 5000 at k = 5: 21,000 free unknowns (the rows' side), about 67
/// entries per row and 56 per column (1.3 % observed, six times the free
/// parameters). With 27 per row (3 times) random starts ended in local
/// minima, for dense VarPro as well. Sized for the test profile (wlra at
/// opt-level 1): see docs/varpro_matrix_free.md for times.
fn beyond_the_dense_limit() -> LargePlanted {
    large_planted(4200, 5000, 5, 60, 1e-3)
}

#[test]
fn explicit_varpro_reaches_the_planted_optimum_beyond_20000_unknowns() {
    let planted = beyond_the_dense_limit();
    let problem = planted.problem();
    let unknowns = planted.n.min(planted.m) * planted.k;
    assert!(unknowns > 20_000);
    let mut fit = model(
        planted.k,
        &[
            (WLRA_OPTION_METHOD, WLRA_METHOD_VARPRO as f64),
            (WLRA_OPTION_INIT, WLRA_INIT_RANDOM as f64),
            (WLRA_OPTION_RESTARTS, 0.0),
        ],
    );
    let started = Instant::now();
    let (steps, cg) = cg_during(|| fit.fit(problem.view()).unwrap());
    let seconds = started.elapsed().as_secs_f64();
    let (f, floor) = (info(&fit, WLRA_INFO_OBJECTIVE), planted.noise_floor());
    let rms = planted.rms_error(&fit);
    println!(
        "{} x {}, k = {}, {} entries, {unknowns} free unknowns, from a random start: \
         {} iterations, {steps} matrix-free steps, {cg} CG iterations ({:.1} per step), \
         {seconds:.2} s; objective {f:.6e} = {:.4} x the noise floor {floor:.6e}; \
         RMS error of U V^T over all entries {rms:.3e} (noise {:.0e})",
        planted.n,
        planted.m,
        planted.k,
        planted.values.len(),
        info(&fit, WLRA_INFO_ITERATIONS),
        cg as f64 / steps.max(1) as f64,
        f / floor,
        planted.sigma,
    );
    assert_eq!(info(&fit, WLRA_INFO_METHOD_USED), WLRA_METHOD_VARPRO as f64);
    assert!(steps > 0, "no matrix-free step");
    assert!(
        f <= 1.2 * floor && f >= 0.8 * floor,
        "objective {f:e} is not at the noise floor {floor:e}"
    );
    assert!(
        rms <= planted.sigma,
        "U V^T is {rms:e} from the truth (RMS), noise {}",
        planted.sigma
    );
}

#[test]
fn auto_beyond_the_dense_limit_reaches_the_same_optimum() {
    let planted = beyond_the_dense_limit();
    let problem = planted.problem();
    let started = Instant::now();
    let mut auto = model(planted.k, &[]);
    let (steps, cg) = cg_during(|| auto.fit(problem.view()).unwrap());
    let seconds = started.elapsed().as_secs_f64();
    let (f, floor) = (info(&auto, WLRA_INFO_OBJECTIVE), planted.noise_floor());
    let used = info(&auto, WLRA_INFO_METHOD_USED);
    let rms = planted.rms_error(&auto);
    println!(
        "AUTO, defaults (SVD start): method used {used}, {} iterations, {steps} matrix-free \
         steps ({cg} CG iterations), {seconds:.2} s; objective {f:.6e} = {:.6} x the noise \
         floor; RMS error of U V^T {rms:.3e}",
        info(&auto, WLRA_INFO_ITERATIONS),
        f / floor,
    );
    assert!(
        f <= 1.2 * floor,
        "AUTO's objective {f:e} is not at the noise floor {floor:e}"
    );
    assert!(
        rms <= planted.sigma,
        "AUTO's U V^T is {rms:e} from the truth"
    );
}
