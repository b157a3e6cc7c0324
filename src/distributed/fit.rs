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
use super::{reduced, start, Exchange};
use crate::error::{Error, Result};
use crate::init::{copy_factors, random_factors, Factors};
use crate::kernels::blocking::current_par;
use crate::memory::{try_copy, try_from_fn};
use crate::options::Options;
use crate::options::{InitChoice, MethodChoice};
use crate::outer::accelerated::accelerate;
use crate::outer::alternating::{alternate, prepare_fixed, relax, warm_start};
use crate::outer::offsets_step::OffsetsStep;
use crate::outer::sides::{Sides, StepSettings};
use crate::outer::{ridge_penalty, FitOutcome, Method, Progress, WeightSums};
use crate::problem::row_residuals::residuals_by_row;
use crate::problem::weight_sums::row_weight_sums;
use crate::problem::Problem;
use crate::scaling::Pins;
use crate::solver::{HalfStep, HalfStepSolver, SolverKind, SolverSettings};
use faer::{Mat, Par};

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
struct DistributedSides<'c, 'a> {
    comm: &'c mut Comm<'a>,
    layout: Layout,
    data: &'c LocalData<'c>,
    rows_problem: Problem<'c>,
    /// None where this rank holds no columns, or receives none (`reduced`).
    cols_problem: Option<Problem<'c>>,
    /// Whether the V half-steps sum normal equations formed on the local
    /// rows instead of solving a received column block (`reduced`).
    reduced: bool,
    offset: usize,
    /// The fit's rank, without the offsets' columns.
    rank: usize,
    options: &'c Options,
    pool: &'c rayon::ThreadPool,
    rows_solver: Box<dyn HalfStepSolver + Send>,
    cols_solver: Option<Box<dyn HalfStepSolver + Send>>,
    /// Every row's and column's weight sum, when they scale the ridge.
    weight_sums: Option<WeightSums>,
    progress: Progress<'c>,
    failure: Option<Error>,
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
        // Exact solves only (`check_options`): no inner iterations.
        0.0
    }
}

/// A half-step's whole inputs besides the data: the design (the fixed
/// factor as the step sees it), the warm start, and with offsets the column
/// the ridge leaves and the shift that takes the other side's offsets off M.
struct Design<'d> {
    fixed: &'d Mat<f64>,
    warm: &'d Mat<f64>,
    orthonormal: bool,
    unpenalized: Option<usize>,
    shifted: Option<&'d OffsetsStep>,
}

impl DistributedSides<'_, '_> {
    /// This rank's rows (`rows`) or columns solved against the whole
    /// design, then gathered: the whole solved factor on every rank.
    fn solve_local_rows(
        &mut self,
        rows: bool,
        design: Design<'_>,
        accuracy: f64,
    ) -> Result<Mat<f64>> {
        let pool = self.pool;
        let (problem, solver, starts, counts) = if rows {
            self.comm.traffic.half_steps += 1.0;
            self.comm.set_phase(Phase::UHalfStep);
            let solver = Some(self.rows_solver.as_mut());
            let problem = Some(self.rows_problem);
            (problem, solver, &self.layout.offsets, &self.layout.counts)
        } else {
            self.comm.set_phase(Phase::VHalfStep);
            let solver = self.cols_solver.as_deref_mut();
            let (starts, counts) = (&self.layout.col_starts, &self.layout.col_counts);
            (self.cols_problem, solver, starts, counts)
        };
        let mine = starts[self.comm.rank]..starts[self.comm.rank] + counts[self.comm.rank];
        let ridge_scale = self.weight_sums.as_ref().map(|s| {
            let side = if rows { &s.rows } else { &s.cols };
            &side[mine.clone()]
        });
        let k = design.fixed.ncols();
        if !rows && self.reduced {
            let u_local = design
                .fixed
                .as_ref()
                .subrows(self.offset, self.data.n_rows());
            let settings = (self.options.ridge, pool);
            let layout = &self.layout;
            let local =
                reduced::owned_columns(self.comm, layout, &self.rows_problem, u_local, settings)?;
            let (starts, counts) = (starts.clone(), counts.clone());
            return gather_rows(self.comm, &local, &starts, &counts);
        }
        let local = match (problem, solver) {
            (Some(problem), Some(solver)) => pool.install(|| {
                solver.set_accuracy(accuracy);
                let shifted = match design.shifted {
                    Some(step) => step.shifted_values(&problem)?,
                    None => Vec::new(),
                };
                let problem = match design.shifted {
                    Some(step) => step.problem(problem, &shifted),
                    None => problem,
                };
                let step = HalfStep {
                    problem,
                    fixed: design.fixed.as_ref(),
                    ridge: self.options.ridge,
                    ridge_scale,
                    unpenalized: design.unpenalized,
                    warm_start: Some(design.warm.as_ref().subrows(mine.start, mine.len())),
                    fixed_orthonormal: design.orthonormal,
                    par: Par::rayon(pool.current_num_threads()),
                };
                solver.solve(&step)
            }),
            _ => Ok(Mat::zeros(0, k)),
        };
        let local = agreed(self.comm, local)?;
        let (starts, counts) = (starts.clone(), counts.clone());
        gather_rows(self.comm, &local, &starts, &counts)
    }

