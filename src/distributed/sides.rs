//! A distributed fit's sides (`outer::sides::Sides`): this rank's rows and
//! column block, each solved against the whole fixed factor and gathered
//! by every rank (`solve_local_rows`), the offsets' half-step, the
//! objective's row sums in global order, the callbacks' agreement, and the
//! inner iterations counted as one process counts them.

use super::checks::{agreed, LocalData};
use super::comm::{Comm, Phase};
use super::gather::gather_rows;
use super::layout::Layout;
use super::{reduced, unobserved};
use crate::error::{Error, Result};
use crate::init::Factors;
use crate::kernels::blocking::current_par;
use crate::memory::try_copy;
use crate::options::{Options, SolverChoice};
use crate::outer::accelerated::accelerate;
use crate::outer::alternating::{alternate, prepare_fixed, warm_start};
use crate::outer::offsets_step::OffsetsStep;
use crate::outer::restarts::Shift;
use crate::outer::sides::{relax, Sides, StepSettings};
use crate::outer::{ridge_penalty, FitOutcome, Method, Progress, WeightSums};
use crate::problem::row_residuals::residuals_by_row;
use crate::problem::Problem;
use crate::scaling::Pins;
use crate::solver::half_step::{StreamPosition, WholeSide};
use crate::solver::{for_options, HalfStep, HalfStepSolver, SolverKind};
use faer::{Mat, Par};

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
    /// The offsets' pinned columns' values (`fit::agreed_pins`).
    pub(super) pins: Pins,
    pub(super) options: &'c Options,
    pub(super) pool: &'c rayon::ThreadPool,
    pub(super) rows_solver: Box<dyn HalfStepSolver + Send>,
    pub(super) cols_solver: Option<Box<dyn HalfStepSolver + Send>>,
    /// Every row's and column's weight sum, when they scale the ridge.
    pub(super) weight_sums: Option<WeightSums>,
    pub(super) progress: Progress<'c>,
    pub(super) failure: Option<Error>,
    /// This rank's inner iterations, one count per half-step, and its
    /// half-steps that read float32 rows.
    pub(super) inner_iterations: Vec<f64>,
    pub(super) narrow_half_steps: usize,
    /// During a restart: where its progress reports go
    /// (`outer::restarts::Shift`).
    pub(super) shift: Option<Shift>,
    /// The pattern's entries over every rank (sparse input), which AUTO's
    /// cost model reads (`WholeSide`).
    pub(super) whole_entries: usize,
    /// AUTO's predicted cost of a sparse SKETCH half-step on each side
    /// (U, V) over every rank (`whole_costs` in fit.rs).
    pub(super) sparse_sketch_costs: [f64; 2],
    /// The solver the last half-step ran, agreed over the ranks.
    pub(super) last_kind: SolverKind,
    /// This start's half-steps, as one process's solvers count them.
    pub(super) half_steps: HalfStepCount,
}

/// The half-steps SKETCH has solved on each side in this start, and
/// whether one process runs one solver for both sides (alternation) or one
/// per side (accelerated alternation): from them, the index one process's
/// SKETCH gives its next half-step (it counts only those it solves, also
/// inside AUTO), by which it keys its streams.
#[derive(Clone, Copy, Default)]
pub(super) struct HalfStepCount {
    pub(super) per_side: [u64; 2],
    pub(super) one_solver: bool,
}

impl HalfStepCount {
    /// The index of the side's next SKETCH half-step.
    fn next_sketch(&self, side: usize) -> u64 {
        match self.one_solver {
            true => self.per_side[0] + self.per_side[1],
            false => self.per_side[side],
        }
    }

    fn sketch_ran(&mut self, side: usize) {
        self.per_side[side] += 1;
    }
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
            offsets: None,
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
        let (iterations, value) = match self.shift {
            Some(shift) => (shift.iterations + iterations, value.min(shift.best)),
            None => (iterations, value),
        };
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
        self.last_kind
    }

    fn mean_inner_iterations(&self) -> f64 {
        // Needs the other ranks' counts: `agreed_mean_inner_iterations`
        // replaces it after the loop.
        0.0
    }

    fn narrow_half_steps(&self) -> usize {
        self.narrow_half_steps
    }
}

/// A half-step's whole inputs besides the data: the design (the fixed
/// factor as the step sees it), the warm start, and with offsets the column
/// the ridge leaves and the shift that takes the other side's offsets off M.
pub(super) struct Design<'d> {
    pub(super) fixed: &'d Mat<f64>,
    pub(super) warm: &'d Mat<f64>,
    pub(super) orthonormal: bool,
    /// With offsets, the step that shifts M and names the column the
    /// ridge leaves.
    pub(super) offsets: Option<&'d OffsetsStep>,
}

