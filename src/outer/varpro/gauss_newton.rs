//! The reduced problem of variable projection and its Gauss-Newton model.
//!
//! With the free factor X (p x k) fixed, each eliminated row e solves its
//! regression exactly: y_e = G_e^+ sum_f w_ef m_ef x_f, G_e = sum_f w_ef
//! x_f x_f^T + ridge I. The reduced objective phi(X) = f(X, Y(X)) / 2 has
//! (by the envelope theorem) the gradient g_f = ridge x_f - sum_e w_ef r_ef
//! y_e, r_ef = m_ef - y_e^T x_f, and, dropping the second-order term of the
//! projector's derivative (Kaufman's approximation, Ruhe and Wedin's
//! "RW2"), the Gauss-Newton matrix with k x k blocks
//!     H_fg = sum_e (delta_fg w_ef - w_ef w_eg x_f^T G_e^+ x_g) y_e y_e^T
//!            + delta_fg ridge I.
//! It is J^T J for the residual of the eliminated rows' projections, so
//! positive semi-definite, and singular along the gauge X -> X B when
//! ridge = 0.

use super::observed::Observed;
use crate::error::{Error, Result};
use crate::kernels::spd_solve::SpdSolver;
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
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// out = S v for a symmetric k x k S stored by columns.
fn times_symmetric(s: &[f64], v: &[f64], out: &mut [f64]) {
    out.fill(0.0);
    for (column, &vj) in s.chunks_exact(v.len()).zip(v) {
        out.iter_mut().zip(column).for_each(|(o, s)| *o += s * vj);
    }
}

struct Block {
    y: Vec<f64>,
    projected: Vec<f64>,
    objective: f64,
}

/// One block of eliminated rows. Flops: about 3 k^2 per entry + k^3 / 3
/// per row.
fn eliminate_block(
    obs: &Observed,
    x: &[f64],
    k: usize,
    ridge: f64,
    rows: std::ops::Range<usize>,
    solver: &mut SpdSolver,
) -> Result<Block> {
    let entries = obs.ptr[rows.start]..obs.ptr[rows.end];
    let what = "a block of VarPro's eliminated rows";
    let mut out = Block {
        y: try_filled(checked_len(rows.len(), k, what)?, 0.0, what)?,
        projected: try_filled(checked_len(entries.len(), k, what)?, 0.0, what)?,
        objective: 0.0,
    };
    // k is unbounded on the matrix-free path: reserved like the rest.
    let scratch = "an eliminated row's k x k scratch";
    let mut inverse = try_filled(checked_len(k, k, scratch)?, 0.0, scratch)?;
    let mut rhs = try_filled(k, 0.0, scratch)?;
    for (r, e) in rows.clone().enumerate() {
        let unit = row_weight_unit(obs, e, ridge);
        let mut g = solver.gram_mut();
        g.fill(0.0);
        (0..k).for_each(|a| g[(a, a)] = ridge);
        let y = &mut out.y[r * k..(r + 1) * k];
        for pos in obs.row(e) {
            let (xf, w) = (&x[obs.free[pos] * k..][..k], unit.apply(obs.w[pos]));
            for b in 0..k {
                for a in 0..k {
                    g[(a, b)] += w * xf[a] * xf[b];
                }
                y[b] += w * obs.m[pos] * xf[b];
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
        rhs.copy_from_slice(y);
        times_symmetric(&inverse, &rhs, y);
        // A G so close to 0 that G^-1 (or y) overflows is numerically
        // singular: the row gets the minimum-norm answer for G = 0, y = 0
        // and no projection (found by fuzzing: a 2 x 2 CSR problem whose
        // free factor had an entry near 1e-300 beside 1).
        if !(inverse.iter().all(|v| v.is_finite()) && y.iter().all(|v| v.is_finite())) {
            inverse.fill(0.0);
            y.fill(0.0);
        }
        let mut sum = ridge * dot(y, y);
        for pos in obs.row(e) {
            let (xf, w) = (&x[obs.free[pos] * k..][..k], obs.w[pos]);
            let residual = obs.m[pos] - dot(y, xf);
            sum += w * residual * residual;
            let out_pos = (pos - entries.start) * k;
            times_symmetric(&inverse, xf, &mut out.projected[out_pos..out_pos + k]);
            // w G^-1 x_f, both in the row's weight unit.
            let w_in_unit = unit.apply(w);
            out.projected[out_pos..out_pos + k]
                .iter_mut()
                .for_each(|p| *p *= w_in_unit);
        }
        out.objective += sum;
    }
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
                Ok(solver) => eliminate_block(obs, x, k, ridge, rows, solver),
                Err(error) => Err(error.clone()),
            },
        )
        .collect_into_vec(&mut parts);
    let mut out = Elimination {
        y: Vec::new(),
        projected: Vec::new(),
        objective: ridge * dot(x, x),
    };
    try_reserve(&mut out.y, checked_len(q, k, what)?, what)?;
    let projected = checked_len(obs.nnz(), k, what)?;
    try_reserve(&mut out.projected, projected, "VarPro's projected entries")?;
    for part in parts {
        let part = part?;
        out.y.extend_from_slice(&part.y);
        out.projected.extend_from_slice(&part.projected);
        out.objective += part.objective;
    }
    Ok(out)
}

