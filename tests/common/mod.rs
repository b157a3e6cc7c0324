//! Planted problems for the tests, all seeded: one place, not re-rolled in
//! every test.
#![allow(dead_code)]

pub mod lrmf;

use faer::Mat;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use wlra::{DenseProblem, Model};

/// One `Vm*` field of /proc/self/status (e.g. "VmSize:"), in bytes.
pub fn vm_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} missing from /proc/self/status"));
    let kib: u64 = line[field.len() + 1..]
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .expect("a size in kB");
    kib * 1024
}

/// The library's threads alive in this process: /proc/self/task entries
/// whose name starts with "wlra-".
pub fn library_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("wlra-"))
        .count()
}

/// Run test `test` of this binary alone in a fresh process, with `env`
/// added to its environment (the tests that need a process of their own:
/// limits, thread counts, the host's stderr). Fails unless it exits
/// successfully (an abort is a signal); its stdout and stderr.
pub fn run_test_in_child(test: &str, env: &[(&str, &str)]) -> (String, String) {
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .envs(env.iter().copied())
        .output()
        .expect("spawn the child test process");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "child {test} {env:?} ended with {}:\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }
    pub fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    pub fn normal(&mut self) -> f64 {
        let r = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        r * (std::f64::consts::TAU * self.uniform()).cos()
    }
    pub fn normal_mat(&mut self, n: usize, m: usize) -> Mat<f64> {
        Mat::from_fn(n, m, |_, _| self.normal())
    }
    pub fn uniform_mat(&mut self, n: usize, m: usize, lo: f64, hi: f64) -> Mat<f64> {
        Mat::from_fn(n, m, |_, _| self.between(lo, hi))
    }
}

/// Ground truth U* V*^T with Gaussian factors.
pub struct Planted {
    pub truth: Mat<f64>,
}

pub fn planted(n: usize, m: usize, k: usize, seed: u64) -> Planted {
    let mut rng = Rng::new(seed);
    let u = rng.normal_mat(n, k);
    let v = rng.normal_mat(m, k);
    Planted {
        truth: &u * v.transpose(),
    }
}

pub fn relative_error(u: &Mat<f64>, v: &Mat<f64>, truth: &Mat<f64>) -> f64 {
    let diff = u * v.transpose() - truth;
    diff.norm_l2() / truth.norm_l2()
}

/// Fit through the Rust API with options given as (id, value) pairs.
pub fn fit(m: &Mat<f64>, w: Option<&Mat<f64>>, k: usize, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(k).unwrap();
    for &(id, value) in options {
        model.set_option(id, value).unwrap();
    }
    model
        .fit(DenseProblem::new(m.as_ref(), w.map(|w| w.as_ref())))
        .unwrap();
    model
}

pub fn factors(model: &Model) -> (Mat<f64>, Mat<f64>) {
    let (u, v) = model.factors().unwrap();
    (u.to_owned(), v.to_owned())
}

/// A CSR pattern over `mask`, with the values of `m` and `w` inside it.
pub struct Csr {
    pub row_ptr: Vec<i64>,
    pub col_idx: Vec<i64>,
    pub m: Vec<f64>,
    pub w: Vec<f64>,
}

impl Csr {
    /// The pattern as `SparseProblem::new` takes it, n_rows x n_cols with
    /// `m_default` and `w_default` outside it.
    #[allow(dead_code)] // not every test file builds CSR input
    pub fn input(
        &self,
        n_rows: usize,
        n_cols: usize,
        m_default: f64,
        w_default: f64,
    ) -> wlra::problem::sparse::CsrInput<'_> {
        wlra::problem::sparse::CsrInput {
            n_rows,
            n_cols,
            row_ptr: &self.row_ptr,
            col_idx: &self.col_idx,
            m_values: &self.m,
            w_values: Some(&self.w),
            m_default,
            w_default,
        }
    }
}

/// 0/1 mask with about `fraction` observed; every row and column keeps at
/// least k + 1 entries so the optimum is isolated (up to the gauge).
#[allow(dead_code)] // not every test file masks
pub fn isolated_mask(n: usize, m: usize, k: usize, fraction: f64, seed: u64) -> Mat<f64> {
    let mut rng = Rng::new(seed);
    let mut w = Mat::from_fn(n, m, |_, _| f64::from(rng.uniform() < fraction));
    for i in 0..n {
        for j in 0..=k {
            w[(i, (i + j) % m)] = 1.0;
        }
    }
    for j in 0..m {
        for i in 0..=k {
            w[((j + i) % n, j)] = 1.0;
        }
    }
    w
}

pub fn csr(mask: &Mat<f64>, m: &Mat<f64>, w: &Mat<f64>) -> Csr {
    let mut out = Csr {
        row_ptr: vec![0],
        col_idx: vec![],
        m: vec![],
        w: vec![],
    };
    for i in 0..mask.nrows() {
        for j in 0..mask.ncols() {
            if mask[(i, j)] != 0.0 {
                out.col_idx.push(j as i64);
                out.m.push(m[(i, j)]);
                out.w.push(w[(i, j)]);
            }
        }
        out.row_ptr.push(out.col_idx.len() as i64);
    }
    out
}

/// Issue 14's heteroscedastic problem: U*, V* standard normal, s_ij = 0.01
/// exp(N(0, 1)), M = U* V*^T + s o N(0, 1), W = s^-2 / max(s^-2) (weights
/// over about eight decades): alternation crawls on it. Returns (M, W).
pub fn heteroscedastic(n: usize, m: usize, k: usize, seed: u64) -> (Mat<f64>, Mat<f64>) {
    let p = planted(n, m, k, seed);
    let mut rng = Rng::new(seed + 1000);
    let s = Mat::from_fn(n, m, |_, _| 0.01 * rng.normal().exp());
    let data = Mat::from_fn(n, m, |i, j| p.truth[(i, j)] + s[(i, j)] * rng.normal());
    let precision = |i: usize, j: usize| s[(i, j)].powi(-2);
    let mut max_precision = 0.0f64;
    for j in 0..m {
        for i in 0..n {
            max_precision = max_precision.max(precision(i, j));
        }
    }
    let w = Mat::from_fn(n, m, |i, j| precision(i, j) / max_precision);
    (data, w)
}

/// The half-step of `problem`'s rows against `y`: no ridge, no warm start.
pub fn unridged_step<'a>(
    problem: DenseProblem<'a>,
    y: &'a Mat<f64>,
    par: faer::Par,
) -> wlra::internals::HalfStep<'a> {
    wlra::internals::HalfStep {
        problem: problem.into(),
        fixed: y.as_ref(),
        ridge: 0.0,
        ridge_scale: None,
        unpenalized: None,
        warm_start: None,
        fixed_orthonormal: false,
        par,
    }
}