impl DistributedSides<'_, '_> {
    /// As `wlra_fit` ends every fit: the count of rows and columns without
    /// a positive weight, and, where `zero` (the fit iterated), their
    /// factor rows at the minimum-norm 0 (accelerated alternation and
    /// over-relaxation move them), and the objective again where a ridge
    /// counted them (`unobserved::zero_unobserved`).
    pub(super) fn zero_unobserved(&mut self, run: &mut FitOutcome, zero: bool) -> Result<()> {
        let offsets = self.options.offsets;
        let pinned = (
            offsets.pinned(self.rank, true),
            offsets.pinned(self.rank, false),
        );
        let problems = (&self.rows_problem, self.cols_problem, self.reduced);
        let factors = (&mut run.factors.u, &mut run.factors.v);
        let (lines, changed) = unobserved::zero_unobserved(
            self.comm,
            &self.layout,
            problems,
            factors,
            (pinned, zero),
        )?;
        run.zero_weight_lines = Some(lines);
        if changed && self.options.ridge > 0.0 {
            run.objective = self.objective(&run.factors)?;
        }
        Ok(())
    }

    /// One start of `method` (alternation or accelerated alternation) from
    /// `start` under `options`: with fresh solvers and inner iteration
    /// counts, as one process's fit makes for each start.
    pub(super) fn run_start(
        &mut self,
        method: Method,
        start: Factors,
        options: &Options,
    ) -> Result<FitOutcome> {
        // Each row's solve is its own (SKETCH's streams keyed as one
        // process keys them, `StreamPosition`), so the split changes no
        // bits; AUTO chooses on the whole side (`agree_solver`).
        self.rows_solver = for_options(self.options, &self.rows_problem);
        self.cols_solver = self.cols_problem.map(|p| for_options(self.options, &p));
        self.inner_iterations.clear();
        self.narrow_half_steps = 0;
        self.half_steps = HalfStepCount {
            per_side: [0, 0],
            one_solver: method == Method::Alternating,
        };
        let mut run = match method {
            Method::Alternating => alternate(self, start, options)?,
            _ => accelerate(self, start, options)?,
        };
        run.mean_inner_iterations = self.agreed_mean_inner_iterations()?;
        run.method_used = method;
        Ok(run)
    }

    /// This rank's rows (`rows`) or columns solved against the whole
    /// design, then gathered: the whole solved factor on every rank.
    pub(super) fn solve_local_rows(
        &mut self,
        rows: bool,
        design: Design<'_>,
        accuracy: f64,
    ) -> Result<Mat<f64>> {
        let pool = self.pool;
        if !rows && self.reduced {
            self.comm.set_phase(Phase::VHalfStep);
            return self.reduced_columns(design);
        }
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
        let position = StreamPosition {
            half_step: self.half_steps.next_sketch(usize::from(!rows)),
            first_row: mine.start,
            whole_rows: counts.iter().sum(),
        };
        let ridge_scale = self.weight_sums.as_ref().map(|s| {
            let side = if rows { &s.rows } else { &s.cols };
            &side[mine.clone()]
        });
        let k = design.fixed.ncols();
        let local = match (problem, solver) {
            (Some(problem), Some(solver)) => pool.install(|| {
                let whole = WholeSide {
                    rows: position.whole_rows,
                    entries: self.whole_entries,
                    sparse_sketch_cost: self.sparse_sketch_costs[usize::from(!rows)],
                };
                tell_solver(solver, rows, accuracy, position, whole);
                let shifted = match design.offsets {
                    Some(step) => step.shifted_values(&problem)?,
                    None => Vec::new(),
                };
                let problem = match design.offsets {
                    Some(step) => step.problem(problem, &shifted),
                    None => problem,
                };
                let step = HalfStep {
                    problem,
                    fixed: design.fixed.as_ref(),
                    ridge: self.options.ridge,
                    ridge_scale,
                    unpenalized: design.offsets.and_then(|step| step.unpenalized),
                    warm_start: Some(design.warm.as_ref().subrows(mine.start, mine.len())),
                    fixed_orthonormal: design.orthonormal,
                    par: Par::rayon(pool.current_num_threads()),
                };
                let solved = solver.solve(&step);
                // One solver per side: neither keeps a whole factor's rows.
                solver.release_kept();
                self.inner_iterations.push(solver.inner_iterations() as f64);
                self.narrow_half_steps += usize::from(solver.read_narrow());
                solved
            }),
            _ => {
                self.inner_iterations.push(0.0);
                Ok(Mat::zeros(0, k))
            }
        };
        let local = agreed(self.comm, local)?;
        let (starts, counts) = (starts.clone(), counts.clone());
        self.agree_solver(rows)?;
        gather_rows(self.comm, &local, &starts, &counts)
    }

