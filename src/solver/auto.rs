//! AUTO: per half-step, the solver with the lowest predicted cost among
//! EXACT, SHARED_PCG (mean-weight CGLS; Jacobi CG on sparse input) and
//! SKETCH (SRHT-preconditioned CG; sparse input: `predict_sparse`).
//!
//! The prediction counts work in GEMM-flop equivalents per row, from k,
//! the row length m and inner iteration counts (never from timings, so the
//! choice, and with it the result, is the same on every run):
//!   exact  m k (k + 1) + CHOLESKY_COST k^3
//!   PCG    (iterations + SETUP_ITERATIONS) (4 m k + ELEMENTWISE_COST m)
//!   SRHT   the PCG cost + FWHT_COST k p log2 p + QR_COST 2 s k^2
//! The constants were fitted to `cargo bench --bench solvers` on the
//! 2-core development machine (docs/solvers.md). Iterations start at a
//! guess and then follow what the last half-step of the same side took.

use crate::error::Result;
use crate::kernels::srht::sketch_rows;
use crate::problem::{Problem, SparseView};
use crate::solver::half_step::{
    applicable, into_new_solution, HalfStep, HalfStepSolver, SolverKind, StreamPosition, WholeSide,
};
use faer::{Mat, MatMut};

/// Small dense factorizations run far below GEMM speed.
const CHOLESKY_COST: f64 = 1.0;
/// The right-hand side and residual GEMMs of a block, in iterations.
const SETUP_ITERATIONS: f64 = 1.5;
/// One CG iteration's work besides its GEMM flops (the weights streamed once,
/// the chunked products, row bookkeeping), per entry. Set when that work was
/// seven streams over m; with the chunked operator it still puts AUTO's
/// choice on the faster solver at every rank `cargo bench --bench solvers`
/// measured (docs/performance.md).
const ELEMENTWISE_COST: f64 = 126.0;
/// A Walsh-Hadamard butterfly (memory bound), per addition.
const FWHT_COST: f64 = 2.0;
/// QR of the s x k sketch, per flop.
const QR_COST: f64 = 4.0;
/// Sparse rows: the correction Grams are GEMMs on gathered rows, short
/// ones, below full GEMM speed.
const SPARSE_GRAM_COST: f64 = 1.0;
/// A product with gathered rows of Y (memory bound), per flop.
const GATHER_COST: f64 = 2.0;
/// A sparse CG row starts with one fused pass (right-hand side and
/// residual) costing about this many iterations.
const SPARSE_SETUP_PASSES: f64 = 1.5;
/// Inner iterations assumed before a side has run an iterative solver.
const FIRST_GUESS: f64 = 5.0;
/// SRHT-preconditioned CGLS, cond(A R^-1) <= 3: iterations per decade of
/// accuracy, warm.
const SRHT_GUESS: f64 = 6.0;

/// The three solvers AUTO chooses among, for the problem's input kind
/// (built by the solver table).
pub struct Candidates {
    pub exact: Box<dyn HalfStepSolver + Send>,
    pub shared_pcg: Box<dyn HalfStepSolver + Send>,
    pub sketch: Box<dyn HalfStepSolver + Send>,
}

pub struct AutoSolver {
    /// The three solvers of the input kind (from the solver table).
    exact: Box<dyn HalfStepSolver + Send>,
    shared_pcg: Box<dyn HalfStepSolver + Send>,
    sketch: Box<dyn HalfStepSolver + Send>,
    sketch_size_factor: f64,
    /// Per side (U, V), the last iterations measured.
    shared_iterations: [Option<f64>; 2],
    /// Half-steps so far: they alternate U, V where the caller does not
    /// say which side (`set_side`).
    half_steps: usize,
    /// The side of the next half-steps, where the caller says it.
    side: Option<usize>,
    /// A distributed fit's whole side: the costs are the whole problem's.
    whole: Option<WholeSide>,
    /// A distributed fit's position of the next half-step: SKETCH's, if
    /// it is chosen (the caller counts the half-steps SKETCH ran, which
    /// is how SKETCH inside one process's AUTO counts its own).
    position: Option<StreamPosition>,
    /// The solver of the last half-step; None before the first.
    last: Option<SolverKind>,
}

impl AutoSolver {
    pub fn new(solvers: Candidates, sketch_size_factor: f64) -> Self {
        AutoSolver {
            exact: solvers.exact,
            shared_pcg: solvers.shared_pcg,
            sketch: solvers.sketch,
            sketch_size_factor,
            shared_iterations: [None; 2],
            half_steps: 0,
            side: None,
            whole: None,
            position: None,
            last: None,
        }
    }

