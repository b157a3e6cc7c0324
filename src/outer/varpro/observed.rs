//! The weighted entries VarPro works on, listed twice: by eliminated row
//! (to solve each eliminated row and its projector) and by free row (to
//! assemble each free row's block column of the Gauss-Newton matrix).
//!
//! Memory: 24 bytes per entry with w > 0 by eliminated row, 16 by free row.
//! Beside these, VarPro keeps k doubles per entry (`Elimination::projected`);
//! docs/varpro_matrix_free.md states the whole bound.

use super::pairs::PairPlan;
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
}
