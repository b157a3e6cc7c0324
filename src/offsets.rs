//! Offsets (WLRA_OPTION_OFFSETS): the model M ~ a 1^T + 1 b^T + U V^T,
//! fitted jointly inside the alternation. The fit carries augmented
//! factors whose product is the whole model,
//!     U~ = [U, a, 1],   V~ = [V, 1, b],
//! (the a and 1 columns only with row offsets, the 1 and b columns only
//! with column offsets). A column of ones is pinned: the U half-step
//! solves for U~'s other columns [U, a] against V~'s matching [V, 1], with
//! the pinned pair's product 1 b^T moved to the data (M - 1 b^T): each
//! row's regression has one unknown more and stays exact, for every
//! solver. The V half-step is its mirror. The ridge penalizes U and V
//! only: penalized offsets would make the model depend on M's scale (the
//! penalty on a grows as M^2, on U and V as M), so, as softImpute's
//! centering, they are unpenalized; with a ridge the exact solver runs.
//!
//! The pinned columns hold 1 in the caller's units; in the solvers' they
//! hold powers of two that scale as the columns beside them
//! (`Scale::pins`), so the fit's bits do not depend on M's scale.
//!
//! Gauge: without a ridge the model does not fix how U V^T and the
//! offsets share a matrix (V + 1 r^T with a - U r gives the same product).
//! The fit returns the gauge with 1^T V = 0 (row offsets), 1^T U = 0
//! (column offsets) and, with both, 1^T b = 0: a_i + b_j is then the part
//! of the model's (i, j) entry that U V^T's centered rows and columns leave.
//! With a ridge the penalty fixes U and V, but not a constant moved
//! between a and b: 1^T b = 0 holds for every fit with both offsets.

use crate::error::Result;
use crate::init::Factors;
use crate::memory::{try_from_fn, try_zeros};
use crate::scaling::{dot_without_overflow, mean_without_overflow, Pins};
use crate::vocabulary::choices::{
    WLRA_OFFSETS_BOTH, WLRA_OFFSETS_COLUMNS, WLRA_OFFSETS_NONE, WLRA_OFFSETS_ROWS,
};
use faer::{ColRef, Mat, MatRef};

/// A fit's row offsets a and column offsets b, None for a side it lacks.
pub type OffsetColumns<'a> = (Option<ColRef<'a, f64>>, Option<ColRef<'a, f64>>);

/// Which offsets a fit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offsets {
    pub rows: bool,
    pub cols: bool,
}

impl Offsets {
    pub const NONE: Offsets = Offsets {
        rows: false,
        cols: false,
    };

    /// From a validated WLRA_OFFSETS_* value.
    pub fn from_c(value: i32) -> Offsets {
        Offsets {
            rows: value == WLRA_OFFSETS_ROWS || value == WLRA_OFFSETS_BOTH,
            cols: value == WLRA_OFFSETS_COLUMNS || value == WLRA_OFFSETS_BOTH,
        }
    }

    pub fn c_value(self) -> i32 {
        match (self.rows, self.cols) {
            (false, false) => WLRA_OFFSETS_NONE,
            (true, false) => WLRA_OFFSETS_ROWS,
            (false, true) => WLRA_OFFSETS_COLUMNS,
            (true, true) => WLRA_OFFSETS_BOTH,
        }
    }

    pub fn any(self) -> bool {
        self.rows || self.cols
    }

    /// Columns the augmented factors have beyond the rank.
    pub fn count(self) -> usize {
        usize::from(self.rows) + usize::from(self.cols)
    }

    /// The augmented column holding a in U~ (ones in V~), for rank k.
    pub fn row_column(self, k: usize) -> Option<usize> {
        self.rows.then_some(k)
    }

    /// The augmented column holding b in V~ (ones in U~), for rank k.
    pub fn col_column(self, k: usize) -> Option<usize> {
        self.cols.then_some(k + usize::from(self.rows))
    }

    /// The column pinned to 1 in the factor a half-step solves for: U~'s
    /// ones (column offsets) for the U half-step (`rows`), V~'s ones (row
    /// offsets) for the V half-step. The other factor's entry in that
    /// column is the offset moved to the data.
    pub fn pinned(self, k: usize, rows: bool) -> Option<usize> {
        if rows {
            self.col_column(k)
        } else {
            self.row_column(k)
        }
    }

    /// Rank-k factors with these offsets appended at 0 and their pinned
    /// columns at `pins` (`Scale::pins`).
    pub fn augment(self, f: Factors, k: usize, pins: Pins) -> Result<Factors> {
        if !self.any() {
            return Ok(f);
        }
        let width = k + self.count();
        let (rc, cc) = (self.row_column(k), self.col_column(k));
        let what = "the factors with offsets";
        let column = |x: &Mat<f64>, pinned: Option<usize>, pin: f64| {
            let entry = |i: usize, j: usize| match j {
                _ if j < k => x[(i, j)],
                _ if Some(j) == pinned => pin,
                _ => 0.0,
            };
            try_from_fn(x.nrows(), width, entry, what)
        };
        Ok(Factors {
            u: column(&f.u, cc, pins.cols)?,
            v: column(&f.v, rc, pins.rows)?,
        })
    }