    /// Predicted cost per row of each solver, in GEMM-flop equivalents.
    fn predict(&self, m: f64, k: f64, side: usize) -> [(SolverKind, f64); 3] {
        let exact = m * k * (k + 1.0) + CHOLESKY_COST * k * k * k;
        let per_iteration = 4.0 * m * k + ELEMENTWISE_COST * m;
        let shared_iterations = self.shared_iterations[side].unwrap_or(FIRST_GUESS);
        let shared = (shared_iterations + SETUP_ITERATIONS) * per_iteration;
        let s = sketch_rows(self.sketch_size_factor, k as usize) as f64;
        let p = m.log2().ceil().exp2();
        // Per row of m entries, the same on every rank of a distributed fit.
        let sketch = (SRHT_GUESS + SETUP_ITERATIONS) * per_iteration
            + FWHT_COST * k * p * p.log2()
            + QR_COST * 2.0 * s * k * k;
        [
            (SolverKind::Exact, exact),
            (SolverKind::SharedPcg, shared),
            (SolverKind::Sketch, sketch),
        ]
    }

    /// Predicted cost of a sparse half-step (all rows), same units:
    ///   exact  SPARSE_GRAM_COST 2 nnz k^2 + CHOLESKY_COST n k^3
    ///   PCG    (iterations + SPARSE_SETUP_PASSES) GATHER_COST 4 nnz k
    ///          (+ 2 n k^2 per pass with a ridge: Y is not orthonormal)
    ///   SRHT   (w_default = 0 only) per row, p = next_pow2(nnz_i):
    ///          FWHT_COST k p log2 p + QR_COST 2 min(s, nnz_i) k^2
    ///          + (SRHT_GUESS + SETUP_ITERATIONS) (4 nnz_i k + 2 k^2)
    fn predict_sparse(
        &self,
        view: &SparseView<'_>,
        k: f64,
        ridge: f64,
        side: usize,
    ) -> [(SolverKind, f64); 3] {
        let (n, nnz) = match self.whole {
            Some(whole) => (whole.rows as f64, whole.entries as f64),
            None => (view.n_rows() as f64, view.nnz() as f64),
        };
        let exact_row = |len: f64| SPARSE_GRAM_COST * 2.0 * len * k * k + CHOLESKY_COST * k * k * k;
        let exact = exact_row(nnz) + (n - 1.0) * CHOLESKY_COST * k * k * k;
        let iterations = self.shared_iterations[side].unwrap_or(FIRST_GUESS);
        let shared_gram = if ridge > 0.0 { 2.0 * n * k * k } else { n * k };
        let pass = GATHER_COST * 4.0 * nnz * k + shared_gram;
        let pcg = (iterations + SPARSE_SETUP_PASSES) * pass;
        let sketch = match self.whole {
            Some(whole) => whole.sparse_sketch_cost,
            None => sparse_sketch_cost(view, k as usize, self.sketch_size_factor),
        };
        [
            (SolverKind::Exact, exact),
            (SolverKind::SharedPcg, pcg),
            (SolverKind::Sketch, sketch),
        ]
    }
}

/// AUTO's predicted cost of a SKETCH half-step over the rows of `view`
/// (`AutoSolver::predict_sparse`), infinite where SKETCH does not apply
/// (w_default > 0: every row would be solved exactly). Each row's cost is
/// a whole multiple of 1/2 far below 2^52, so sums of it are exact in any
/// order: a distributed fit adds its ranks' parts to one process's sum.
pub fn sparse_sketch_cost(view: &SparseView<'_>, k: usize, sketch_size_factor: f64) -> f64 {
    if !applicable(SolverKind::Sketch, &Problem::Sparse(*view)) {
        return f64::INFINITY;
    }
    let s = sketch_rows(sketch_size_factor, k) as f64;
    let k = k as f64;
    (0..view.n_rows())
        .map(|i| {
            let len = view.row(i).cols.len() as f64;
            if len < k {
                return SPARSE_GRAM_COST * 2.0 * len * k * k + CHOLESKY_COST * k * k * k;
            }
            let p = len.log2().ceil().exp2();
            let transform = if len > s {
                FWHT_COST * k * p * p.log2()
            } else {
                0.0
            };
            transform
                + QR_COST * 2.0 * s.min(len) * k * k
                + (SRHT_GUESS + SETUP_ITERATIONS) * (4.0 * len * k + 2.0 * k * k)
        })
        .sum()
}

impl HalfStepSolver for AutoSolver {
    fn kind(&self) -> SolverKind {
        self.last.unwrap_or(SolverKind::Exact)
    }

