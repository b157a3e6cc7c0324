//! One fit problem: its rank, options, starting factors, last fit and thread
//! pool. The safe Rust API under the C boundary.

use crate::driver::{self, FitOutcome};
use crate::error::{invalid, Error, Result};
use crate::fold_in::{fold_in_rows, loaded_scale, FoldIn};
use crate::held_out::{
    csr_held_out_error, csr_holds_out_some, dense_held_out_error, masked_dense_weights,
    HeldOutError,
};
use crate::init::Factors;
use crate::memory;
use crate::offsets::{OffsetColumns, Offsets};
use crate::options::{InitChoice, Options};
use crate::problem::checks::{
    check_finite, check_new_rows, check_pairs, check_rank, check_values_with,
};
use crate::problem::sparse::{CsrInput, SparseProblem};
use crate::problem::weight_sums::zero_weight_lines;
use crate::problem::{DenseProblem, Problem};
use crate::scaling::{dot_without_overflow, Pins};
use crate::thread_pool::JoinedPool;
use crate::warm::resolve_warm;
#[cfg(feature = "mpi")]
use crate::{distributed::fit::Outcome as DistributedOutcome, outer::Progress};
use faer::{ColRef, Mat, MatRef, Par};
use std::time::Instant;

mod info;

/// The result of the last successful (or cancelled) fit.
pub struct Fitted {
    pub outcome: FitOutcome,
    pub elapsed_seconds: f64,
    /// The held-out fold's error, when the fit held one out.
    pub held_out: Option<HeldOutError>,
    /// The offsets the fit had: its factors carry them as columns beyond
    /// the rank (`crate::offsets`).
    pub offsets: Offsets,
    /// Loaded by `set_fitted`: no fit ran, no objective, method or solver.
    pub loaded: bool,
    /// What the model knows of the whole U where it holds only this rank's
    /// rows of it (a distributed fit over several ranks); None where U is
    /// whole.
    pub whole_u: Option<WholeU>,
}

/// The whole U of a distributed fit, as one rank's model knows it.
#[derive(Clone, Copy, Debug)]
pub struct WholeU {
    pub n_rows: usize,
    /// The first of this rank's rows.
    pub row_offset: usize,
    /// WLRA_INFO_DEGENERATE, computed in the fit on the whole factors.
    pub rank_deficiency: usize,
}

impl std::ops::Deref for Fitted {
    type Target = FitOutcome;
    fn deref(&self) -> &FitOutcome {
        &self.outcome
    }
}

pub type ProgressCallback = Box<dyn FnMut(usize, f64) -> bool>;

pub struct Model {
    rank: usize,
    options: Options,
    pub(crate) start: Option<Factors>,
    fitted: Option<Fitted>,
    pool: Option<(usize, JoinedPool)>,
    progress: Option<ProgressCallback>,
}

