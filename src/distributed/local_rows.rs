//! A distributed half-step on this rank's rows or columns: the solver,
//! the whole design every rank builds the same way, the local solve and
//! the gather; the offsets' half-step; and the inner iterations counted as
//! one process counts them.

use super::checks::agreed;
use super::comm::Phase;
use super::fit::{gather_rows, DistributedSides};
use super::reduced;
use crate::error::Result;
use crate::memory::try_copy;
use crate::options::{Options, SolverChoice};
use crate::outer::offsets_step::OffsetsStep;
use crate::outer::sides::{Sides, StepSettings};
use crate::problem::Problem;
use crate::scaling::Pins;
use crate::solver::{HalfStep, HalfStepSolver, SolverKind, SolverSettings};
use faer::{Mat, Par};

/// A half-step's whole inputs besides the data: the design (the fixed
/// factor as the step sees it), the warm start, and with offsets the column
/// the ridge leaves and the shift that takes the other side's offsets off M.
pub(super) struct Design<'d> {
    pub(super) fixed: &'d Mat<f64>,
    pub(super) warm: &'d Mat<f64>,
    pub(super) orthonormal: bool,
    pub(super) unpenalized: Option<usize>,
    pub(super) shifted: Option<&'d OffsetsStep>,
}

impl DistributedSides<'_, '_> {
    /// Inner iterations per row and half-step over the fit, as one process
    /// counts them (`alternating::LocalSides`): each half-step's count
    /// summed over the ranks (whole numbers, so in any order exactly), over
    /// the side's rows. One allgatherv of this rank's counts.
    pub(super) fn agreed_mean_inner_iterations(&mut self) -> Result<f64> {
        let h = self.inner_iterations.len();
        if !self.iterative() || h == 0 {
            return Ok(0.0);
        }
        let all = self
            .comm
            .allgatherv(&self.inner_iterations, &vec![h; self.comm.size])?;
        let (n, m) = (
            self.layout.counts.iter().sum::<usize>(),
            self.data.problem().n_cols(),
        );
        let mut work = 0.0;
        for step in 0..h {
            let total: f64 = (0..self.comm.size).map(|r| all[r * h + step]).sum();
            // Half-steps alternate U, V from the first.
            let rows = if step % 2 == 0 { n } else { m };
            work += total / rows as f64;
        }
        Ok(work / h as f64)
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
            self.inner_iterations.push(0.0);
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
                let solved = solver.solve(&step);
                self.inner_iterations.push(solver.inner_iterations() as f64);
                solved
            }),
            _ => {
                self.inner_iterations.push(0.0);
                Ok(Mat::zeros(0, k))
            }
        };
        let local = agreed(self.comm, local)?;
        let (starts, counts) = (starts.clone(), counts.clone());
        gather_rows(self.comm, &local, &starts, &counts)
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

/// The solver of a distributed half-step: SHARED_PCG (each row's own CG,
/// so the split changes no bits) or the exact solver; AUTO runs the exact
/// one, as its choice among the solvers follows inner iteration counts,
/// which differ by rank (`checks::check_options` refuses SKETCH).
pub(super) fn distributed_solver(
    options: &Options,
    problem: &Problem<'_>,
) -> Box<dyn HalfStepSolver + Send> {
    if options.solver == SolverChoice::Auto {
        let settings = SolverSettings {
            sketch_size_factor: options.sketch_size_factor,
            tolerance: options.regression_tolerance,
            seed: options.seed,
        };
        return crate::solver::solver_for(SolverKind::Exact, problem, settings);
    }
    crate::solver::for_options(options, problem)
}
