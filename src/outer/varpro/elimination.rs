//! The eliminated side of variable projection: with the free factor X
//! (p x k) fixed, each eliminated row e solves its regression exactly,
//! y_e = G_e^+ sum_f w_ef m_ef x_f with G_e = sum_f w_ef x_f x_f^T +
//! ridge I, and keeps G_e^+ (w_ef x_f) per entry for the Gauss-Newton model
//! (`super::gauss_newton`).
//!
//! Flops per entry: k^2 for G's lower triangle, 2 k for the right-hand
//! side, 2 k^2 for G^+ w x_f, 4 k for the residual; per row about k^3 for
//! the Cholesky factor and the inverse.

use super::observed::Observed;
use crate::error::{Error, Result};
use crate::kernels::spd_solve::{cholesky_trusted, SpdSolver};
use crate::kernels::vectorized::vectorized;
use crate::memory::{checked_len, try_collect, try_filled, try_reserve};
use crate::scaling::{exponent, Multiplier};
use rayon::prelude::*;

/// Eliminated rows per parallel task: fixed (never from the thread count),
/// so sums run in one order whatever the pool.
const ELIMINATED_BLOCK: usize = 64;

/// The eliminated factor at a given X, and what the model needs of it.
pub struct Elimination {
    /// Y, q x k, rows contiguous.
    pub y: Vec<f64>,
    /// Per entry (e, f): G_e^+ (w_ef x_f), k numbers each.
    pub projected: Vec<f64>,
    /// f(X, Y(X)) = sum w r^2 + ridge (||X||^2 + ||Y||^2).
    pub objective: f64,
    /// Per eliminated row, G_e^+ (k x k, by columns) when asked for
    /// (`eliminate_keeping_inverses`: Newton's model reads it); else empty.
    pub inverses: Vec<f64>,
}

#[inline(always)]
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// out = S v for a symmetric k x k S stored by columns.
fn times_symmetric(s: &[f64], v: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    for (column, &vj) in s.chunks_exact(v.len()).zip(v) {
        out.iter_mut().zip(column).for_each(|(o, s)| *o += s * vj);
    }
}

/// What every eliminated row's solve reads.
struct Rows<'a> {
    obs: &'a Observed,
    x: &'a [f64],
    k: usize,
    ridge: f64,
}

struct Block {
    y: Vec<f64>,
    projected: Vec<f64>,
    objective: f64,
    inverses: Vec<f64>,
}

/// Row e's G^+ (k x k, by columns, into `inverse`) and y_e (into `y`;
/// `rhs` is scratch) through the row solver: Cholesky when G
/// is well conditioned, else the minimum-norm solve. Any rank.
fn solve_row(
    rows: &Rows<'_>,
    e: usize,
    unit: Multiplier,
    solver: &mut SpdSolver,
    inverse: &mut [f64],
    rhs: &mut [f64],
    y: &mut [f64],
) -> Result<()> {
    let Rows { obs, x, k, ridge } = *rows;
    let mut g = solver.gram_mut();
    g.fill(0.0);
    (0..k).for_each(|a| g[(a, a)] = ridge);
    rhs.fill(0.0);
    for pos in obs.row(e) {
        let (xf, w) = (&x[obs.free[pos] * k..][..k], unit.apply(obs.w[pos]));
        for b in 0..k {
            for a in 0..k {
                g[(a, b)] += w * xf[a] * xf[b];
            }
            rhs[b] += w * obs.m[pos] * xf[b];
        }
    }
    if !solver.factor() {
        return Err(Error::Numerical(format!(
            "VarPro: the Gram matrix of eliminated row {e} is not finite"
        )));
    }
    // G^+ explicitly (k solves), then products with it, rather than one
    // solve per entry: the entries outnumber k, and each solve is a call.
    for (a, column) in inverse.chunks_mut(k).enumerate() {
        column.fill(0.0);
        column[a] = 1.0;
        solver.solve(column);
    }
    times_symmetric(inverse, rhs, y);
    Ok(())
}

