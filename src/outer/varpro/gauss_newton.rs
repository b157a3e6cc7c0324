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

use super::elimination::dot;
pub use super::elimination::{eliminate, Elimination};
use super::observed::Observed;
use super::observed::PairPlan;
use super::stacked_assembly::{assemble_free_row_stacked, StackedInputs};
use crate::error::{Error, Result};
use crate::kernels::vectorized::vectorized;
use crate::memory::try_filled;
use rayon::prelude::*;

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
        vectorized(
            #[inline(always)]
            || {
                for f in 0..p {
                    let vf = &v[f * k..(f + 1) * k];
                    let blocks = &self.blocks[f * p * k * k..][..p * k * k];
                    for (block, o) in blocks.chunks_exact(k * k).zip(out.chunks_exact_mut(k)) {
                        for (column, &vb) in block.chunks_exact(k).zip(vf) {
                            o.iter_mut().zip(column).for_each(|(o, h)| *o += h * vb);
                        }
                    }
                }
            },
        );
        out
    }
}

/// `assemble_free_row_scattered` for a rank known at compile time: the same
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

/// Free row f's block column of H (blocks g >= f) and its gradient from
/// the pair plan: each block Y^T diag(t) Y summed in registers over the
/// eliminated rows f and g share, t = delta_fg w_ef - w_ef x_f^T
/// (G_e^+ w_eg x_g). Flops per pair 2 k^2 + 3 k; the gradient 4 k per
/// entry.
#[inline(always)]
fn assemble_free_row_planned<const K: usize>(
    at: &Linearization<'_>,
    plan: &PairPlan,
    projected: &[f64],
    f: usize,
    column: &mut [f64],
    gradient: &mut [f64],
) {
    let Linearization { obs, x, elim, .. } = *at;
    let xf: &[f64; K] = x[f * K..][..K].try_into().expect("K entries");
    let y_of = |e: usize| -> &[f64; K] { elim.y[e * K..][..K].try_into().expect("K entries") };
    for idx in obs.free_row(f) {
        let (pos, ye) = (obs.by_free[idx], y_of(obs.owner[idx]));
        let scaled = obs.w[pos] * (obs.m[pos] - dot(ye, xf));
        gradient
            .iter_mut()
            .zip(ye)
            .for_each(|(g, y)| *g -= scaled * y);
    }
    let mut t = Vec::new();
    for (g, pairs) in plan.runs(f) {
        // t per pair first, then Y^T diag(t) Y: the dot products' latency
        // then never stalls the sums.
        t.clear();
        t.extend(pairs.iter().map(|pair| {
            let w = plan.weight(pair.idx_f);
            let b: &[f64; K] = projected[pair.idx_g as usize * K..][..K]
                .try_into()
                .expect("K");
            // Run g = f pairs each entry with itself.
            let own = if g == f { w } else { 0.0 };
            own - w * dot(xf, b)
        }));
        let mut sum = [[0.0; K]; K];
        for (pair, &t) in pairs.iter().zip(&t) {
            let ye = y_of(pair.e as usize);
            for (b, sum_b) in sum.iter_mut().enumerate() {
                let scaled = t * ye[b];
                sum_b.iter_mut().zip(ye).for_each(|(s, y)| *s += scaled * y);
            }
        }
        let block = &mut column[g * K * K..][..K * K];
        for (run, sum_b) in block.chunks_exact_mut(K).zip(&sum) {
            run.copy_from_slice(sum_b);
        }
    }
}

