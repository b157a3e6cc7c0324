//! The parts of one VarPro step timed one by one, with their flop counts,
//! for benches/varpro_step (issue 25: each part against the machine's
//! rate for its shape). Not used by fits.

use super::damped_step::{damped_step, DampedMatrix};
use super::gauss_newton::{assemble, eliminate};
use super::observed::Observed;
use super::orient;
use crate::error::Result;
use crate::init::random_factors;
use crate::kernels::orthonormal::thin_qr;
use crate::problem::Problem;

/// One part: its name, the median seconds of its runs and its flops.
pub struct Part {
    pub name: &'static str,
    pub seconds: f64,
    pub flops: f64,
}

/// CPU seconds of this process so far: on a loaded machine the wall clock
/// also counts the time others ran, the CPU clock only this process's.
pub fn process_cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for clock_gettime to write.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    if status != 0 {
        return f64::NAN;
    }
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// The median seconds of `repeats` runs on `clock`.
fn median_seconds(
    repeats: usize,
    clock: fn() -> f64,
    mut run: impl FnMut() -> Result<()>,
) -> Result<f64> {
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let started = clock();
        run()?;
        times.push(clock() - started);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Elimination, assembly and one damped solve at a random orthonormal X
/// (their cost does not depend on X), each run `repeats` times on the
/// calling thread's pool, ridge 0, timed on `clock` (seconds). Flops count
/// multiply and add as two.
pub fn step_parts(
    problem: &Problem<'_>,
    k: usize,
    repeats: usize,
    clock: fn() -> f64,
) -> Result<Vec<Part>> {
    let (_, side) = orient(problem);
    let obs = Observed::new(&side)?;
    let start = random_factors(side.n_cols(), side.n_rows(), k, 1)?;
    let x = super::rows_contiguous(&thin_qr(start.u.as_ref())?.0)?;
    let (p, kf) = (obs.n_free, k as f64);
    let elim = eliminate(&obs, &x, k, 0.0)?;
    let model = assemble(&obs, &x, &elim, k, 0.0, Vec::new())?;
    let (entries, rows) = (obs.nnz() as f64, obs.n_eliminated as f64);
    let pairs: f64 = (0..obs.n_eliminated)
        .map(|e| {
            let c = obs.row(e).len() as f64;
            c * (c + 1.0) / 2.0
        })
        .sum();
    let dim = (p * k) as f64;
    Ok(vec![
        Part {
            name: "elimination",
            seconds: median_seconds(repeats, clock, || eliminate(&obs, &x, k, 0.0).map(drop))?,
            flops: entries * (3.0 * kf * kf + 8.0 * kf) + rows * 1.5 * kf.powi(3),
        },
        Part {
            name: "assembly",
            seconds: median_seconds(repeats, clock, || {
                assemble(&obs, &x, &elim, k, 0.0, Vec::new()).map(drop)
            })?,
            flops: pairs * (2.0 * kf * kf + 3.0 * kf) + entries * 4.0 * kf,
        },
        Part {
            name: "damped solve",
            seconds: {
                let mut matrix = DampedMatrix::default();
                median_seconds(repeats, clock, || {
                    damped_step(&model, &mut matrix, Some(&x), p, k, 1e-6).map(drop)
                })?
            },
            flops: dim.powi(3) / 3.0 + 6.0 * dim * dim,
        },
    ])
}
