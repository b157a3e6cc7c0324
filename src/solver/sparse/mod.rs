//! Half-steps on sparse problems (`wlra_fit_csr`). Row i's normal equations
//! split into a base part shared by all rows (`BaseSystem`) and a correction over its pattern:
//!     G_i = w_default Y^T Y + ridge I + sum_p c_p y_j y_j^T,  c_p = w_p - w_default
//!     b_i = w_default m_default Y^T 1 + sum_p t_p y_j,      t_p = w_p m_p - w_default m_default
//! (with offsets' shift s_j, m_default - s_j in place of m_default)
//! so a half-step costs O(nnz k^2) (exact) or O(nnz k) per iteration (PCG),
//! never anything of size n x m.

pub mod exact;
pub mod jacobi_cg;
pub mod sketch;

use crate::error::Result;
use crate::kernels::gathered::add_rows;
use crate::kernels::gram::gram;
use crate::kernels::transpose::rows_contiguous_into;
use crate::memory::{try_collect, try_identity, try_reserve};
use crate::problem::sparse::{SparseRow, SparseView};
use crate::solver::half_step::HalfStep;
use crate::solver::rows::may_be_singular;
use faer::Mat;

/// The base Gram counts as a multiple of I when every entry is within this
/// fraction of its diagonal of that multiple: Y^T Y of an orthonormalized Y
/// is I to about 1e-15, and products with a scaling then cost k, not k^2.
const SCALED_IDENTITY_TOLERANCE: f64 = 1e-12;

/// The base system every row's normal equations start from: what the
/// constant entries outside the pattern (w_default, m_default) and the ridge
/// contribute, the same for all rows, with Y's rows for the pattern
/// corrections. Formed once per half-step (2 m k^2 flops, on the current
/// rayon pool, unless Y is known orthonormal).
pub struct BaseSystem {
    /// w_default Y^T Y + ridge I.
    pub gram: Mat<f64>,
    /// Whether `gram` is a multiple of I to rounding (Y orthonormal, the
    /// driver's default): products with it are then a scaling.
    pub gram_scale: Option<f64>,
    /// 1 / `gram`'s diagonal, the CG preconditioner, when that diagonal is
    /// positive (None without a base part: completion).
    pub inverse_diagonal: Option<Vec<f64>>,
    /// w_default m_default Y^T 1.
    pub rhs: Vec<f64>,
    /// Y with rows contiguous, gathered by column index.
    pub y_rows: Vec<f64>,
    /// Each row's ridge when it is scaled per row (then not in `gram`).
    pub row_ridges: Option<Vec<f64>>,
    pub w_default: f64,
    pub m_default: f64,
    /// The offsets' shift s_j when w_default > 0 (the t_p then need it).
    pub shift: Option<Vec<f64>>,
    /// The column the ridge skips (`HalfStep::unpenalized`).
    pub unpenalized: Option<usize>,
}

impl BaseSystem {
    pub fn new(view: &SparseView<'_>, step: &HalfStep<'_>) -> Result<Self> {
        Self::with_rows_buffer(view, step, Vec::new())
    }