/// Free row f's block column of H (blocks g >= f) and its gradient, each
/// eliminated row's contribution scattered into the blocks (any rank).
fn assemble_free_row_scattered(
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

/// Free row f's block column of H (blocks g >= f) and its gradient:
/// from the pair plan where there is one and the rank is compiled in, else
/// by scattering each eliminated row's contribution.
fn assemble_free_row(at: &Linearization<'_>, f: usize, column: &mut [f64], grad: &mut [f64]) {
    let Linearization {
        obs, x, elim, k, ..
    } = *at;
    let (c, g) = (column, grad);
    if let (Some(plan), Some(b)) = (&obs.pairs, at.projected_by_free) {
        match k {
            1 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<1>(at, plan, b, f, c, g),
                )
            }
            2 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<2>(at, plan, b, f, c, g),
                )
            }
            3 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<3>(at, plan, b, f, c, g),
                )
            }
            4 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<4>(at, plan, b, f, c, g),
                )
            }
            5 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<5>(at, plan, b, f, c, g),
                )
            }
            6 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<6>(at, plan, b, f, c, g),
                )
            }
            7 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<7>(at, plan, b, f, c, g),
                )
            }
            8 => {
                return vectorized(
                    #[inline(always)]
                    || assemble_free_row_planned::<8>(at, plan, b, f, c, g),
                )
            }
            _ => {}
        }
    }
    let (column, grad) = (c, g);
    // The scattered assembly, its k-length loops compiled in for k <= 8.
    match k {
        1 => assemble_free_row_fixed::<1>(obs, x, elim, f, column, grad),
        2 => assemble_free_row_fixed::<2>(obs, x, elim, f, column, grad),
        3 => assemble_free_row_fixed::<3>(obs, x, elim, f, column, grad),
        4 => assemble_free_row_fixed::<4>(obs, x, elim, f, column, grad),
        5 => assemble_free_row_fixed::<5>(obs, x, elim, f, column, grad),
        6 => assemble_free_row_fixed::<6>(obs, x, elim, f, column, grad),
        7 => assemble_free_row_fixed::<7>(obs, x, elim, f, column, grad),
        8 => assemble_free_row_fixed::<8>(obs, x, elim, f, column, grad),
        _ => assemble_free_row_scattered(obs, x, elim, k, f, column, grad),
    }
}

/// What the assembly reads: the entries, X, the elimination at X and its
/// projected entries in free-row order (with a pair plan).
struct Linearization<'a> {
    obs: &'a Observed,
    x: &'a [f64],
    elim: &'a Elimination,
    projected_by_free: Option<&'a [f64]>,
    k: usize,
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
/// column, so no reduction and no dependence on the thread count). H's
/// storage is `recycled` (the previous iteration's, emptied here), so a
/// run faults in its pages once, not every iteration.
pub fn assemble(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    k: usize,
    ridge: f64,
    recycled: Vec<f64>,
) -> Result<Model> {
    let stacked = obs.prefer_stacked(k);
    assemble_choosing(obs, x, elim, k, ridge, recycled, stacked)
}

/// `assemble`, its block columns from the stacked products
/// (`super::stacked_assembly`) or pair by pair, as `stacked` says.
pub(super) fn assemble_choosing(
    obs: &Observed,
    x: &[f64],
    elim: &Elimination,
    k: usize,
    ridge: f64,
    recycled: Vec<f64>,
    stacked: bool,
) -> Result<Model> {
    let dim = obs.n_free * k;
    let mut h = recycled;
    h.clear();
    h.try_reserve_exact(dim * dim).map_err(|_| {
        Error::OutOfMemory(format!(
            "VarPro's Gauss-Newton matrix ({dim} x {dim}) does not fit in memory"
        ))
    })?;
    h.resize(dim * dim, 0.0);
    let mut gradient = try_filled(dim, 0.0, "VarPro's gradient")?;
    let by_free = match &obs.pairs {
        Some(plan) if (1..=8).contains(&k) => Some(plan.in_free_order(&elim.projected, k)?),
        _ => None,
    };
    let at = Linearization {
        obs,
        x,
        elim,
        projected_by_free: by_free.as_deref(),
        k,
    };
    let stacked = stacked.then_some(StackedInputs { obs, x, elim, k });
    h.par_chunks_mut(dim * k)
        .zip(gradient.par_chunks_mut(k))
        .enumerate()
        .for_each(|(f, (column, grad))| {
            match &stacked {
                Some(inputs) => assemble_free_row_stacked(inputs, f, column, grad),
                None => assemble_free_row(&at, f, column, grad),
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
