//! Dense tall input without redistribution (issue 27): where the column
//! block copy would move more than the normal equations do, the V
//! half-step's normal equations are formed on each rank's rows and summed
//! at each column's owner instead. Column j's
//!     G_j = sum_i w_ij u_i u_i^T,  b_j = sum_i w_ij m_ij u_i
//! is a sum over rows, so each rank forms its rows' part for every column
//! (`solver::dense::exact::row_normal_equations`), one alltoallv sends each
//! owner its columns' parts (m (k(k+1)/2 + k) doubles per rank, or m k plus
//! one shared k(k+1)/2 Gram with unit weights), the owner adds them in
//! global row order of the ranks (the same on any engine) and solves.
//! The sums group rows by rank, so the factors equal `wlra_fit`'s to
//! rounding, not bit for bit (docs/mpi.md).

use super::checks::{agreed, LocalData};
use super::comm::Comm;
use super::layout::Layout;
use crate::error::{Error, Result};
use crate::kernels::gram::{packed_len, unpack_symmetric};
use crate::kernels::spd_solve::SpdSolver;
use crate::memory::{try_filled, try_from_fn, try_zeros};
use crate::options::{Options, SolverChoice};
use crate::problem::Problem;
use crate::solver::dense::exact::row_normal_equations;
use crate::solver::rows::solve_normal_equations;
use faer::{Mat, MatRef, Par};

/// The column block copy is kept where it costs fewer bytes than this many
/// V half-steps' normal equations: a fit of that many iterations moves
/// less data with the copy.
const HALF_STEPS_PER_COPY: usize = 100;

/// Whether the V half-steps reduce normal equations: dense input on more
/// than one rank, the exact solver, without offsets or weight-sum ridges
/// (which need whole columns), where the copy of M and W (c n m doubles, c = 2 with W) is
/// larger than HALF_STEPS_PER_COPY reductions of m (k(k+1)/2 + k).
/// Decided from agreed shapes and options, so the same on every rank.
pub(super) fn reduces(
    size: usize,
    (n, k): (usize, usize),
    options: &Options,
    data: &LocalData<'_>,
) -> bool {
    let (LocalData::Dense { .. }, w) = (data, data.weights()) else {
        return false;
    };
    // An explicit iterative solver keeps its own V half-steps.
    let iterative = matches!(
        options.solver,
        SolverChoice::SharedPcg | SolverChoice::Sketch
    );
    if size == 1 || iterative || options.offsets.any() || options.ridge_by_weight_sums {
        return false;
    }
    let copies = if w.is_some() { 2 } else { 1 };
    let per_column = if w.is_some() { packed_len(k) + k } else { k };
    n.saturating_mul(copies) > HALF_STEPS_PER_COPY.saturating_mul(per_column)
}

/// Local parts (one row per column, `width` doubles) summed at their
/// owners: this rank's column block of the sums, the ranks' parts added in
/// their rows' order.
pub(super) fn sum_at_owners(
    comm: &mut Comm<'_>,
    layout: &Layout,
    local: MatRef<'_, f64>,
) -> Result<Mat<f64>> {
    let width = local.ncols();
    let (size, me) = (comm.size, comm.rank);
    let mut send = try_filled(local.nrows() * width, 0.0, "the normal equations sent")?;
    for j in 0..local.nrows() {
        for c in 0..width {
            send[j * width + c] = local[(j, c)];
        }
    }
    let send_counts: Vec<usize> = layout.col_counts.iter().map(|c| c * width).collect();
    let mine = layout.col_counts[me] * width;
    let recv = comm.alltoallv(&send, &send_counts, &vec![mine; size])?;
    let mut sum = try_zeros(layout.col_counts[me], width, "the summed normal equations")?;
    for &r in &layout.by_offset {
        let part = &recv[r * mine..(r + 1) * mine];
        for j in 0..layout.col_counts[me] {
            for c in 0..width {
                sum[(j, c)] += part[j * width + c];
            }
        }
    }
    Ok(sum)
}

/// This rank's column block of the V half-step against `u_local` (its rows
/// of the fixed U as the step sees it): normal equations formed locally,
/// summed at the owners, solved there with the ridge. A failure on any rank
/// is agreed before the exchange.
pub(super) fn owned_columns(
    comm: &mut Comm<'_>,
    layout: &Layout,
    rows: &Problem<'_>,
    u_local: MatRef<'_, f64>,
    (ridge, pool): (f64, &rayon::ThreadPool),
) -> Result<Mat<f64>> {
    let k = u_local.ncols();
    let t = packed_len(k);
    let columns = rows.dense().transposed();
    let par = Par::rayon(pool.current_num_threads());
    let local = pool.install(|| row_normal_equations(&columns, u_local, par));
    let (grams, rhs) = agreed(comm, local)?;
    let shared = grams.nrows() == 1;
    // With unit weights one Gram serves every column: each rank's is
    // gathered whole and added in the same order.
    let (per_column, shared_gram) = if shared {
        let all = comm.allgatherv(
            &grams.row(0).iter().copied().collect::<Vec<_>>(),
            &vec![t; comm.size],
        )?;
        let mut g = vec![0.0; t];
        for &r in &layout.by_offset {
            g.iter_mut()
                .zip(&all[r * t..(r + 1) * t])
                .for_each(|(s, x)| *s += x);
        }
        (sum_at_owners(comm, layout, rhs.as_ref())?, Some(g))
    } else {
        let pair = |j: usize, c: usize| {
            if c < t {
                grams[(j, c)]
            } else {
                rhs[(j, c - t)]
            }
        };
        let both = try_from_fn(rhs.nrows(), t + k, pair, "the normal equations sent")?;
        (sum_at_owners(comm, layout, both.as_ref())?, None)
    };
    let solved = solve_columns(&per_column, shared_gram.as_deref(), (k, ridge));
    agreed(comm, solved)
}

/// Each owned column's G x = b with the ridge on the diagonal.
fn solve_columns(
    sums: &Mat<f64>,
    shared: Option<&[f64]>,
    (k, ridge): (usize, f64),
) -> Result<Mat<f64>> {
    let t = packed_len(k);
    let rhs_at = if shared.is_some() { 0 } else { t };
    let mut spd = SpdSolver::new(k)?;
    let mut x = try_filled(k, 0.0, "a column's solution")?;
    let mut out = try_zeros(sums.nrows(), k, "the owned columns")?;
    for j in 0..sums.nrows() {
        let mut g = spd.gram_mut();
        match shared {
            Some(s) => unpack_symmetric(|idx| s[idx], g.as_mut()),
            None => unpack_symmetric(|idx| sums[(j, idx)], g.as_mut()),
        }
        (0..k).for_each(|d| g[(d, d)] += ridge);
        (0..k).for_each(|d| x[d] = sums[(j, rhs_at + d)]);
        solve_normal_equations(&mut spd, &mut x);
        (0..k).for_each(|d| out[(j, d)] = x[d]);
    }
    if out.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
        Ok(out)
    } else {
        Err(Error::Numerical(
            "the V half-step's summed normal equations produced non-finite factors".into(),
        ))
    }
}