/// `solve_row` for a rank known at compile time, with the Cholesky factor
/// and the inverse written out (a faer call per row cost more than its
/// k^3 flops on the trimmed Face, k = 4, 13 entries per row). False when
/// G is not safely positive definite (`cholesky_trusted`): the caller
/// then runs `solve_row`, whose minimum-norm solve handles it.
#[inline(always)]
fn solve_row_fixed<const K: usize>(
    rows: &Rows<'_>,
    e: usize,
    unit: Multiplier,
    inverse: &mut [f64],
    y: &mut [f64],
) -> bool {
    let Rows { obs, x, ridge, .. } = *rows;
    // G's lower triangle, g[a][b] with a >= b, and the right-hand side.
    let mut g = [[0.0; K]; K];
    (0..K).for_each(|a| g[a][a] = ridge);
    let mut rhs = [0.0; K];
    for pos in obs.row(e) {
        let xf: &[f64; K] = x[obs.free[pos] * K..][..K].try_into().expect("K entries");
        let w = unit.apply(obs.w[pos]);
        let wx: [f64; K] = std::array::from_fn(|a| w * xf[a]);
        for a in 0..K {
            for b in 0..=a {
                g[a][b] += wx[a] * xf[b];
            }
            rhs[a] += wx[a] * obs.m[pos];
        }
    }
    // G = L L^T, L in place of g's lower triangle.
    let (mut smallest, mut largest) = (f64::INFINITY, 0.0f64);
    for j in 0..K {
        let d = g[j][j] - (0..j).map(|c| g[j][c] * g[j][c]).sum::<f64>();
        // Not positive (or NaN): not safely definite.
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let pivot = d.sqrt();
        g[j][j] = pivot;
        (smallest, largest) = (smallest.min(pivot), largest.max(pivot));
        for i in j + 1..K {
            let s = g[i][j] - (0..j).map(|c| g[i][c] * g[j][c]).sum::<f64>();
            g[i][j] = s / pivot;
        }
    }
    if !largest.is_finite() || !cholesky_trusted(largest / smallest) {
        return false;
    }
    // L^-1 (lower), then G^-1 = L^-T L^-1.
    let mut l_inv = [[0.0; K]; K];
    for j in 0..K {
        l_inv[j][j] = 1.0 / g[j][j];
        for i in j + 1..K {
            let s: f64 = (j..i).map(|c| g[i][c] * l_inv[c][j]).sum();
            l_inv[i][j] = -s / g[i][i];
        }
    }
    for b in 0..K {
        for a in b..K {
            let s: f64 = (a..K).map(|c| l_inv[c][a] * l_inv[c][b]).sum();
            inverse[b * K + a] = s;
            inverse[a * K + b] = s;
        }
    }
    for (a, ya) in y.iter_mut().enumerate() {
        *ya = (0..K).map(|b| inverse[b * K + a] * rhs[b]).sum();
    }
    true
}

