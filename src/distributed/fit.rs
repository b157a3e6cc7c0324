//! A distributed fit's sides (`outer::sides::Sides`), over which the
//! single-process loops run (`alternating::alternate`,
//! `accelerated::accelerate`). Each rank holds a block of rows of M and W;
//! the columns are split evenly and each rank receives its column block
//! once per fit (`columns`). A U half-step solves the local rows against
//! the whole V, a V half-step the local columns against the whole U, and
//! each ends with an allgatherv of the new rows, so every rank holds both
//! factors whole (every row of a dense problem touches every column).
//!
//! Determinism: every rank runs the single-process loop on identical bits.
//! The factors are whole everywhere, so the start (the global random
//! factors), the thin QR of the fixed factor (ridge = 0), clipping,
//! over-relaxation, the extrapolations and the ridge penalty are computed
//! redundantly; each row is solved by the library's own exact solver
//! against the same fixed factor; the objective's per-row partial sums are
//! gathered and added in global row order; and the progress callbacks'
//! answers are agreed by one allreduce. The rank count changes none of
//! these.

use super::checks::{agreed, LocalData, RowBlock};
use super::columns::{redistribute_dense, redistribute_sparse, ColumnBlock};
use super::comm::{Comm, Phase};
use super::layout::{exchange_layout, Layout};
use super::local_rows::{distributed_solver, Design};
use super::{held_out, reduced, start, Exchange};
use crate::error::{Error, Result};
use crate::held_out::HeldOutError;
use crate::init::{copy_factors, random_factors, Factors};
use crate::kernels::blocking::current_par;
use crate::memory::try_from_fn;
use crate::options::Options;
use crate::options::{InitChoice, MethodChoice};
use crate::outer::accelerated::accelerate;
use crate::outer::alternating::{alternate, prepare_fixed, relax, warm_start};
use crate::outer::sides::{Sides, StepSettings};
use crate::outer::{ridge_penalty, FitOutcome, Method, Progress, WeightSums};
use crate::problem::row_residuals::residuals_by_row;
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::Problem;
use crate::scaling::Pins;
use crate::solver::{HalfStepSolver, SolverKind};
use faer::Mat;

/// The whole factor from every rank's rows: `starts[r]`, `counts[r]` place
/// rank r's rows.
pub(super) fn gather_rows(
    comm: &mut Comm<'_>,
    local: &Mat<f64>,
    starts: &[usize],
    counts: &[usize],
) -> Result<Mat<f64>> {
    let k = local.ncols();
    let send: Vec<f64> = (0..local.nrows())
        .flat_map(|i| (0..k).map(move |d| (i, d)))
        .map(|(i, d)| local[(i, d)])
        .collect();
    let sizes: Vec<usize> = counts.iter().map(|c| c * k).collect();
    let all = comm.allgatherv(&send, &sizes)?;
    let rows: usize = counts.iter().sum();
    let mut owner_start = vec![0usize; rows];
    let mut at = 0;
    for r in 0..comm.size {
        for i in 0..counts[r] {
            owner_start[starts[r] + i] = at + i * k;
        }
        at += sizes[r];
    }
    try_from_fn(rows, k, |i, d| all[owner_start[i] + d], "a gathered factor")
}

/// f(U, V): the rows' partial sums gathered and added in global row order,
/// plus the ridge penalty of the rank's k columns (computed whole on every
/// rank).
fn objective(
    comm: &mut Comm<'_>,
    layout: &Layout,
    data: &LocalData<'_>,
    (offset, k): (usize, usize),
    factors: &Factors,
    (ridge, sums): (f64, Option<&WeightSums>),
    pool: &rayon::ThreadPool,
) -> Result<f64> {
    comm.set_phase(Phase::Objective);
    comm.traffic.objectives += 1.0;
    let (problem, u_rows) = (data.problem(), factors.u.subrows(offset, data.n_rows()));
    let v = factors.v.as_ref();
    let partial = pool.install(|| residuals_by_row(&problem, u_rows, v, current_par()));
    let partial = agreed(comm, partial)?;
    let all = comm.allgatherv(&partial, &layout.counts)?;
    let mut displs = vec![0usize; comm.size];
    for r in 1..comm.size {
        displs[r] = displs[r - 1] + layout.counts[r - 1];
    }
    // One running sum over the rows in global order, never per rank: the
    // grouping would change with the rank count.
    let mut sum = 0.0;
    for &r in &layout.by_offset {
        for x in &all[displs[r]..displs[r] + layout.counts[r]] {
            sum += x;
        }
    }
    // The offsets' columns beyond the rank carry no penalty.
    let (u, v) = (factors.u.subcols(0, k), factors.v.subcols(0, k));
    Ok(sum + ridge_penalty(u, v, ridge, sums))
}

