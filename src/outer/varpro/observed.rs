//! The weighted entries VarPro works on, listed twice: by eliminated row
//! (to solve each eliminated row and its projector) and by free row (to
//! assemble each free row's block column of the Gauss-Newton matrix).
//!
//! Memory: 24 bytes per entry with w > 0 by eliminated row, 16 by free row.
//! Beside these, VarPro keeps k doubles per entry (`Elimination::projected`);
//! docs/varpro_matrix_free.md states the whole bound. The pairs of free rows
//! that share an eliminated row (`PairPlan`) are listed here too.

use crate::error::{Error, Result};
use crate::problem::Problem;

pub struct Observed {
    pub n_eliminated: usize,
    pub n_free: usize,
    /// Entries of eliminated row e: `ptr[e]..ptr[e + 1]`.
    pub ptr: Vec<usize>,
    pub free: Vec<usize>,
    pub w: Vec<f64>,
    pub m: Vec<f64>,
    /// Entries of free row f: positions `by_free[by_free_ptr[f]..]` into the
    /// arrays above, in increasing eliminated row; `owner` is that row.
    pub by_free_ptr: Vec<usize>,
    pub by_free: Vec<usize>,
    pub owner: Vec<usize>,
    /// The free rows' shared eliminated rows, when small enough to list.
    pub pairs: Option<PairPlan>,
}

fn reserve<T>(what: &str, len: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::OutOfMemory(format!("VarPro's entry lists ({what}, {len} entries)")))?;
    Ok(v)
}

/// Visit every entry of `side` with w > 0, row by row, columns increasing.
fn for_each_weighted(side: &Problem<'_>, mut visit: impl FnMut(usize, usize, f64, f64)) {
    match side {
        Problem::Dense(d) => {
            // Through the scale (`crate::scaling`), as every solver reads.
            for e in 0..d.n_rows() {
                for f in 0..d.n_cols() {
                    let w = d.weight(e, f);
                    if w > 0.0 {
                        visit(e, f, w, d.value(e, f));
                    }
                }
            }
        }
        Problem::Sparse(s) => {
            let (wd, md) = (s.w_default(), s.m_default());
            for e in 0..s.n_rows() {
                let row = s.row(e);
                let mut next = 0;
                for f in 0..s.n_cols() {
                    let stored = row.cols.get(next) == Some(&f);
                    let (w, m) = if stored {
                        next += 1;
                        (row.weights[next - 1], row.values[next - 1])
                    } else if wd > 0.0 {
                        (wd, md)
                    } else {
                        continue;
                    };
                    if w > 0.0 {
                        visit(e, f, w, m);
                    }
                }
            }
        }
    }
}

/// Entries with w > 0 per row of `side`: what VarPro's cost depends on.
pub fn entries_per_row(side: &Problem<'_>) -> Result<Vec<usize>> {
    let mut counts = crate::memory::try_filled(side.n_rows(), 0usize, "entries per row")?;
    match side {
        Problem::Sparse(s) => {
            // Outside the pattern every entry has w_default: all or none.
            let outside = if s.w_default() > 0.0 { s.n_cols() } else { 0 };
            for (e, c) in counts.iter_mut().enumerate() {
                let row = s.row(e);
                let stored = row.weights.iter().filter(|&&w| w > 0.0).count();
                *c = outside - outside.min(row.cols.len()) + stored;
            }
        }
        _ => for_each_weighted(side, |e, _, _, _| counts[e] += 1),
    }
    Ok(counts)
}

impl Observed {
    /// The entries of `side` (rows = the eliminated factor's rows).
    pub fn new(side: &Problem<'_>) -> Result<Observed> {
        let counts = entries_per_row(side)?;
        let nnz: usize = counts.iter().sum();
        let (q, p) = (side.n_rows(), side.n_cols());
        let mut o = Observed {
            n_eliminated: q,
            n_free: p,
            ptr: reserve("row starts", q.saturating_add(1))?,
            free: reserve("columns", nnz)?,
            w: reserve("weights", nnz)?,
            m: reserve("values", nnz)?,
            by_free_ptr: reserve("free row starts", p.saturating_add(1))?,
            by_free: reserve("positions", nnz)?,
            owner: reserve("owners", nnz)?,
            pairs: None,
        };
        o.ptr.push(0);
        for_each_weighted(side, |_, f, w, m| {
            o.free.push(f);
            o.w.push(w);
            o.m.push(m);
        });
        counts.iter().fold(0, |start, c| {
            o.ptr.push(start + c);
            start + c
        });
        o.index_by_free();
        o.pairs = PairPlan::new(&o);
        Ok(o)
    }