/// The Gauss-Newton model of phi at X: H (pk x pk, index f k + a) in k x k
/// blocks, block (g, f) at `(f p + g) k^2` stored by columns (so each free
/// row's block column is one contiguous run, and each pair update one
/// contiguous k^2 loop), and the gradient g (p x k, rows contiguous).
pub struct Model {
    pub blocks: Vec<f64>,
    pub gradient: Vec<f64>,
    pub p: usize,
    pub k: usize,
}

impl Model {
    /// H[(g k + a), (f k + b)].
    pub fn entry(&self, i: usize, j: usize) -> f64 {
        let (k, p) = (self.k, self.p);
        let (g, a, f, b) = (i / k, i % k, j / k, j % k);
        self.blocks[(f * p + g) * k * k + b * k + a]
    }

    /// H v. Flops: 2 (pk)^2.
    pub fn times(&self, v: &[f64]) -> Vec<f64> {
        let (k, p) = (self.k, self.p);
        let mut out = vec![0.0; p * k];
        for f in 0..p {
            for g in 0..p {
                let block = &self.blocks[(f * p + g) * k * k..][..k * k];
                for (column, &vb) in block.chunks_exact(k).zip(&v[f * k..(f + 1) * k]) {
                    let o = &mut out[g * k..(g + 1) * k];
                    o.iter_mut().zip(column).for_each(|(o, h)| *o += h * vb);
                }
            }
        }
        out
    }
}

/// `assemble_free_row` for a rank known at compile time: the same
/// operations in the same order (the same bits), with the k-length loops
/// unrolled and their bounds checks gone. On the trimmed Face (k = 4,
/// 13 entries per eliminated row) the generic loop spent most of a VarPro
/// step on slicing and short loops, not on the 24 flops of each pair.
fn assemble_free_row_fixed<const K: usize>(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    f: usize,
    column: &mut [f64],
    gradient: &mut [f64],
) {
    let xf: &[f64; K] = x[f * K..][..K].try_into().expect("K entries");
    for idx in obs.free_row(f) {
        let (pos, e) = (obs.by_free[idx], obs.owner[idx]);
        let ye: &[f64; K] = elim.y[e * K..][..K].try_into().expect("K entries");
        let w = obs.w[pos];
        let residual = obs.m[pos] - dot(ye, xf);
        gradient
            .iter_mut()
            .zip(ye)
            .for_each(|(g, y)| *g -= w * residual * y);
        let wx: [f64; K] = std::array::from_fn(|a| w * xf[a]);
        let outer: [[f64; K]; K] = std::array::from_fn(|b| std::array::from_fn(|a| ye[a] * ye[b]));
        let row = obs.row(e);
        let from = row.start + obs.free[row.clone()].partition_point(|&g| g < f);
        for pos2 in from..row.end {
            let own = if pos2 == pos { w } else { 0.0 };
            let projected: &[f64; K] = elim.projected[pos2 * K..][..K].try_into().expect("K");
            let t = own - dot(&wx, projected);
            let g = obs.free[pos2];
            let block = &mut column[g * K * K..][..K * K];
            for (b, outer_b) in outer.iter().enumerate() {
                let run = &mut block[b * K..][..K];
                run.iter_mut().zip(outer_b).for_each(|(h, z)| *h += t * z);
            }
        }
    }
}

