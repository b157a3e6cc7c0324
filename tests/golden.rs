//! Restructuring changes no bits (issue 13): every solver on every input
//! kind gives the factors recorded before the change.
//!
//! `tests/data/golden_factors.txt` holds, per case, a hash of the factors'
//! bits, the objective and a few entries of U V^T, plus the fingerprint of
//! the machine that recorded them. On that machine (same CPU model, flags
//! and cache sizes, hence the same GEMM blocking) the hashes must match
//! exactly; elsewhere the objective and the entries must agree to rounding
//! (1e-9 relative), since blocking changes the order of sums.
//!
//! Re-record (only when a change is meant to alter results):
//!     WLRA_RECORD_GOLDEN=1 cargo test --release --test golden

mod common;

use common::{csr, planted, Csr, Rng};
use faer::Mat;
use std::fmt::Write as _;
use wlra::problem::sparse::{CsrInput, SparseProblem};
use wlra::problem::Problem;
use wlra::vocabulary::*;
use wlra::{DenseProblem, Model};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/golden_factors.txt");
/// Entries of U V^T kept per case for the cross-machine comparison.
const PROBES: usize = 8;
const CROSS_MACHINE_TOLERANCE: f64 = 1e-9;

/// CPU model, flags and cache sizes: what decides faer's kernels and blocking.
fn fingerprint() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut caches = String::new();
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        if let Ok(size) = std::fs::read_to_string(format!("{dir}/size")) {
            let _ = write!(caches, "{},", size.trim());
        }
    }
    let text = format!("{}|{}|{}", field("model name"), field("flags"), caches);
    format!("{:016x}", fnv(text.bytes()))
}

fn fnv(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

fn bits_hash(u: faer::MatRef<'_, f64>, v: faer::MatRef<'_, f64>) -> u64 {
    let mut bytes = Vec::new();
    for a in [u, v] {
        for j in 0..a.ncols() {
            for i in 0..a.nrows() {
                bytes.extend_from_slice(&a[(i, j)].to_bits().to_le_bytes());
            }
        }
    }
    fnv(bytes.into_iter())
}

struct Record {
    hash: u64,
    objective: f64,
    probes: Vec<f64>,
}

fn record_of(model: &Model) -> Record {
    let (u, v) = model.factors().unwrap();
    let (n, m) = (u.nrows(), v.nrows());
    let probes = (0..PROBES)
        .map(|p| {
            let (i, j) = ((p * 37) % n, (p * 53) % m);
            (0..u.ncols()).map(|c| u[(i, c)] * v[(j, c)]).sum()
        })
        .collect();
    Record {
        hash: bits_hash(u, v),
        objective: model.info(wlra::vocabulary::WLRA_INFO_OBJECTIVE).unwrap(),
        probes,
    }
}

fn fit<'a>(problem: impl Into<Problem<'a>>, options: &[(i32, f64)]) -> Model {
    let mut model = Model::new(4).unwrap();
    let base = [
        (WLRA_OPTION_MAX_ITERATIONS, 8.0),
        (WLRA_OPTION_TOLERANCE, 0.0),
        (WLRA_OPTION_THREADS, 2.0),
        // Recorded before outer methods existed, when every fit alternated.
        (WLRA_OPTION_METHOD, WLRA_METHOD_ALTERNATING as f64),
    ];
    for &(id, value) in base.iter().chain(options) {
        model.set_option(id, value).unwrap();
    }
    model.fit(problem).unwrap();
    model
}

/// Noisy planted 300 x 280 data (more than one 128-row block), weights
/// uniform in [0, 1] and a 0/1 mask of about half the entries.
fn dense_data() -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let p = planted(300, 280, 4, 7);
    let mut rng = Rng::new(8);
    let m = p.truth + rng.normal_mat(300, 280) * faer::Scale(0.1);
    let w = rng.uniform_mat(300, 280, 0.0, 1.0);
    let mask = Mat::from_fn(300, 280, |i, j| {
        f64::from(u8::from((i * 7 + j * 13) % 5 < 3))
    });
    (m, w, mask)
}

fn sparse(csr: &Csr, shape: (usize, usize), w_default: f64) -> SparseProblem {
    SparseProblem::new(&CsrInput {
        n_rows: shape.0,
        n_cols: shape.1,
        row_ptr: &csr.row_ptr,
        col_idx: &csr.col_idx,
        m_values: &csr.m,
        w_values: Some(&csr.w),
        m_default: 0.0,
        w_default,
    })
    .unwrap()
}