    /// The pinned columns moved to `pins`, their partners (the offsets)
    /// times old / new: the product is unchanged, exactly for powers of two.
    pub fn repin(self, f: &mut Factors, k: usize, pins: Pins) {
        if let Some(c) = self.row_column(k) {
            repin_column(&mut f.u, &mut f.v, c, pins.rows);
        }
        if let Some(c) = self.col_column(k) {
            repin_column(&mut f.v, &mut f.u, c, pins.cols);
        }
    }

    /// Fold-in's view of the fitted V~ (rank k): the U half-step's design,
    /// its columns but the pinned one, and that column's partner, the column
    /// offsets b, which come off the new rows' data (None without).
    pub fn fold_in_design(
        self,
        v: MatRef<'_, f64>,
        k: usize,
    ) -> Result<(Mat<f64>, Option<&[f64]>)> {
        let pinned = self.pinned(k, true);
        let free: Vec<usize> = (0..v.ncols()).filter(|&c| Some(c) != pinned).collect();
        let design = try_from_fn(v.nrows(), free.len(), |j, c| v[(j, free[c])], "V")?;
        // Owned factors are column-major: the column is one slice.
        let column = |c: usize| v.col(c).try_as_col_major().expect("owned").as_slice();
        let shift = pinned.map(column);
        Ok((design, shift))
    }

    /// The pinned value in the factor a half-step solves for (`pinned`).
    pub fn pin(self, pins: Pins, rows: bool) -> f64 {
        if rows {
            pins.cols
        } else {
            pins.rows
        }
    }

    /// The documented gauge (module comment) of augmented rank-k factors
    /// in the caller's units (pinned columns at 1), for fits without a
    /// ridge (a ridge fixes its own). The product changes by rounding
    /// only. Flops: O((n + m) k).
    pub fn center(self, f: &mut Factors, k: usize) -> Result<()> {
        let (n, m) = (f.u.nrows(), f.v.nrows());
        // U V^T = (U_c + 1 u_mean^T)(V_c + 1 v_mean^T)^T: the cross terms
        // move to the offsets the fit has.
        let u_mean = column_means(f.u.as_ref(), k)?;
        let v_mean = column_means(f.v.as_ref(), k)?;
        if self.rows {
            // a += U v_mean; V centered.
            let c = k;
            for i in 0..n {
                let shift = dot_without_overflow(k, |d| f.u[(i, d)], |d| v_mean[(d, 0)]);
                f.u[(i, c)] += shift;
            }
            subtract_means(&mut f.v, &v_mean, k);
        }
        if self.cols {
            // b += V_c u_mean (V already centered when a absorbed its mean).
            let c = k + usize::from(self.rows);
            for j in 0..m {
                let shift = dot_without_overflow(k, |d| f.v[(j, d)], |d| u_mean[(d, 0)]);
                f.v[(j, c)] += shift;
            }
            subtract_means(&mut f.u, &u_mean, k);
        }
        self.move_constant(f, k);
        Ok(())
    }

    /// With both offsets, b's mean moved to a (1^T b = 0): a constant that
    /// moves between a and b costs nothing, ridge or not, so this gauge
    /// holds for every fit with both.
    pub fn move_constant(self, f: &mut Factors, k: usize) {
        if !(self.rows && self.cols) {
            return;
        }
        let (ca, cb) = (k, k + 1);
        let (n, m) = (f.u.nrows(), f.v.nrows());
        let b_mean = mean_without_overflow(m, |j| f.v[(j, cb)]);
        (0..m).for_each(|j| f.v[(j, cb)] -= b_mean);
        (0..n).for_each(|i| f.u[(i, ca)] += b_mean);
    }

    /// The offsets a (rows) and b (columns) of augmented rank-k factors in
    /// the caller's units.
    pub fn of(self, f: &Factors, k: usize) -> OffsetColumns<'_> {
        (
            self.row_column(k).map(|c| f.u.col(c)),
            self.col_column(k).map(|c| f.v.col(c)),
        )
    }
}

fn repin_column(partner: &mut Mat<f64>, pinned: &mut Mat<f64>, c: usize, pin: f64) {
    let old = if pinned.nrows() > 0 {
        pinned[(0, c)]
    } else {
        pin
    };
    if old == pin {
        return;
    }
    let ratio = old / pin;
    partner.col_mut(c).iter_mut().for_each(|x| *x *= ratio);
    pinned.col_mut(c).iter_mut().for_each(|x| *x = pin);
}

/// The means of x's first k columns (k x 1), each summed in row order.
fn column_means(x: MatRef<'_, f64>, k: usize) -> Result<Mat<f64>> {
    let mut out = try_zeros(k, 1, "the factors' column means")?;
    for d in 0..k {
        out[(d, 0)] = mean_without_overflow(x.nrows(), |i| x[(i, d)]);
    }
    Ok(out)
}

fn subtract_means(x: &mut Mat<f64>, means: &Mat<f64>, k: usize) {
    for d in 0..k {
        let mean = means[(d, 0)];
        x.col_mut(d).iter_mut().for_each(|e| *e -= mean);
    }
}
