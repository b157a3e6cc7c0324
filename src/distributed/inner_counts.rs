//! What the ranks' inner solves counted, agreed over the ranks: a
//! distributed fit reports WLRA_INFO_INNER_ITERATIONS as one process
//! counts it.

use super::sides::DistributedSides;
use crate::error::Result;
use crate::options::SolverChoice;

impl DistributedSides<'_, '_> {
    /// Inner iterations per row and half-step over the fit, as one process
    /// counts them (`alternating::LocalSides`): each half-step's count
    /// summed over the ranks (whole numbers, so in any order exactly), over
    /// the side's rows. One allgatherv of this rank's counts.
    pub(super) fn agreed_mean_inner_iterations(&mut self) -> Result<f64> {
        let h = self.inner_iterations.len();
        // Decided on the options, the same on every rank: a collective.
        let counted = matches!(
            self.options.solver,
            SolverChoice::Auto | SolverChoice::SharedPcg
        );
        if !counted || h == 0 {
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
}