    /// Counting sort of the positions by free row (capacity reserved above).
    fn index_by_free(&mut self) {
        let mut starts = vec![0usize; self.n_free + 1];
        self.free.iter().for_each(|&f| starts[f + 1] += 1);
        (0..self.n_free).for_each(|f| starts[f + 1] += starts[f]);
        self.by_free_ptr.extend_from_slice(&starts);
        self.by_free.resize(self.free.len(), 0);
        self.owner.resize(self.free.len(), 0);
        for e in 0..self.n_eliminated {
            for pos in self.ptr[e]..self.ptr[e + 1] {
                let slot = &mut starts[self.free[pos]];
                self.by_free[*slot] = pos;
                self.owner[*slot] = e;
                *slot += 1;
            }
        }
    }

    /// sum w m^2: the objective of U V^T = 0, the scale of rounding.
    pub fn weighted_data_norm(&self) -> f64 {
        self.w.iter().zip(&self.m).map(|(w, m)| w * m * m).sum()
    }

    pub fn nnz(&self) -> usize {
        self.free.len()
    }

    pub fn row(&self, e: usize) -> std::ops::Range<usize> {
        self.ptr[e]..self.ptr[e + 1]
    }

    pub fn free_row(&self, f: usize) -> std::ops::Range<usize> {
        self.by_free_ptr[f]..self.by_free_ptr[f + 1]
    }

    /// Whether H's block columns are cheaper as stacked products
    /// (`super::stacked_assembly`) than pair by pair. Up to rank 8, where
    /// the pairs' kernels have the rank compiled in, they are not: on the
    /// digits' pattern (1797 x 64, 70 % observed) at k = 4 and 6 the pair
    /// plan took 0.64 and 0.74 of the stacked products' time. Beyond, the
    /// stacked products win unless their flops, the zeros included, exceed
    /// the scattered pairs' STACKED_SPEEDUP times.
    pub fn prefer_stacked(&self, k: usize) -> bool {
        if k <= 8 {
            return false;
        }
        let stacked: usize = (0..self.n_free)
            .map(|f| self.free_row(f).len() * (self.n_free - f))
            .sum();
        let shared: usize = (0..self.n_eliminated)
            .map(|e| {
                let c = self.row(e).len();
                c * (c + 1) / 2
            })
            .sum();
        let stacked_flops = stacked as f64 * (k * (k + 1) + 2 * k) as f64;
        let pair_flops = shared as f64 * (2 * k * k + 3 * k) as f64;
        stacked_flops <= STACKED_SPEEDUP * pair_flops
    }
}

/// The stacked products' speed per flop against the scattered pairs', at
/// the break-even measured at k = 12 and 15 (docs/optimum.md, "Ranks
/// beyond 8"): at 15 % observed, 3.5 times the flops, they were still 1.2
/// times faster; at 70 %, 0.74 times the flops, 2.1 times.
const STACKED_SPEEDUP: f64 = 4.0;

// The pair plan.
// The pairs of free rows that share eliminated rows, listed once per
// VarPro run so the assembly of H can sum each k x k block in registers.
//
// Block (g, f) of H is Y^T diag(t) Y over the eliminated rows e that
// observe both f and g (`super::gauss_newton`). Scattering each e's
// contribution into the blocks costs a load and a store per flop; summing
// block by block over its list of e keeps the k^2 sums in registers and
// streams the list. The list depends only on which entries are observed,
// so it is built once, with a counting sort (no comparisons).
//
// Memory: 12 bytes per pair (f <= g, e), that is sum over eliminated rows
// of c (c + 1) / 2 for c entries, and 12 per entry; beyond `MAX_BYTES`
// there is no list and the assembly scatters instead.

/// The largest list kept (bytes): 256 MiB, about twenty times the Gauss-
/// Newton matrix at AUTO's limit of 2048 unknowns.
const MAX_BYTES: usize = 256 << 20;

/// One eliminated row e shared by free rows f <= g, with the indices of
/// its entries (e, f) and (e, g) in free-row order (`Observed::by_free`),
/// as u32 (the list exists only below 2^32 entries). Free-row order makes
/// a run's reads of (e, g)'s data one forward sweep through g's entries,
/// where entry order would stride a whole eliminated row per pair.
#[derive(Clone, Copy)]
pub struct Pair {
    pub e: u32,
    pub idx_f: u32,
    pub idx_g: u32,
}

/// For each free row f its runs, one per g >= f sharing an eliminated row
/// with it, in increasing g; each run's pairs in increasing e.
pub struct PairPlan {
    /// Runs of free row f: `run_ptr[f]..run_ptr[f + 1]`.
    run_ptr: Vec<usize>,
    /// Per run: its g and where its pairs start (one more start at the end).
    run_g: Vec<usize>,
    run_start: Vec<usize>,
    pairs: Vec<Pair>,
    /// Entry position -> index in free-row order (inverse of `by_free`).
    index_of: Vec<u32>,
    /// The weights in free-row order.
    weights: Vec<f64>,
}