/// Free row f's block column of H (blocks g >= f) and its gradient.
fn assemble_free_row(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    k: usize,
    f: usize,
    column: &mut [f64],
    gradient: &mut [f64],
) {
    let xf = &x[f * k..(f + 1) * k];
    let (mut wx, mut outer) = (vec![0.0; k], vec![0.0; k * k]);
    for idx in obs.free_row(f) {
        let (pos, e) = (obs.by_free[idx], obs.owner[idx]);
        let ye = &elim.y[e * k..(e + 1) * k];
        let w = obs.w[pos];
        let residual = obs.m[pos] - dot(ye, xf);
        gradient
            .iter_mut()
            .zip(ye)
            .for_each(|(g, y)| *g -= w * residual * y);
        wx.iter_mut().zip(xf).for_each(|(o, x)| *o = w * x);
        for b in 0..k {
            for a in 0..k {
                outer[b * k + a] = ye[a] * ye[b];
            }
        }
        // Only blocks (g, f) with g >= f: H is symmetric, `mirror` fills
        // the rest. Entries of a row are in increasing free row.
        let row = obs.row(e);
        let from = row.start + obs.free[row.clone()].partition_point(|&g| g < f);
        for pos2 in from..row.end {
            let own = if pos2 == pos { w } else { 0.0 };
            let t = own - dot(&wx, &elim.projected[pos2 * k..(pos2 + 1) * k]);
            let g = obs.free[pos2];
            let block = &mut column[g * k * k..(g + 1) * k * k];
            block.iter_mut().zip(&outer).for_each(|(h, z)| *h += t * z);
        }
    }
}

/// Blocks (f, g), g > f, from their transposes (g, f). Copies: (p k)^2 / 2.
fn mirror(blocks: &mut [f64], p: usize, k: usize) {
    for f in 0..p {
        for g in f + 1..p {
            for b in 0..k {
                for a in 0..k {
                    blocks[(g * p + f) * k * k + b * k + a] =
                        blocks[(f * p + g) * k * k + a * k + b];
                }
            }
        }
    }
}

/// Assemble H and g at X, one task per free row (each owns its block
/// column, so no reduction and no dependence on the thread count).
pub fn assemble(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    k: usize,
    ridge: f64,
) -> Result<Model> {
    let dim = obs.n_free * k;
    let mut h = Vec::new();
    h.try_reserve_exact(dim * dim).map_err(|_| {
        Error::OutOfMemory(format!(
            "VarPro's Gauss-Newton matrix ({dim} x {dim}) does not fit in memory"
        ))
    })?;
    h.resize(dim * dim, 0.0);
    let mut gradient = try_filled(dim, 0.0, "VarPro's gradient")?;
    h.par_chunks_mut(dim * k)
        .zip(gradient.par_chunks_mut(k))
        .enumerate()
        .for_each(|(f, (column, grad))| {
            match k {
                1 => assemble_free_row_fixed::<1>(obs, x, elim, f, column, grad),
                2 => assemble_free_row_fixed::<2>(obs, x, elim, f, column, grad),
                3 => assemble_free_row_fixed::<3>(obs, x, elim, f, column, grad),
                4 => assemble_free_row_fixed::<4>(obs, x, elim, f, column, grad),
                5 => assemble_free_row_fixed::<5>(obs, x, elim, f, column, grad),
                6 => assemble_free_row_fixed::<6>(obs, x, elim, f, column, grad),
                7 => assemble_free_row_fixed::<7>(obs, x, elim, f, column, grad),
                8 => assemble_free_row_fixed::<8>(obs, x, elim, f, column, grad),
                _ => assemble_free_row(obs, x, elim, k, f, column, grad),
            }
            for a in 0..k {
                column[f * k * k + a * k + a] += ridge;
                grad[a] += ridge * x[f * k + a];
            }
        });
    mirror(&mut h, obs.n_free, k);
    Ok(Model {
        blocks: h,
        gradient,
        p: obs.n_free,
        k,
    })
}