    /// V's half-step from the normal equations reduced at each column's
    /// owner (`reduced`: tall dense input, no redistribution), gathered.
    fn reduced_columns(&mut self, design: Design<'_>) -> Result<Mat<f64>> {
        let u_local = design
            .fixed
            .as_ref()
            .subrows(self.offset, self.data.n_rows());
        let settings = (self.options.ridge, self.pool);
        let layout = &self.layout;
        let local =
            reduced::owned_columns(self.comm, layout, &self.rows_problem, u_local, settings)?;
        self.inner_iterations.push(0.0);
        let (starts, counts) = (layout.col_starts.clone(), layout.col_counts.clone());
        gather_rows(self.comm, &local, &starts, &counts)
    }

    /// After a half-step under AUTO or SKETCH: every rank's inner
    /// iterations summed (AUTO's estimate for the side, and SKETCH's choice
    /// to keep its preconditioners, read the whole side's, as in one
    /// process) and the solver that ran (ranks without rows of this side
    /// ran none), counted where it was SKETCH. One allgatherv of two
    /// doubles per rank.
    fn agree_solver(&mut self, rows: bool) -> Result<()> {
        let solver = match rows {
            true => Some(self.rows_solver.as_mut()),
            false => self.cols_solver.as_deref_mut(),
        };
        if !matches!(
            self.options.solver,
            SolverChoice::Auto | SolverChoice::Sketch
        ) {
            self.last_kind = solver.map_or(self.last_kind, |s| s.kind());
            return Ok(());
        }
        let inner = self.inner_iterations.last().copied().unwrap_or(0.0);
        let kind = solver.as_ref().map_or(-1.0, |s| s.kind().c_value() as f64);
        let all = self
            .comm
            .allgatherv(&[inner, kind], &vec![2; self.comm.size])?;
        let total: f64 = all.chunks_exact(2).map(|pair| pair[0]).sum();
        if let Some(solver) = solver {
            solver.set_whole_inner_iterations(total);
        }
        let ran = all.chunks_exact(2).map(|pair| pair[1]).find(|&k| k >= 0.0);
        let kinds = [SolverKind::Exact, SolverKind::SharedPcg, SolverKind::Sketch];
        if let Some(kind) = kinds.into_iter().find(|k| Some(k.c_value() as f64) == ran) {
            self.last_kind = kind;
        }
        if self.last_kind == SolverKind::Sketch {
            self.half_steps.sketch_ran(usize::from(!rows));
        }
        Ok(())
    }

    /// The half-step of factors augmented with offsets (`outer::
    /// offsets_step`), its inputs whole on every rank: the fixed factor is
    /// not rotated, clipping does not apply (as in one process).
    pub(super) fn offsets_half_step(
        &mut self,
        rows: bool,
        moving: &Mat<f64>,
        fixed: &Mat<f64>,
        settings: StepSettings,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        let augmented = (self.options.offsets, self.rank, self.pins);
        let step = self
            .pool
            .install(|| OffsetsStep::new(augmented, rows, moving, fixed))?;
        let design = Design {
            fixed: &step.design,
            warm: &step.warm,
            orthonormal: false,
            offsets: Some(&step),
        };
        let solved = self.solve_local_rows(rows, design, settings.accuracy)?;
        let next = step.assemble(solved, settings.omega)?;
        Ok((
            try_copy(fixed.as_ref(), "the half-step with offsets")?,
            next,
        ))
    }
}

/// What a side's solver is told before its half-step: the inner accuracy,
/// its side and the whole side (AUTO's cost model), and where the half-step
/// stands in the one-process fit (SKETCH's streams).
fn tell_solver(
    solver: &mut (dyn HalfStepSolver + Send),
    rows: bool,
    accuracy: f64,
    position: StreamPosition,
    whole: WholeSide,
) {
    solver.set_accuracy(accuracy);
    solver.set_side(usize::from(!rows), Some(whole));
    solver.set_stream_position(position);
}