impl Model {
    pub fn new(rank: usize) -> Result<Model> {
        if rank == 0 {
            return Err(invalid("rank = 0 must be at least 1"));
        }
        Ok(Model {
            rank,
            options: Options::default(),
            start: None,
            fitted: None,
            pool: None,
            progress: None,
        })
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub fn set_option(&mut self, option: i32, value: f64) -> Result<()> {
        self.options.set(option, value)
    }

    pub fn get_option(&self, option: i32) -> Result<f64> {
        self.options.get(option)
    }

    /// Testing only (not in the C ABI): VarPro solves every step
    /// matrix-free, as it does beyond its dense limit, so a test can
    /// compare the two solvers on one small problem
    /// (tests/varpro_matrix_free.rs).
    #[doc(hidden)]
    pub fn force_matrix_free_varpro(&mut self, on: bool) {
        self.options.varpro_matrix_free = on;
    }

    /// Testing only (not in the C ABI): VarPro keeps Gauss-Newton's model
    /// throughout, never switching to Newton's, so a test can compare the
    /// two (tests/varpro_newton.rs).
    #[doc(hidden)]
    pub fn force_gauss_newton_varpro(&mut self, on: bool) {
        self.options.varpro_gauss_newton_only = on;
    }

    /// Called after every completed iteration; returning false cancels.
    pub fn set_progress(&mut self, progress: Option<ProgressCallback>) {
        self.progress = progress;
    }

    /// Starting factors for `WLRA_INIT_GIVEN`.
    pub fn set_start_factors(&mut self, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<()> {
        if u.ncols() != self.rank || v.ncols() != self.rank {
            return Err(invalid(format!(
                "factors have {} and {} columns, the model's rank is {}",
                u.ncols(),
                v.ncols(),
                self.rank
            )));
        }
        check_rank(self.rank, u.nrows(), v.nrows())?;
        check_finite("U", u, 0)?;
        check_finite("V", v, 0)?;
        self.start = Some(Factors {
            u: memory::try_copy(u, "the given factors")?,
            v: memory::try_copy(v, "the given factors")?,
        });
        Ok(())
    }

    /// Everything a fit checks before it touches the model.
    fn validate_fit(&self, problem: &Problem<'_>) -> Result<()> {
        let (n, m) = (problem.n_rows(), problem.n_cols());
        check_rank(self.rank, n, m)?;
        if self.options.init == InitChoice::Given {
            match &self.start {
                None => {
                    return Err(invalid(
                        "WLRA_INIT_GIVEN needs factors from wlra_set_factors first",
                    ))
                }
                Some(f) if f.u.nrows() != n || f.v.nrows() != m => {
                    return Err(invalid(format!(
                        "the given factors are for a {} x {} problem, this one is {n} x {m}",
                        f.u.nrows(),
                        f.v.nrows()
                    )))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// The model's own pool for the thread count set. Its threads run only
    /// library code, so a panic on them prints nothing (`crate::panics`).
    pub(crate) fn pool(&mut self) -> Result<&rayon::ThreadPool> {
        let threads = match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        };
        let current = self.pool.as_ref().filter(|(_, pool)| !pool.stale());
        if current.map(|(t, _)| *t) != Some(threads) {
            // The old pool (if any) is joined before the new one starts; a
            // forked child's inherited one is left behind (`thread_pool`).
            self.pool = None;
            self.pool = Some((threads, JoinedPool::new(threads)?));
        }
        Ok(&self.pool.as_ref().expect("just set").1)
    }

    /// Fit the problem (dense or sparse). Input values are validated first; a fit that
    /// fails leaves the model as it was, a cancelled one keeps the factors of
    /// its last completed iteration and returns `Error::Cancelled`.
    ///
    /// With a held-out fold (WLRA_OPTION_FOLDS, `crate::held_out`) the
    /// fold's entries get weight 0 and their error is kept for `info`;
    /// CSR input with folds goes through `fit_csr`.
    pub fn fit<'a>(&mut self, problem: impl Into<Problem<'a>>) -> Result<()> {
        let mut problem = problem.into();
        self.validate_fit(&problem)?;
        // WLRA_OPTION_MISSING_NAN, where M holds a NaN (else as if off).
        let mut missing = false;
        if let Problem::Dense(dense) = &mut problem {
            let (m, w) = (dense.data(), dense.weights());
            missing = check_values_with(["M", "W"], m, w, 0, self.options.missing_nan)?;
            *dense = dense.with_missing_nan(missing);
        }
        let folds = self.options.folds()?;
        match (folds, &problem) {
            (None, _) => self.fit_checked(&problem, |_| None),
            (Some(folds), Problem::Dense(dense)) => {
                let masked = masked_dense_weights(dense, &folds)?;
                let masked = Some(masked.as_ref());
                let training = DenseProblem::new(dense.data(), masked).with_missing_nan(missing);
                self.fit_checked(&training.into(), |f| {
                    Some(dense_held_out_error(
                        dense,
                        &folds,
                        f.u.as_ref(),
                        f.v.as_ref(),
                    ))
                })
            }
            (Some(_), Problem::Sparse(_)) => Err(invalid(
                "held-out folds on sparse input need its CSR arrays: Model::fit_csr",
            )),
        }
    }

    /// Fit CSR input (`wlra_fit_csr`): validated and copied into the
    /// library's own pattern, where a held-out fold is zeroed.
    pub fn fit_csr(&mut self, input: &CsrInput<'_>) -> Result<()> {
        let mut problem = SparseProblem::new_with_missing(input, self.options.missing_nan)?;
        self.validate_fit(&problem.view().into())?;
        let folds = self.options.folds()?;
        if let Some(folds) = &folds {
            csr_holds_out_some(input, folds)?;
            problem.zero_weights_where(|i, j| folds.is_held_out(i, j));
        }
        let view = problem.view();
        let scale = view.scale();
        self.fit_checked(&view.into(), |f| {
            let (u, v) = (f.u.as_ref(), f.v.as_ref());
            folds.map(|folds| csr_held_out_error(input, &folds, scale, u, v))
        })
    }

    /// The fit of a validated problem; `held_out` evaluates the held-out
    /// entries (if any) at the factors.
    fn fit_checked(
        &mut self,
        problem: &Problem<'_>,
        held_out: impl FnOnce(&Factors) -> Option<HeldOutError>,
    ) -> Result<()> {
        let started = Instant::now();
        self.pool()?;
        let pool = &self.pool.as_ref().expect("created above").1;
        memory::reserve_gemm_workspaces(pool)?;
        let mut keep_going = |_: usize, _: f64| true;
        let progress: &mut dyn FnMut(usize, f64) -> bool = match self.progress.as_mut() {
            Some(callback) => callback.as_mut(),
            None => &mut keep_going,
        };
        let shape = (problem.n_rows(), problem.n_cols());
        let last = self
            .fitted
            .as_ref()
            .map(|f| (&f.outcome.factors, f.offsets));
        let (warm_options, last_fit) = resolve_warm(&self.options, last, shape);
        let options = warm_options.as_ref().unwrap_or(&self.options);
        let start = last_fit.or(self.start.as_ref());
        let rank = self.rank;
        let mut outcome: FitOutcome = driver::fit(problem, rank, options, start, progress, pool)?;
        if outcome.zero_weight_lines.is_none() {
            outcome.zero_weight_lines = Some(zero_weight_lines(problem)?);
        }
        let (cancelled, iterations) = (outcome.cancelled, outcome.iterations);
        let held_out = held_out(&outcome.factors);
        self.fitted = Some(Fitted {
            outcome,
            elapsed_seconds: started.elapsed().as_secs_f64(),
            held_out,
            offsets: options.offsets,
            loaded: false,
            whole_u: None,
        });
        if cancelled {
            return Err(Error::Cancelled(format!(
                "the progress callback cancelled the fit after {iterations} iterations; their factors are kept"
            )));
        }
        Ok(())
    }

    /// Run a distributed fit (`crate::distributed`) on the model's pool with
    /// its progress callback, and keep its outcome as `fit_checked` does (U:
    /// this rank's rows; a cancelled fit keeps its last factors).
    #[cfg(feature = "mpi")]
    pub(crate) fn fit_distributed(
        &mut self,
        fit: impl FnOnce(&rayon::ThreadPool, Progress<'_>) -> Result<DistributedOutcome>,
    ) -> Result<()> {
        let started = Instant::now();
        self.pool()?;
        let pool = &self.pool.as_ref().expect("created above").1;
        let mut keep_going = |_: usize, _: f64| true;
        let progress: Progress<'_> = match self.progress.as_mut() {
            Some(callback) => callback.as_mut(),
            None => &mut keep_going,
        };
        let DistributedOutcome {
            fit: outcome,
            held_out,
            n_rows,
            row_offset,
            rank_deficiency,
        } = fit(pool, progress)?;
        let (cancelled, iterations) = (outcome.cancelled, outcome.iterations);
        let whole_u = WholeU {
            n_rows,
            row_offset,
            rank_deficiency,
        };
        self.fitted = Some(Fitted {
            whole_u: (outcome.factors.u.nrows() < n_rows).then_some(whole_u),
            outcome,
            elapsed_seconds: started.elapsed().as_secs_f64(),
            held_out,
            offsets: self.options.offsets,
            loaded: false,
        });
        if cancelled {
            return Err(Error::Cancelled(format!(
                "the progress callback of some rank cancelled the fit after {iterations} \
                 iterations; their factors are kept"
            )));
        }
        Ok(())
    }

    /// Load U (n x rank), V (m x rank) and the offsets a (n), b (m) where
    /// given (the model's offsets, in the gauge given), all checked first,
    /// as if a fit had produced them, with no iterations, starts or objective.
    pub fn set_fitted(
        &mut self,
        u: MatRef<'_, f64>,
        v: MatRef<'_, f64>,
        a: Option<&[f64]>,
        b: Option<&[f64]>,
    ) -> Result<()> {
        let (k, n, m) = (self.rank, u.nrows(), v.nrows());
        let (la, lb) = (a.map_or(n, <[f64]>::len), b.map_or(m, <[f64]>::len));
        let (cu, cv) = (u.ncols(), v.ncols());
        let sizes = [("U", cu, k), ("V", cv, k), ("a", la, n), ("b", lb, m)];
        if let Some((name, got, want)) = sizes.into_iter().find(|s| s.1 != s.2) {
            let text = format!("{name} has {got} columns (entries), not {want}");
            return Err(invalid(text));
        }
        check_rank(k, n, m)?;
        check_finite("U", u, 0)?;
        check_finite("V", v, 0)?;
        for (name, x) in [("a", a), ("b", b)] {
            let x = x.map(|x| MatRef::from_column_major_slice(x, x.len(), 1));
            x.map_or(Ok(()), |x| check_finite(name, x, 0))?;
        }
        let offsets = Offsets {
            rows: a.is_some(),
            cols: b.is_some(),
        };
        let what = "the loaded factors";
        let (u, v) = (memory::try_copy(u, what)?, memory::try_copy(v, what)?);
        let mut factors = offsets.augment(Factors { u, v }, k, Pins::ONES)?;
        if let Some(a) = a {
            factors.u.col_mut(k).copy_from(ColRef::from_slice(a));
        }
        if let (Some(b), Some(c)) = (b, offsets.col_column(k)) {
            factors.v.col_mut(c).copy_from(ColRef::from_slice(b));
        }
        let mut outcome = FitOutcome::new(factors, f64::NAN);
        (outcome.starts, outcome.starts_at_best) = (0, 0);
        outcome.scale = loaded_scale(&outcome.factors);
        self.pool()?; // fold-in runs on it, as after a fit
        self.fitted = Some(Fitted {
            outcome,
            elapsed_seconds: 0.0,
            held_out: None,
            offsets,
            loaded: true,
            whole_u: None,
        });
        Ok(())
    }

    pub fn fitted(&self) -> Result<&Fitted> {
        self.fitted.as_ref().ok_or_else(|| {
            Error::NotFitted("the model has no factors yet: call wlra_fit first".into())
        })
    }

    /// U (n x rank) and V (m x rank) of the last fit.
    pub fn factors(&self) -> Result<(MatRef<'_, f64>, MatRef<'_, f64>)> {
        let f = self.fitted()?;
        let k = self.rank;
        Ok((
            f.factors.u.as_ref().subcols(0, k),
            f.factors.v.as_ref().subcols(0, k),
        ))
    }

    /// The last fit's row offsets a (n) and column offsets b (m); None for
    /// a side it did not fit (WLRA_OPTION_OFFSETS).
    pub fn offsets(&self) -> Result<OffsetColumns<'_>> {
        let f = self.fitted()?;
        Ok(f.offsets.of(&f.factors, self.rank))
    }

    /// The model's values a_i + b_j + u_i . v_j at the pairs (rows[p],
    /// cols[p]), each index below the fit's n_rows and n_cols.
    pub fn predict(&self, rows: &[usize], cols: &[usize], out: &mut [f64]) -> Result<()> {
        let f = self.fitted()?;
        let (u, v) = (f.factors.u.as_ref(), f.factors.v.as_ref());
        check_pairs(rows, cols, out.len(), (u.nrows(), v.nrows()))?;
        // The augmented product is the whole model, offsets included,
        // summed so that no partial sum overflows where the value does not.
        for ((o, &i), &j) in out.iter_mut().zip(rows).zip(cols) {
            *o = dot_without_overflow(u.ncols(), |d| u[(i, d)], |d| v[(j, d)]);
        }
        Ok(())
    }

    /// Fold-in (`crate::fold_in`): the factor (n_new x rank) of new rows
    /// `m_rows` (n_new x n_cols of the fit) with weights `w_rows` (None:
    /// every weight 1), solved against the fitted column factor with the
    /// model's ridge. The model does not change.
    ///
    /// With offsets the rows' own offsets are solved with their factor and
    /// returned as column `rank` (row offsets), the fitted column offsets
    /// taken off their data first: n_new x (rank + 1) then.
    pub fn transform(
        &self,
        m_rows: MatRef<'_, f64>,
        w_rows: Option<MatRef<'_, f64>>,
    ) -> Result<Mat<f64>> {
        let fitted = self.fitted()?;
        let v = fitted.factors.v.as_ref();
        let missing_nan = check_new_rows(m_rows, w_rows, v.nrows(), self.options.missing_nan)?;
        let ridge = (self.options.ridge, self.options.ridge_by_weight_sums);
        let (offsets, k) = (fitted.offsets, self.rank);
        let (design, shift) = offsets.fold_in_design(v, k)?;
        let rows = FoldIn {
            design: design.as_ref(),
            shift,
            ridge,
            unpenalized: offsets.row_column(k),
            fit_scale: fitted.scale,
            missing_nan,
        };
        match self.pool.as_ref().filter(|(_, pool)| !pool.stale()) {
            Some((_, pool)) => pool.install(|| {
                let par = Par::rayon(pool.current_num_threads());
                fold_in_rows(&rows, m_rows, w_rows, par)
            }),
            None => fold_in_rows(&rows, m_rows, w_rows, Par::Seq),
        }
    }
}
