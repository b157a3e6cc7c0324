//! The pairs of free rows that share eliminated rows, listed once per
//! VarPro run so the assembly of H can sum each k x k block in registers.
//!
//! Block (g, f) of H is Y^T diag(t) Y over the eliminated rows e that
//! observe both f and g (`super::gauss_newton`). Scattering each e's
//! contribution into the blocks costs a load and a store per flop; summing
//! block by block over its list of e keeps the k^2 sums in registers and
//! streams the list. The list depends only on which entries are observed,
//! so it is built once, with a counting sort (no comparisons).
//!
//! Memory: 12 bytes per pair (f <= g, e), that is sum over eliminated rows
//! of c (c + 1) / 2 for c entries, and 12 per entry; beyond `MAX_BYTES`
//! there is no list and the assembly scatters instead.

use super::observed::Observed;

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