impl PairPlan {
    /// The plan, or None when it would exceed `MAX_BYTES` or memory.
    pub fn new(obs: &Observed) -> Option<PairPlan> {
        let count: usize = (0..obs.n_eliminated)
            .map(|e| {
                let c = obs.row(e).len();
                c * (c + 1) / 2
            })
            .sum();
        let bytes = count.checked_mul(std::mem::size_of::<Pair>())?;
        if bytes > MAX_BYTES || obs.nnz() > u32::MAX as usize {
            return None;
        }
        let mut plan = PairPlan {
            run_ptr: Vec::new(),
            run_g: Vec::new(),
            run_start: Vec::new(),
            pairs: Vec::new(),
            index_of: Vec::new(),
            weights: Vec::new(),
        };
        plan.weights.try_reserve_exact(obs.nnz()).ok()?;
        plan.weights
            .extend(obs.by_free.iter().map(|&pos| obs.w[pos]));
        plan.index_of.try_reserve_exact(obs.nnz()).ok()?;
        plan.index_of.resize(obs.nnz(), 0);
        for (idx, &pos) in obs.by_free.iter().enumerate() {
            plan.index_of[pos] = idx as u32;
        }
        plan.pairs.try_reserve_exact(count).ok()?;
        plan.run_ptr.try_reserve_exact(obs.n_free + 1).ok()?;
        plan.run_ptr.push(0);
        let p = obs.n_free;
        let (mut per_g, mut next) = (vec![0usize; p], vec![0usize; p]);
        for f in 0..p {
            plan.add_free_row(obs, f, &mut per_g, &mut next)?;
            plan.run_ptr.push(plan.run_g.len());
        }
        plan.run_start.push(plan.pairs.len());
        Some(plan)
    }

    /// Free row f's runs: count the pairs per g, then place them (a
    /// counting sort by g that keeps the increasing e of the visit).
    fn add_free_row(
        &mut self,
        obs: &Observed,
        f: usize,
        per_g: &mut [usize],
        next: &mut [usize],
    ) -> Option<()> {
        let partners = |idx_f: usize| {
            let e = obs.owner[idx_f];
            let row = obs.row(e);
            let from = row.start + obs.free[row.clone()].partition_point(|&g| g < f);
            (from..row.end).map(move |pos_g| (e, idx_f, pos_g))
        };
        for idx in obs.free_row(f) {
            partners(idx).for_each(|(_, _, pos_g)| per_g[obs.free[pos_g]] += 1);
        }
        let base = self.pairs.len();
        let mut start = base;
        for g in f..obs.n_free {
            if per_g[g] > 0 {
                self.run_g.try_reserve(1).ok()?;
                self.run_start.try_reserve(1).ok()?;
                self.run_g.push(g);
                self.run_start.push(start);
                next[g] = start;
                start += per_g[g];
                per_g[g] = 0;
            }
        }
        let placeholder = Pair {
            e: 0,
            idx_f: 0,
            idx_g: 0,
        };
        self.pairs.resize(start, placeholder);
        for idx in obs.free_row(f) {
            for (e, idx_f, pos_g) in partners(idx) {
                let slot = &mut next[obs.free[pos_g]];
                self.pairs[*slot] = Pair {
                    e: e as u32,
                    idx_f: idx_f as u32,
                    idx_g: self.index_of[pos_g],
                };
                *slot += 1;
            }
        }
        Some(())
    }

    /// `values` (k per entry, in entry order) in free-row order.
    pub fn in_free_order(&self, values: &[f64], k: usize) -> crate::error::Result<Vec<f64>> {
        let what = "VarPro's projected entries in free-row order";
        let mut out = crate::memory::try_filled(values.len(), 0.0, what)?;
        for (pos, &idx) in self.index_of.iter().enumerate() {
            let idx = idx as usize;
            out[idx * k..][..k].copy_from_slice(&values[pos * k..][..k]);
        }
        Ok(out)
    }

    /// The weight of the entry at `idx` in free-row order.
    #[inline(always)]
    pub fn weight(&self, idx: u32) -> f64 {
        self.weights[idx as usize]
    }

    /// Free row f's runs as (g, its pairs).
    pub fn runs(&self, f: usize) -> impl Iterator<Item = (usize, &[Pair])> + '_ {
        (self.run_ptr[f]..self.run_ptr[f + 1]).map(move |r| {
            let pairs = &self.pairs[self.run_start[r]..self.run_start[r + 1]];
            (self.run_g[r], pairs)
        })
    }
}