const SOLVERS: [(i32, &str); 4] = [
    (WLRA_SOLVER_AUTO, "auto"),
    (WLRA_SOLVER_EXACT, "exact"),
    (WLRA_SOLVER_SKETCH, "sketch"),
    (WLRA_SOLVER_SHARED_PCG, "shared_pcg"),
];

fn all_cases() -> Vec<(String, Record)> {
    let (m, w, mask) = dense_data();
    let shape = (m.nrows(), m.ncols());
    let csr = csr(&mask, &m, &w);
    let (without_default, with_default) = (sparse(&csr, shape, 0.0), sparse(&csr, shape, 0.1));
    let mut cases = Vec::new();
    for (solver, name) in SOLVERS {
        let s = (WLRA_OPTION_SOLVER, solver as f64);
        for (init, init_name) in [(WLRA_INIT_SVD, "svd"), (WLRA_INIT_RANDOM, "random")] {
            let opts = [s, (WLRA_OPTION_INIT, init as f64)];
            let model = fit(DenseProblem::new(m.as_ref(), Some(w.as_ref())), &opts);
            cases.push((format!("dense_{name}_{init_name}"), record_of(&model)));
        }
        let masked = fit(DenseProblem::new(m.as_ref(), Some(mask.as_ref())), &[s]);
        cases.push((format!("masked_{name}"), record_of(&masked)));
        let csr_plain = fit(without_default.view(), &[s]);
        cases.push((format!("csr_{name}"), record_of(&csr_plain)));
        let csr_default = fit(with_default.view(), &[s]);
        cases.push((format!("csr_default_{name}"), record_of(&csr_default)));
    }
    let dense = || DenseProblem::new(m.as_ref(), Some(w.as_ref()));
    let variants: [(&str, Vec<(i32, f64)>); 4] = [
        ("ridge_auto", vec![(WLRA_OPTION_RIDGE, 0.5)]),
        ("overrelaxed_auto", vec![(WLRA_OPTION_OVERRELAXATION, 1.5)]),
        (
            "clipped_exact",
            vec![(WLRA_OPTION_CLIP, 2.0), (WLRA_OPTION_SOLVER, 1.0)],
        ),
        (
            "fixed_accuracy_auto",
            vec![(WLRA_OPTION_ADAPTIVE_ACCURACY, 0.0)],
        ),
    ];
    for (name, opts) in variants {
        cases.push((name.to_string(), record_of(&fit(dense(), &opts))));
    }
    cases
}

fn render(fingerprint: &str, cases: &[(String, Record)]) -> String {
    let mut text = format!("machine {fingerprint}\n");
    for (name, r) in cases {
        let _ = write!(text, "{name} {:016x} {:e}", r.hash, r.objective);
        r.probes.iter().for_each(|p| {
            let _ = write!(text, " {p:e}");
        });
        text.push('\n');
    }
    text
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(f64::MIN_POSITIVE)
}

#[test]
fn factors_match_those_recorded_before_the_restructure() {
    let here = fingerprint();
    let cases = all_cases();
    if std::env::var_os("WLRA_RECORD_GOLDEN").is_some() {
        std::fs::write(GOLDEN, render(&here, &cases)).unwrap();
        return;
    }
    let text = std::fs::read_to_string(GOLDEN).expect("tests/data/golden_factors.txt");
    let mut lines = text.lines();
    let recorded_on = lines
        .next()
        .unwrap()
        .trim_start_matches("machine ")
        .to_string();
    let same_machine = recorded_on == here;
    println!("recorded on {recorded_on}, running on {here}: bitwise = {same_machine}");
    let mut checked = 0;
    for (line, (name, now)) in lines.zip(&cases) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], name, "case order changed");
        let hash = u64::from_str_radix(fields[1], 16).unwrap();
        let numbers: Vec<f64> = fields[2..].iter().map(|s| s.parse().unwrap()).collect();
        if same_machine {
            assert_eq!(hash, now.hash, "{name}: the factors' bits changed");
        }
        let pairs = std::iter::once(now.objective).chain(now.probes.iter().copied());
        for (then, now) in numbers.iter().zip(pairs) {
            let off = relative(*then, now);
            assert!(
                off <= CROSS_MACHINE_TOLERANCE,
                "{name}: recorded {then:e}, now {now:e} ({off:.1e} relative)"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, cases.len(), "the golden file lacks cases");
}
