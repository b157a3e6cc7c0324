//! What one rank checks alone before the fit: the options a distributed
//! fit supports, its row block, its data; and the agreement that turns one
//! rank's failure into every rank's status.

use super::comm::Comm;
use crate::error::{invalid, Result};
use crate::init::Factors;
use crate::options::Options;
use crate::problem::checks::{check_rank, check_values_with};
use crate::problem::sparse::{CsrInput, SparseProblem};
use crate::problem::{DenseProblem, Problem};
use crate::scaling::Scale;
use crate::vocabulary::status::{error_with_status, status_of};
use faer::MatRef;

/// What the distributed fit supports, checked on every rank before the
/// status agreement: every method (AUTO and VarPro run accelerated
/// alternation, as VarPro's dense Gauss-Newton system does not distribute;
/// `WLRA_INFO_METHOD_USED` says so) and every solver (AUTO chooses between
/// EXACT and SHARED_PCG: `sides::DistributedSides::agree_solver`), from
/// every start, with clipping and over-relaxation (the shared loop's, on whole factors),
/// weight-sum ridges, offsets, held-out folds and restarts.
pub fn check_options(options: &Options) -> Result<()> {
    // A held-out fold below the fold count (the same check as wlra_fit's).
    options.folds()?;
    Ok(())
}

/// Where this rank's rows sit in the global problem.
#[derive(Clone, Copy, Debug)]
pub struct RowBlock {
    pub n_rows: usize,
    pub n_cols: usize,
    pub offset: usize,
    pub n_local: usize,
}

impl RowBlock {
    /// The checks one rank can make alone.
    pub fn check(&self, rank: usize) -> Result<()> {
        let RowBlock {
            n_rows,
            n_cols,
            offset,
            n_local,
        } = *self;
        check_rank(rank, n_rows, n_cols)?;
        if n_local == 0 {
            return Err(invalid(
                "n_local_rows = 0: every rank must hold at least one row",
            ));
        }
        if offset.checked_add(n_local).is_none_or(|end| end > n_rows) {
            return Err(invalid(format!(
                "row_offset = {offset} + n_local_rows = {n_local} exceeds n_rows = {n_rows}"
            )));
        }
        Ok(())
    }
}

/// This rank's rows, validated.
pub enum LocalData<'a> {
    /// Views of the caller's memory (n_local x n_cols).
    Dense {
        m: MatRef<'a, f64>,
        w: Option<MatRef<'a, f64>>,
        row_major: bool,
        /// W with a held-out fold's entries zeroed, which the fit reads
        /// instead of `w` (`distributed::held_out`).
        masked: Option<faer::Mat<f64>>,
        /// NaN in M read as missing: WLRA_OPTION_MISSING_NAN and a NaN on
        /// some rank (`fit::agree_missing`), as `wlra_fit` reads it.
        missing: bool,
        /// The scale the whole problem's magnitudes call for, the same on
        /// every rank (`fit::agree_scale`), as `wlra_fit` reads it.
        scale: Scale,
    },
    /// The local CSR block, copied (row_ptr local, col_idx global).
    Sparse(SparseProblem),
}

/// The local checks of dense input after the views: finite values (NaN
/// in M allowed where `missing_nan`), non-negative weights; whether M
/// holds a NaN read as missing.
pub fn check_dense(
    m: MatRef<'_, f64>,
    w: Option<MatRef<'_, f64>>,
    offset: usize,
    missing_nan: bool,
) -> Result<bool> {
    check_values_with(["M", "W"], m, w, offset, missing_nan)
}

/// WLRA_INIT_GIVEN: the model holds start factors for the whole problem
/// (every rank passes the same; their digest is agreed with the layout).
pub fn check_given_start(start: Option<&Factors>, block: &RowBlock) -> Result<()> {
    let Some(f) = start else {
        return Err(invalid(
            "WLRA_INIT_GIVEN needs factors from wlra_set_factors first",
        ));
    };
    if (f.u.nrows(), f.v.nrows()) != (block.n_rows, block.n_cols) {
        return Err(invalid(format!(
            "the given factors are for a {} x {} problem, this one is {} x {}: every rank \
             passes the whole start",
            f.u.nrows(),
            f.v.nrows(),
            block.n_rows,
            block.n_cols
        )));
    }
    Ok(())
}

impl LocalData<'_> {
    /// The local rows as the solvers see them.
    pub fn problem(&self) -> Problem<'_> {
        match self {
            LocalData::Dense {
                m, missing, scale, ..
            } => {
                let dense = DenseProblem::new(*m, self.weights()).with_missing_nan(*missing);
                Problem::Dense(dense.with_scale(*scale))
            }
            LocalData::Sparse(p) => Problem::Sparse(p.view()),
        }
    }

    /// The dense weights the fit reads: the masked copy where a fold is
    /// held out, else the caller's (None: all 1, and for sparse input).
    pub fn weights(&self) -> Option<MatRef<'_, f64>> {
        match self {
            LocalData::Dense { w, masked, .. } => masked.as_ref().map(|x| x.as_ref()).or(*w),
            LocalData::Sparse(_) => None,
        }
    }

    pub fn n_rows(&self) -> usize {
        self.problem().n_rows()
    }

    /// The largest weight and |M| where W > 0 of the rows as given (the
    /// scale's inputs: `Scale::for_largest`).
    pub fn largest_magnitudes(&self) -> (f64, f64) {
        match self {
            LocalData::Dense { m, missing, .. } => DenseProblem::new(*m, self.weights())
                .with_missing_nan(*missing)
                .largest_magnitudes(),
            LocalData::Sparse(p) => p.largest_magnitudes(),
        }
    }
}

/// The sparse local block, validated and copied as given (the ranks agree
/// on its scale later: `fit::agree_scale`); an entry whose M is NaN gets
/// weight 0 where `missing_nan`, as in `wlra_fit_csr`.
pub fn sparse_block(input: &CsrInput<'_>, missing_nan: bool) -> Result<SparseProblem> {
    SparseProblem::new_in_units(input, missing_nan, Scale::unit())
}

/// Every rank learns whether any rank's `local` failed, with one allreduce;
/// all return the largest status code any rank had.
pub fn agreed<T>(comm: &mut Comm<'_>, local: Result<T>) -> Result<T> {
    let code = local.as_ref().err().map_or(0, status_of);
    let all = comm.agree(code)?;
    match local {
        Ok(value) if all == 0 => Ok(value),
        Ok(_) => Err(error_with_status(
            all,
            format!(
                "another rank failed with status {all} (its wlra_last_error says why); \
                 this rank's part was valid"
            ),
        )),
        Err(e) if code == all => Err(e),
        Err(e) => Err(error_with_status(
            all,
            format!(
                "{} (status {code} here; another rank failed with status {all})",
                e.message()
            ),
        )),
    }
}