/// Every row's and column's weight sum on every rank, when they scale the
/// ridge (WLRA_RIDGE_WEIGHT_SUMS): each rank sums its rows and its column
/// block's columns (whole columns, so the same sums as one process's), and
/// one allgatherv per side brings them all.
fn gathered_weight_sums(
    comm: &mut Comm<'_>,
    layout: &Layout,
    (rows, cols): (&Problem<'_>, Option<Problem<'_>>),
    options: &Options,
) -> Result<Option<WeightSums>> {
    if !(options.ridge_by_weight_sums && options.ridge > 0.0) {
        return Ok(None);
    }
    comm.set_phase(Phase::Setup);
    let as_column = |sums: Vec<f64>| try_from_fn(sums.len(), 1, |i, _| sums[i], "weight sums");
    let local_rows = agreed(comm, row_weight_sums(rows).and_then(as_column))?;
    let local_cols = match cols {
        Some(cols) => row_weight_sums(&cols).and_then(as_column),
        None => Ok(Mat::zeros(0, 1)),
    };
    let local_cols = agreed(comm, local_cols)?;
    let rows = gather_rows(comm, &local_rows, &layout.offsets, &layout.counts)?;
    let cols = gather_rows(comm, &local_cols, &layout.col_starts, &layout.col_counts)?;
    Ok(Some(WeightSums {
        rows: rows.col(0).iter().copied().collect(),
        cols: cols.col(0).iter().copied().collect(),
    }))
}

/// A distributed fit's sides: this rank's rows and column block, each
/// solved by its own solver against the whole fixed factor, the new rows
/// then gathered by every rank; the objective's row sums in global order.
pub(super) struct DistributedSides<'c, 'a> {
    pub(super) comm: &'c mut Comm<'a>,
    pub(super) layout: Layout,
    pub(super) data: &'c LocalData<'c>,
    pub(super) rows_problem: Problem<'c>,
    /// None where this rank holds no columns, or receives none (`reduced`).
    pub(super) cols_problem: Option<Problem<'c>>,
    /// Whether the V half-steps sum normal equations formed on the local
    /// rows instead of solving a received column block (`reduced`).
    pub(super) reduced: bool,
    pub(super) offset: usize,
    /// The fit's rank, without the offsets' columns.
    pub(super) rank: usize,
    pub(super) options: &'c Options,
    pub(super) pool: &'c rayon::ThreadPool,
    pub(super) rows_solver: Box<dyn HalfStepSolver + Send>,
    pub(super) cols_solver: Option<Box<dyn HalfStepSolver + Send>>,
    /// Every row's and column's weight sum, when they scale the ridge.
    pub(super) weight_sums: Option<WeightSums>,
    pub(super) progress: Progress<'c>,
    pub(super) failure: Option<Error>,
    /// This rank's inner iterations, one count per half-step.
    pub(super) inner_iterations: Vec<f64>,
}

impl Sides for DistributedSides<'_, '_> {
    fn half_step(
        &mut self,
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
        settings: StepSettings,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        if self.options.offsets.any() {
            return self.offsets_half_step(rows, moving, fixed, settings);
        }
        let pool = self.pool;
        // The fixed factor and the warm start are whole on every rank and
        // prepared there the same way, so their bits agree.
        let orthonormalize = self.orthonormalizes();
        let clip = if settings.clip {
            self.options.clip
        } else {
            0.0
        };
        let (fixed, r) = pool.install(|| prepare_fixed(fixed, orthonormalize, clip))?;
        let warm = pool.install(|| warm_start(moving, r.as_ref()))?;
        let design = Design {
            fixed: &fixed,
            warm: &warm,
            orthonormal: r.is_some(),
            unpenalized: None,
            shifted: None,
        };
        let solved = self.solve_local_rows(rows, design, settings.accuracy)?;
        Ok((fixed, relax(&warm, solved, settings.omega)))
    }

    fn objective(&mut self, factors: &Factors) -> Result<f64> {
        let (layout, data, offset) = (&self.layout, self.data, self.offset);
        let ridge = (self.options.ridge, self.weight_sums.as_ref());
        let place = (offset, self.rank);
        objective(self.comm, layout, data, place, factors, ridge, self.pool)
    }

    /// Every rank's callback runs; one allreduce tells all whether any
    /// said stop.
    fn proceed(&mut self, iterations: usize, value: f64) -> bool {
        let stop = !(self.progress)(iterations, value);
        self.comm.set_phase(Phase::Objective);
        match self.comm.agree(i32::from(stop)) {
            Ok(any) => any == 0,
            Err(e) => {
                self.failure = Some(e);
                false
            }
        }
    }

    fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    fn pool(&self) -> &rayon::ThreadPool {
        self.pool
    }

    fn orthonormalizes(&self) -> bool {
        // As in one process: not with a ridge, nor with offsets, whose
        // pinned columns a rotation would mix.
        self.options.ridge == 0.0 && !self.options.offsets.any()
    }

    fn iterative(&self) -> bool {
        self.rows_solver.is_iterative()
    }

    fn solver_kind(&self) -> SolverKind {
        self.rows_solver.kind()
    }