/// `solve_row_fixed` for any rank: the same steps on slices, in
/// `scratch` (2 k^2 + k doubles). Beyond k = 8 a faer call per row and
/// per column of G^+ cost more than the row's flops (the digits at k = 15,
/// 45 entries per row: 2 GFLOP/s).
fn solve_row_written_out(
    rows: &Rows<'_>,
    e: usize,
    unit: Multiplier,
    scratch: &mut [f64],
    inverse: &mut [f64],
    y: &mut [f64],
) -> bool {
    let Rows { obs, x, k, ridge } = *rows;
    let (g, rest) = scratch.split_at_mut(k * k);
    let (l_inv, rest) = rest.split_at_mut(k * k);
    let rhs = &mut rest[..k];
    // G's lower triangle by rows, g[a k + b] with a >= b.
    g.fill(0.0);
    (0..k).for_each(|a| g[a * k + a] = ridge);
    rhs.fill(0.0);
    for pos in obs.row(e) {
        let xf = &x[obs.free[pos] * k..][..k];
        let w = unit.apply(obs.w[pos]);
        for a in 0..k {
            let wxa = w * xf[a];
            let row = &mut g[a * k..a * k + a + 1];
            row.iter_mut().zip(xf).for_each(|(g, xb)| *g += wxa * xb);
            rhs[a] += wxa * obs.m[pos];
        }
    }
    let (mut smallest, mut largest) = (f64::INFINITY, 0.0f64);
    for j in 0..k {
        let d = g[j * k + j] - dot(&g[j * k..j * k + j], &g[j * k..j * k + j]);
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let pivot = d.sqrt();
        g[j * k + j] = pivot;
        (smallest, largest) = (smallest.min(pivot), largest.max(pivot));
        for i in j + 1..k {
            let s = g[i * k + j] - dot(&g[i * k..i * k + j], &g[j * k..j * k + j]);
            g[i * k + j] = s / pivot;
        }
    }
    if !largest.is_finite() || !cholesky_trusted(largest / smallest) {
        return false;
    }
    // L^-1 by columns (l_inv[j k + i], i >= j), then G^-1 = L^-T L^-1.
    for j in 0..k {
        l_inv[j * k + j] = 1.0 / g[j * k + j];
        for i in j + 1..k {
            let s: f64 = (j..i).map(|c| g[i * k + c] * l_inv[j * k + c]).sum();
            l_inv[j * k + i] = -s / g[i * k + i];
        }
    }
    for b in 0..k {
        for a in b..k {
            let s = dot(&l_inv[a * k + a..(a + 1) * k], &l_inv[b * k + a..b * k + k]);
            inverse[b * k + a] = s;
            inverse[a * k + b] = s;
        }
    }
    times_symmetric(inverse, rhs, y);
    true
}

/// Row e's residual sum w r^2 and its entries' G^+ (w x_f) into
/// `projected` (k per entry, from the row's first entry), any rank.
fn project_row(
    rows: &Rows<'_>,
    e: usize,
    unit: Multiplier,
    inverse: &[f64],
    y: &[f64],
    projected: &mut [f64],
) -> f64 {
    let Rows { obs, x, k, .. } = *rows;
    let mut sum = 0.0;
    for (pos, out) in obs.row(e).zip(projected.chunks_exact_mut(k)) {
        let (xf, w) = (&x[obs.free[pos] * k..][..k], obs.w[pos]);
        let residual = obs.m[pos] - dot(y, xf);
        sum += w * residual * residual;
        times_symmetric(inverse, xf, out);
        // w G^-1 x_f, both in the row's weight unit.
        let w_in_unit = unit.apply(w);
        out.iter_mut().for_each(|p| *p *= w_in_unit);
    }
    sum
}

/// `project_row` for a rank known at compile time.
#[inline(always)]
fn project_row_fixed<const K: usize>(
    rows: &Rows<'_>,
    e: usize,
    unit: Multiplier,
    inverse: &[f64],
    y: &[f64],
    projected: &mut [f64],
) -> f64 {
    let obs = rows.obs;
    let x = rows.x;
    let inverse = &inverse[..K * K];
    let y: &[f64; K] = y.try_into().expect("K entries");
    let mut sum = 0.0;
    for (pos, out) in obs.row(e).zip(projected.chunks_exact_mut(K)) {
        let xf: &[f64; K] = x[obs.free[pos] * K..][..K].try_into().expect("K entries");
        let w = obs.w[pos];
        let residual = obs.m[pos] - dot(y, xf);
        sum += w * residual * residual;
        let w_in_unit = unit.apply(w);
        for (a, out_a) in out.iter_mut().enumerate() {
            let s: f64 = (0..K).map(|b| inverse[b * K + a] * xf[b]).sum();
            *out_a = s * w_in_unit;
        }
    }
    sum
}