    /// Iterative unless the last half-step ran EXACT (then the inner
    /// accuracy says nothing about how exact the iteration was).
    fn is_iterative(&self) -> bool {
        self.last != Some(SolverKind::Exact)
    }

    fn release_kept(&mut self) {
        self.exact.release_kept();
        self.shared_pcg.release_kept();
        self.sketch.release_kept();
    }

    fn set_accuracy(&mut self, accuracy: f64) {
        self.shared_pcg.set_accuracy(accuracy);
        self.sketch.set_accuracy(accuracy);
    }

    fn inner_iterations(&self) -> usize {
        match self.kind() {
            SolverKind::Exact => 0,
            SolverKind::SharedPcg => self.shared_pcg.inner_iterations(),
            SolverKind::Sketch => self.sketch.inner_iterations(),
        }
    }

    fn solve(&mut self, step: &HalfStep<'_>) -> Result<Mat<f64>> {
        Ok(into_new_solution(step, |out| self.solve_into(step, out))?.0)
    }

    fn set_side(&mut self, side: usize, whole: Option<WholeSide>) {
        self.side = Some(side);
        self.whole = whole;
    }

    fn set_whole_inner_iterations(&mut self, total: f64) {
        if let (Some(side), Some(whole)) = (self.side, self.whole) {
            match self.last {
                Some(SolverKind::SharedPcg) => {
                    self.shared_iterations[side] = Some(total / whole.rows.max(1) as f64);
                }
                Some(SolverKind::Sketch) => self.sketch.set_whole_inner_iterations(total),
                _ => {}
            }
        }
    }

    fn set_stream_position(&mut self, position: StreamPosition) {
        self.position = Some(position);
    }

    fn read_narrow(&self) -> bool {
        self.last == Some(SolverKind::SharedPcg) && self.shared_pcg.read_narrow()
    }

