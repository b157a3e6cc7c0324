//! The missing-data structure-from-motion problems of issue 14, read from
//! the shared data directory (never copied into the repository): M with the
//! missing entries set to 0, W = 0/1, the rank and the best known RMS.
//! Also included by benches/lrmf.rs (`#[path]`), so it uses faer only.
#![allow(dead_code)]

use faer::Mat;
use std::path::{Path, PathBuf};

/// A start succeeds when its RMS is within this of the best known,
/// relative, or agrees with it to the digits it is printed with.
pub const SUCCESS_TOLERANCE: f64 = 1e-6;

pub struct LrmfProblem {
    /// The file's stem, e.g. "dino_trimmed".
    pub name: String,
    pub m: Mat<f64>,
    pub w: Mat<f64>,
    pub rank: usize,
    pub best_rms: f64,
    /// Half a unit in the last printed digit of the best known RMS: the
    /// published values are rounded (Face's 0.022461 is 0.0224612928 to
    /// ten digits, 1.3e-5 relative away), so 1e-6 relative alone would
    /// refuse the optimum itself.
    pub best_rounding: f64,
    pub observed: usize,
}

impl LrmfProblem {
    /// RMS = sqrt(f / observed entries).
    pub fn rms(&self, objective: f64) -> f64 {
        (objective / self.observed as f64).sqrt()
    }

    /// RMS within SUCCESS_TOLERANCE of the best known, relative, or equal
    /// to it at its printed precision.
    pub fn is_success(&self, rms: f64) -> bool {
        let allowed = (SUCCESS_TOLERANCE * self.best_rms).max(self.best_rounding);
        (rms - self.best_rms).abs() <= allowed
    }
}

/// The directory holding the problem files: env WLRA_LRMF_DIR, else
/// $CARGO_MANIFEST_DIR/../shared/data/lrmf, else /work/shared/data/lrmf.
/// Panics naming all three when none exists: a missing data set must fail a
/// test, not skip it.
pub fn data_dir() -> PathBuf {
    let from_env = std::env::var_os("WLRA_LRMF_DIR").map(PathBuf::from);
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/lrmf");
    let fixed = PathBuf::from("/work/shared/data/lrmf");
    let candidates = [from_env.clone(), Some(beside.clone()), Some(fixed.clone())];
    if let Some(dir) = candidates.into_iter().flatten().find(|d| d.is_dir()) {
        return dir.canonicalize().unwrap_or(dir);
    }
    panic!(
        "no lrmf data directory: WLRA_LRMF_DIR ({}), {} and {} do not exist; \
         point WLRA_LRMF_DIR at the directory with dino_trimmed.txt and face_trimmed.txt",
        from_env.map_or("not set".into(), |d| format!("= {}", d.display())),
        beside.display(),
        fixed.display()
    );
}

/// (rank, best known RMS, observed entries) of `file` from the README's
/// table, e.g. `| dino_trimmed.txt | 72 x 319 | 4 | 5,302 (23.1 %) | 1.084673 |`.
fn table_row(readme: &str, file: &str) -> (usize, f64, f64, usize) {
    let row = readme
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("| {file} ")))
        .unwrap_or_else(|| panic!("README.md of the lrmf data has no row for {file}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    // cells[0] is empty (before the first '|').
    let rank = cells[3].parse().expect("rank column");
    let observed = cells[4]
        .split_whitespace()
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .expect("observed column");
    // The number, before any remark in parentheses.
    let best_text = cells[5].split_whitespace().next().unwrap_or("");
    let best = best_text.parse().expect("best known RMS column");
    let decimals = best_text.split('.').nth(1).map_or(0, str::len) as i32;
    (rank, best, 0.5 * 10f64.powi(-decimals), observed)
}

/// Load `name` ("dino_trimmed", "face_trimmed") from data_dir().
pub fn load(name: &str) -> LrmfProblem {
    let dir = data_dir();
    let file = format!("{name}.txt");
    let readme = std::fs::read_to_string(dir.join("README.md"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("README.md").display()));
    let (rank, best_rms, best_rounding, listed_observed) = table_row(&readme, &file);
    let path = dir.join(&file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let shape: Vec<usize> = lines
        .next()
        .expect("a line `n m`")
        .split_whitespace()
        .map(|s| s.parse().expect("n and m"))
        .collect();
    let (n, m_cols) = (shape[0], shape[1]);
    let mut m = Mat::<f64>::zeros(n, m_cols);
    let mut w = Mat::<f64>::zeros(n, m_cols);
    let mut observed = 0;
    for i in 0..n {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{}: only {i} of {n} rows", path.display()));
        let values: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(values.len(), m_cols, "{}: row {i}", path.display());
        for (j, v) in values.iter().enumerate() {
            if *v != "nan" {
                m[(i, j)] = v.parse().unwrap_or_else(|_| panic!("row {i}: {v:?}"));
                w[(i, j)] = 1.0;
                observed += 1;
            }
        }
    }
    assert_eq!(
        observed, listed_observed,
        "{file}: {observed} observed entries, the README says {listed_observed}"
    );
    LrmfProblem {
        name: name.into(),
        m,
        w,
        rank,
        best_rms,
        best_rounding,
        observed,
    }
}

/// Trimmed Dinosaur, 72 x 319, rank 4, best known RMS 1.084673.
pub fn dinosaur() -> LrmfProblem {
    load("dino_trimmed")
}

/// Trimmed Face, 20 x 2596, rank 4, best known RMS 0.022461.
pub fn face() -> LrmfProblem {
    load("face_trimmed")
}

/// Giraffe, 166 x 240, rank 6, best known RMS 0.322795.
pub fn giraffe() -> LrmfProblem {
    load("giraffe")
}

/// UM boy (UB5), 110 x 1760, rank 5, best known RMS 0.795494.
pub fn um_boy() -> LrmfProblem {
    load("um_boy")
}