/// The row's G^+ in the weights' own unit, into `kept`: G was formed in
/// the row's unit (a power of two, so this is exact).
fn in_weight_unit(kept: &mut [f64], inverse: &[f64], unit: Multiplier) {
    kept.iter_mut()
        .zip(inverse)
        .for_each(|(o, v)| *o = unit.apply(*v));
}

/// One block of eliminated rows.
fn eliminate_block(
    cx: &Rows<'_>,
    rows: std::ops::Range<usize>,
    keep_inverses: bool,
    solver: &mut SpdSolver,
) -> Result<Block> {
    let Rows { obs, k, ridge, .. } = *cx;
    let entries = obs.ptr[rows.start]..obs.ptr[rows.end];
    let what = "a block of VarPro's eliminated rows";
    let kept = if keep_inverses { rows.len() } else { 0 };
    let mut out = Block {
        y: try_filled(checked_len(rows.len(), k, what)?, 0.0, what)?,
        projected: try_filled(checked_len(entries.len(), k, what)?, 0.0, what)?,
        objective: 0.0,
        inverses: try_filled(checked_len(kept, k * k, what)?, 0.0, what)?,
    };
    // k is unbounded on the matrix-free path: reserved like the rest.
    let scratch = "an eliminated row's k x k scratch";
    let mut inverse = try_filled(checked_len(k, k, scratch)?, 0.0, scratch)?;
    let mut rhs = try_filled(k, 0.0, scratch)?;
    let mut written_out = try_filled(checked_len(2 * k + 1, k, scratch)?, 0.0, scratch)?;
    let block = vectorized(
        #[inline(always)]
        || -> Result<()> {
            for (r, e) in rows.clone().enumerate() {
                let unit = row_weight_unit(obs, e, ridge);
                let y = &mut out.y[r * k..(r + 1) * k];
                let inv = &mut inverse[..];
                let solved = match k {
                    1 => solve_row_fixed::<1>(cx, e, unit, inv, y),
                    2 => solve_row_fixed::<2>(cx, e, unit, inv, y),
                    3 => solve_row_fixed::<3>(cx, e, unit, inv, y),
                    4 => solve_row_fixed::<4>(cx, e, unit, inv, y),
                    5 => solve_row_fixed::<5>(cx, e, unit, inv, y),
                    6 => solve_row_fixed::<6>(cx, e, unit, inv, y),
                    7 => solve_row_fixed::<7>(cx, e, unit, inv, y),
                    8 => solve_row_fixed::<8>(cx, e, unit, inv, y),
                    _ => solve_row_written_out(cx, e, unit, &mut written_out, inv, y),
                };
                if !solved {
                    solve_row(cx, e, unit, solver, inv, &mut rhs, y)?;
                }
                // A G so close to 0 that G^-1 (or y) overflows is
                // numerically singular: the row gets the minimum-norm answer
                // for G = 0, y = 0 and no projection (found by fuzzing: a
                // 2 x 2 CSR problem whose free factor had an entry near
                // 1e-300 beside 1).
                if !(inv.iter().all(|v| v.is_finite()) && y.iter().all(|v| v.is_finite())) {
                    inv.fill(0.0);
                    y.fill(0.0);
                }
                if keep_inverses {
                    in_weight_unit(&mut out.inverses[r * k * k..(r + 1) * k * k], inv, unit);
                }
                let row = obs.row(e);
                let from = (row.start - entries.start) * k;
                let projected = &mut out.projected[from..from + row.len() * k];
                let (inv, y) = (&inverse[..], &*y);
                let residuals = match k {
                    1 => project_row_fixed::<1>(cx, e, unit, inv, y, projected),
                    2 => project_row_fixed::<2>(cx, e, unit, inv, y, projected),
                    3 => project_row_fixed::<3>(cx, e, unit, inv, y, projected),
                    4 => project_row_fixed::<4>(cx, e, unit, inv, y, projected),
                    5 => project_row_fixed::<5>(cx, e, unit, inv, y, projected),
                    6 => project_row_fixed::<6>(cx, e, unit, inv, y, projected),
                    7 => project_row_fixed::<7>(cx, e, unit, inv, y, projected),
                    8 => project_row_fixed::<8>(cx, e, unit, inv, y, projected),
                    _ => project_row(cx, e, unit, inv, y, projected),
                };
                out.objective += ridge * dot(y, y) + residuals;
            }
            Ok(())
        },
    );
    block?;
    Ok(out)
}