    fn mean_inner_iterations(&self) -> f64 {
        // Needs the other ranks' counts: `agreed_mean_inner_iterations`
        // replaces it after the loop.
        0.0
    }
}

/// A distributed fit's outcome and its held-out error, for the model.
pub type Outcome = (FitOutcome, Option<HeldOutError>);

/// The distributed alternation (after the status agreement on the local
/// checks): `outer::alternating::alternate` over this rank's sides, with
/// the progress callback agreed once per iteration. Returns the outcome
/// with U's local rows and V whole.
pub fn run(
    comm: &mut Comm<'_>,
    block: RowBlock,
    k: usize,
    options: &Options,
    pool: &rayon::ThreadPool,
    mut data: LocalData<'_>,
    (given, progress): (Option<&Factors>, Progress<'_>),
) -> Result<Outcome> {
    comm.set_phase(Phase::Setup);
    let layout = exchange_layout(comm, &block, k, (options, given), &data)?;
    let held = match options.folds()? {
        Some(folds) => Some(held_out::hold_out(comm, &mut data, folds, block.offset)?),
        None => None,
    };
    let reduced = reduced::reduces(comm.size, (block.n_rows, k), options, &data);
    crate::distributed::record_exchange(match (comm.size, reduced) {
        (1, _) => Exchange::None,
        (_, true) => Exchange::NormalEquations,
        (_, false) => Exchange::ColumnBlocks,
    });
    let columns = match &data {
        _ if comm.size == 1 => ColumnBlock::Local,
        // Nothing moves: the V half-steps sum normal equations.
        _ if reduced => ColumnBlock::None,
        LocalData::Dense { m, row_major, .. } => {
            comm.set_phase(Phase::Redistribution);
            let columns = redistribute_dense(comm, &layout, *m, data.weights(), *row_major);
            agreed(comm, columns)?
        }
        LocalData::Sparse(p) => {
            comm.set_phase(Phase::Redistribution);
            let columns = redistribute_sparse(comm, &layout, &p.view(), block.offset, block.n_rows);
            agreed(comm, columns)?
        }
    };
    let rows_problem = data.problem();
    let cols_problem = match columns {
        // The single-process fit's own transposed view: no copy.
        ColumnBlock::Local => Some(rows_problem.transposed()),
        _ => columns.problem(),
    };
    let (n, m, offset) = (block.n_rows, block.n_cols, block.offset);
    // A given start is whole on every rank (its digest agreed above).
    let start = match (given, options.init) {
        (Some(f), _) => copy_factors(f),
        (None, InitChoice::Svd) => {
            let problems = (&rows_problem, cols_problem.as_ref(), reduced);
            start::svd_factors(comm, &layout, problems, (n, m, k, options.seed), pool)
        }
        (None, _) => random_factors(n, m, k, options.seed),
    };
    // Rank-k factors with the offsets' columns appended (the values are
    // read unscaled: the pinned columns are at 1), as `wlra_fit` starts.
    let start = start.and_then(|f| options.offsets.augment(f, k, Pins::ONES));
    let start = agreed(comm, start)?;
    let problems = (&rows_problem, cols_problem);
    let weight_sums = gathered_weight_sums(comm, &layout, problems, options)?;
    let mut sides = DistributedSides {
        comm,
        layout,
        data: &data,
        rows_problem,
        cols_problem,
        reduced,
        offset,
        rank: k,
        options,
        pool,
        rows_solver: distributed_solver(options, &rows_problem),
        cols_solver: cols_problem.map(|p| distributed_solver(options, &p)),
        weight_sums,
        progress,
        failure: None,
        inner_iterations: Vec::new(),
    };
    // VarPro's dense Gauss-Newton system does not distribute: AUTO runs
    // accelerated alternation, and says so.
    let mut run = match options.method {
        MethodChoice::Alternating => alternate(&mut sides, start, options)?,
        _ => accelerate(&mut sides, start, options)?,
    };
    run.mean_inner_iterations = sides.agreed_mean_inner_iterations()?;
    let layout = sides.layout;
    run.method_used = match options.method {
        MethodChoice::Alternating => Method::Alternating,
        _ => Method::Accelerated,
    };
    // `wlra_fit`'s gauge of the offsets, on the whole factors.
    let offsets = options.offsets;
    if offsets.any() && options.ridge == 0.0 {
        pool.install(|| offsets.center(&mut run.factors, k))?;
    } else {
        offsets.move_constant(&mut run.factors, k);
    }
    let u = &run.factors.u;
    let held_out = match &held {
        Some(held) => {
            let (u_local, v) = (u.subrows(offset, block.n_local), run.factors.v.as_ref());
            let place = (offset, u_local, v);
            Some(held_out::held_out_error(comm, &layout, &data, held, place)?)
        }
        None => None,
    };
    let local_u = try_from_fn(
        block.n_local,
        u.ncols(),
        |i, d| u[(offset + i, d)],
        "the local factor rows",
    )?;
    run.factors.u = local_u;
    Ok((run, held_out))
}