    /// `new`, with Y's rows copied into `y_rows`, whose allocation is
    /// reused when large enough (a buffer kept across half-steps; it comes
    /// back as the `y_rows` field).
    pub fn with_rows_buffer(
        view: &SparseView<'_>,
        step: &HalfStep<'_>,
        mut y_rows: Vec<f64>,
    ) -> Result<Self> {
        let y = step.fixed;
        // A ridge scaled per row is each row's own (`row_ridges`).
        let ridge = if step.ridge_scale.is_some() {
            0.0
        } else {
            step.ridge
        };
        let k = y.ncols();
        let (wd, md) = (view.w_default(), view.m_default());
        let mut gram = if step.fixed_orthonormal {
            try_identity(k, k, "the base Gram")?
        } else {
            gram(y, step.par)?
        };
        // Scaled in place (the same products as `gram * wd`, no temporary).
        gram *= faer::Scale(wd);
        for d in (0..k).filter(|&d| step.penalizes(d)) {
            gram[(d, d)] += ridge;
        }
        let scale = if k > 0 { gram[(0, 0)] } else { 0.0 };
        let tolerance = SCALED_IDENTITY_TOLERANCE * scale.abs().max(f64::MIN_POSITIVE);
        let is_scaled_identity = (0..k).all(|b| {
            (0..k).all(|a| (gram[(a, b)] - if a == b { scale } else { 0.0 }).abs() <= tolerance)
        });
        let what = "the base system";
        // With offsets M is m_default - s_j outside the pattern.
        let shift = view.column_shift();
        let rhs = (0..k).map(|d| match shift {
            None => wd * md * y.col(d).iter().sum::<f64>(),
            Some(s) => {
                wd * y
                    .col(d)
                    .iter()
                    .zip(s)
                    .map(|(y, s)| (md - s) * y)
                    .sum::<f64>()
            }
        });
        let rhs = try_collect(rhs, what)?;
        let shift = match shift {
            Some(s) if wd != 0.0 => Some(try_collect(s.iter().copied(), what)?),
            _ => None,
        };
        let diagonal = (0..k).map(|d| gram[(d, d)]);
        let usable = diagonal.clone().all(|v| v > 0.0 && v.is_finite());
        let inverse_diagonal = if usable {
            Some(try_collect(diagonal.map(|d| 1.0 / d), what)?)
        } else {
            None
        };
        rows_contiguous_into(y, step.par, &mut y_rows)?;
        Ok(BaseSystem {
            inverse_diagonal,
            gram,
            gram_scale: is_scaled_identity.then_some(scale),
            rhs,
            y_rows,
            row_ridges: match step.ridge_scale {
                Some(scale) => Some(try_collect(
                    scale.iter().map(|s| step.ridge * s),
                    "the rows' ridges",
                )?),
                None => None,
            },
            w_default: wd,
            m_default: md,
            shift,
            unpenalized: step.unpenalized,
        })
    }

    pub fn rank(&self) -> usize {
        self.gram.nrows()
    }

    /// The row's c_p (into `c`) and t_p (into `t`), grown fallibly.
    pub fn coefficients(
        &self,
        row: &SparseRow<'_>,
        c: &mut Vec<f64>,
        t: &mut Vec<f64>,
    ) -> Result<()> {
        let (wd, base) = (self.w_default, self.w_default * self.m_default);
        let len = row.weights.len();
        c.clear();
        t.clear();
        try_reserve(c, len, "a row's coefficients")?;
        try_reserve(t, len, "a row's coefficients")?;
        c.extend(row.weights.iter().map(|w| w - wd));
        t.clear();
        match &self.shift {
            None => t.extend(
                row.weights
                    .iter()
                    .zip(row.values)
                    .map(|(w, m)| w * m - base),
            ),
            Some(s) => t.extend(
                row.weights
                    .iter()
                    .zip(row.values)
                    .zip(row.cols)
                    .map(|((w, m), &j)| w * m - wd * (self.m_default - s[j])),
            ),
        }
        Ok(())
    }

    /// b_i into `b` from the row's t_p (2 nnz_i k flops).
    pub fn row_rhs(&self, row: &SparseRow<'_>, t: &[f64], b: &mut [f64]) {
        b.copy_from_slice(&self.rhs);
        add_rows(b, t, row.cols, &self.y_rows);
    }

    /// Whether G_i may be singular (`rows::may_be_singular`): the base
    /// system is definite unless it is zero (w_default = ridge = 0).
    pub fn maybe_singular(&self, row: &SparseRow<'_>) -> bool {
        let positive = row.weights.iter().filter(|w| **w > 0.0).count();
        may_be_singular(positive, self.rank(), self.gram_scale != Some(0.0))
    }
}