/// The multiplier that puts eliminated row `e`'s weights in its own unit,
/// the power of two of its largest weight, when that lies beyond 2^+-256
/// and ridge = 0 (a ridge keeps G away from 0 by itself; inside the band
/// G^-1 stays finite and nothing changes). It keeps G^-1 finite when all of
/// a row's weights are tiny beside other rows' (found by fuzzing: a
/// 1 x 1000 CSR problem with w_default = 5e-324 gave NaN factors).
fn row_weight_unit(obs: &Observed, e: usize, ridge: f64) -> Multiplier {
    let largest = obs.row(e).map(|pos| obs.w[pos]).fold(0.0f64, f64::max);
    if ridge > 0.0 || largest == 0.0 || !largest.is_finite() {
        return Multiplier::one();
    }
    let e = exponent(largest);
    if e.abs() <= ROW_WEIGHT_BAND {
        return Multiplier::one();
    }
    Multiplier::pow2(-e)
}

/// Eliminated rows whose largest weight lies within 2^+-this keep their
/// weights as they are.
const ROW_WEIGHT_BAND: i32 = 256;

/// Solve every eliminated row at X (p x k, rows contiguous).
pub fn eliminate(obs: &Observed, x: &[f64], k: usize, ridge: f64) -> Result<Elimination> {
    eliminate_rows(obs, x, k, ridge, false)
}

/// `eliminate`, keeping each row's G_e^+ (q k^2 doubles) for Newton's model.
pub fn eliminate_keeping_inverses(
    obs: &Observed,
    x: &[f64],
    k: usize,
    ridge: f64,
) -> Result<Elimination> {
    eliminate_rows(obs, x, k, ridge, true)
}

fn eliminate_rows(
    obs: &Observed,
    x: &[f64],
    k: usize,
    ridge: f64,
    keep_inverses: bool,
) -> Result<Elimination> {
    let q = obs.n_eliminated;
    let what = "VarPro's eliminated factor";
    let blocks = (0..q.div_ceil(ELIMINATED_BLOCK))
        .map(|b| b * ELIMINATED_BLOCK..((b + 1) * ELIMINATED_BLOCK).min(q));
    let blocks = try_collect(blocks, what)?;
    let mut parts: Vec<Result<Block>> = Vec::new();
    try_reserve(&mut parts, blocks.len(), what)?;
    blocks
        .into_par_iter()
        .map_init(
            || SpdSolver::new(k),
            |solver, rows| match solver {
                Ok(solver) => {
                    let cx = Rows { obs, x, k, ridge };
                    eliminate_block(&cx, rows, keep_inverses, solver)
                }
                Err(error) => Err(error.clone()),
            },
        )
        .collect_into_vec(&mut parts);
    let mut out = Elimination {
        y: Vec::new(),
        projected: Vec::new(),
        objective: ridge * dot(x, x),
        inverses: Vec::new(),
    };
    try_reserve(&mut out.y, checked_len(q, k, what)?, what)?;
    let projected = checked_len(obs.nnz(), k, what)?;
    try_reserve(&mut out.projected, projected, "VarPro's projected entries")?;
    if keep_inverses {
        let inverses = checked_len(q, k * k, what)?;
        try_reserve(
            &mut out.inverses,
            inverses,
            "VarPro's eliminated rows' inverses",
        )?;
    }
    for part in parts {
        let part = part?;
        out.y.extend_from_slice(&part.y);
        out.projected.extend_from_slice(&part.projected);
        out.objective += part.objective;
        out.inverses.extend_from_slice(&part.inverses);
    }
    Ok(out)
}