    fn solve_into(&mut self, step: &HalfStep<'_>, out: MatMut<'_, f64>) -> Result<()> {
        let side = self.side.unwrap_or(self.half_steps % 2);
        self.half_steps += 1;
        let position = self.position.take();
        let (n, m, k) = (
            step.problem.n_rows(),
            step.problem.n_cols(),
            step.fixed.ncols(),
        );
        let costs = match &step.problem {
            Problem::Sparse(view) => self
                .predict_sparse(view, k as f64, step.ridge, side)
                .to_vec(),
            Problem::Dense(_) => self.predict(m as f64, k as f64, side).to_vec(),
        };
        let choice = costs
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|c| c.0)
            .unwrap_or(SolverKind::Exact);
        self.last = Some(choice);
        match choice {
            SolverKind::Exact => {
                // An expensive early count (cold, loose starts) must not lock
                // a side out of PCG: halve the stale estimate, so PCG is
                // tried again once warm starts could have made it cheap.
                if let Some(estimate) = self.shared_iterations[side].as_mut() {
                    *estimate = (*estimate / 2.0).max(FIRST_GUESS);
                }
                self.exact.solve_into(step, out)
            }
            SolverKind::SharedPcg => {
                self.shared_pcg.solve_into(step, out)?;
                self.shared_iterations[side] =
                    Some(self.shared_pcg.inner_iterations() as f64 / n.max(1) as f64);
                Ok(())
            }
            SolverKind::Sketch => {
                if let Some(position) = position {
                    self.sketch.set_stream_position(position);
                }
                self.sketch.solve_into(step, out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::sparse::{CsrInput, SparseProblem};

    /// n rows of `len` entries each over `m` columns, completion weights.
    fn long_rows(n: usize, m: usize, len: usize) -> SparseProblem {
        rows_of(&vec![len; n], m, 0.0)
    }

    fn cheapest(costs: &[(SolverKind, f64)]) -> SolverKind {
        costs.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0
    }

    #[test]
    fn sparse_cost_model_picks_each_solver_where_it_pays() {
        let problem = long_rows(10, 8192, 5000);
        let view = problem.view();
        let settings = crate::solver::SolverSettings {
            sketch_size_factor: 4.0,
            tolerance: 1e-10,
            seed: 0,
            mixed_precision: true,
        };
        let solvers = |method| crate::solver::solver_for(method, &view.into(), settings);
        let candidates = Candidates {
            exact: solvers(SolverKind::Exact),
            shared_pcg: solvers(SolverKind::SharedPcg),
            sketch: solvers(SolverKind::Sketch),
        };
        let mut auto = AutoSolver::new(candidates, 4.0);
        // Small k: the exact Grams are cheap.
        assert_eq!(
            cheapest(&auto.predict_sparse(&view, 8.0, 0.0, 0)),
            SolverKind::Exact
        );
        // k = 64, CG measured fast: PCG; measured slow (wide weights): SRHT.
        auto.shared_iterations[0] = Some(3.0);
        assert_eq!(
            cheapest(&auto.predict_sparse(&view, 64.0, 0.0, 0)),
            SolverKind::SharedPcg
        );
        auto.shared_iterations[0] = Some(40.0);
        assert_eq!(
            cheapest(&auto.predict_sparse(&view, 64.0, 0.0, 0)),
            SolverKind::Sketch
        );
        // Short rows never sketch.
        let short = long_rows(1000, 8192, 50);
        let costs = auto.predict_sparse(&short.view(), 64.0, 0.0, 0);
        assert_ne!(cheapest(&costs), SolverKind::Sketch);
    }

    /// Rows of the given lengths over m columns, values varying by entry,
    /// unit weights on the pattern and `w_default` off it.
    fn rows_of(lens: &[usize], m: usize, w_default: f64) -> SparseProblem {
        let mut row_ptr = vec![0i64];
        let mut col_idx = Vec::new();
        for &len in lens {
            col_idx.extend((0..len).map(|j| (j * m / len) as i64));
            row_ptr.push(col_idx.len() as i64);
        }
        let values: Vec<f64> = (0..col_idx.len())
            .map(|p| ((p * 37) % 11) as f64 - 5.0)
            .collect();
        SparseProblem::new(&CsrInput {
            n_rows: lens.len(),
            n_cols: m,
            row_ptr: &row_ptr,
            col_idx: &col_idx,
            m_values: &values,
            w_values: None,
            m_default: 0.0,
            w_default,
        })
        .unwrap()
    }

    #[test]
    fn split_sketch_costs_add_up_to_the_whole_sides_bits() {
        // Short rows (exact), rows under the sketch size, long ones.
        let lens = [3, 40, 700, 5000, 17, 1200, 190, 8191];
        let k = 48;
        let cost = |lens: &[usize]| sparse_sketch_cost(&rows_of(lens, 8192, 0.0).view(), k, 4.0);
        let whole = cost(&lens);
        assert!(whole.is_finite() && whole > 0.0);
        for cut in 1..lens.len() {
            let (first, rest) = (cost(&lens[..cut]), cost(&lens[cut..]));
            assert_eq!((first + rest).to_bits(), whole.to_bits(), "cut at {cut}");
        }
        // w_default > 0: every row would be solved exactly.
        let defaulted = rows_of(&lens, 8192, 1.0);
        assert!(sparse_sketch_cost(&defaulted.view(), k, 4.0).is_infinite());
    }

    #[test]
    fn a_distributed_auto_sketches_at_the_position_it_is_told() {
        let problem = rows_of(&[900, 1500, 40, 2000], 4096, 0.0);
        let view = problem.view();
        let k = 8;
        let fixed = Mat::from_fn(4096, k, |j, d| {
            (((j * 7 + d * 13) % 29) as f64 - 14.0) / 14.0
        });
        let step = HalfStep {
            problem: view.into(),
            fixed: fixed.as_ref(),
            ridge: 0.0,
            ridge_scale: None,
            unpenalized: None,
            warm_start: None,
            fixed_orthonormal: false,
            par: faer::Par::Seq,
        };
        let settings = crate::solver::SolverSettings {
            sketch_size_factor: 4.0,
            tolerance: 1e-6,
            seed: 3,
            mixed_precision: true,
        };
        let solvers = |method| crate::solver::solver_for(method, &view.into(), settings);
        let at = |half_step| StreamPosition {
            half_step,
            first_row: 100,
            whole_rows: 400,
        };
        let mut auto = AutoSolver::new(
            Candidates {
                exact: solvers(SolverKind::Exact),
                shared_pcg: solvers(SolverKind::SharedPcg),
                sketch: solvers(SolverKind::Sketch),
            },
            4.0,
        );
        // The whole side's SKETCH cost, as the ranks' sum says: the cheapest.
        let whole = WholeSide {
            rows: 400,
            entries: 100_000,
            sparse_sketch_cost: 0.0,
        };
        auto.set_side(0, Some(whole));
        auto.set_stream_position(at(7));
        let chosen = auto.solve(&step).unwrap();
        assert_eq!(auto.kind(), SolverKind::Sketch);
        let direct = |half_step| {
            let mut sketch = solvers(SolverKind::Sketch);
            sketch.set_stream_position(at(half_step));
            sketch.solve(&step).unwrap()
        };
        let bits = |x: &Mat<f64>| {
            x.col_iter()
                .flat_map(|c| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&chosen), bits(&direct(7)));
        // Another position draws other sketches: the position was used.
        assert_ne!(bits(&chosen), bits(&direct(8)));
    }
}