    /// The half-step of factors augmented with offsets (`outer::
    /// offsets_step`), its inputs whole on every rank: the fixed factor is
    /// not rotated, clipping does not apply (as in one process).
    fn offsets_half_step(
        &mut self,
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
        settings: StepSettings,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        let augmented = (self.options.offsets, self.rank, Pins::ONES);
        let step = self
            .pool
            .install(|| OffsetsStep::new(augmented, rows, moving, fixed))?;
        let design = Design {
            fixed: &step.design,
            warm: &step.warm,
            orthonormal: false,
            unpenalized: step.unpenalized,
            shifted: Some(&step),
        };
        let solved = self.solve_local_rows(rows, design, settings.accuracy)?;
        let next = step.assemble(solved, settings.omega)?;
        Ok((
            try_copy(fixed.as_ref(), "the half-step with offsets")?,
            next,
        ))
    }
}

/// The exact solver, the one that distributes (`checks::check_options`):
/// it solves each row alone, so the split changes no bits. AUTO's choice
/// among the solvers follows inner iteration counts, which differ by rank.
fn exact_solver(options: &Options, problem: &Problem<'_>) -> Box<dyn HalfStepSolver + Send> {
    let settings = SolverSettings {
        sketch_size_factor: options.sketch_size_factor,
        tolerance: options.regression_tolerance,
        seed: options.seed,
    };
    crate::solver::solver_for(SolverKind::Exact, problem, settings)
}

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
    data: LocalData<'_>,
    (given, progress): (Option<&Factors>, Progress<'_>),
) -> Result<FitOutcome> {
    comm.set_phase(Phase::Setup);
    let layout = exchange_layout(comm, &block, k, (options, given), &data)?;
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
        LocalData::Dense { m, w, row_major } => {
            comm.set_phase(Phase::Redistribution);
            let columns = redistribute_dense(comm, &layout, *m, *w, *row_major);
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
        rows_solver: exact_solver(options, &rows_problem),
        cols_solver: cols_problem.map(|p| exact_solver(options, &p)),
        weight_sums,
        progress,
        failure: None,
    };
    // VarPro's dense Gauss-Newton system does not distribute: AUTO runs
    // accelerated alternation, and says so.
    let mut run = match options.method {
        MethodChoice::Alternating => alternate(&mut sides, start, options)?,
        _ => accelerate(&mut sides, start, options)?,
    };
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
    let local_u = try_from_fn(
        block.n_local,
        u.ncols(),
        |i, d| u[(offset + i, d)],
        "the local factor rows",
    )?;
    run.factors.u = local_u;
    Ok(run)
}
