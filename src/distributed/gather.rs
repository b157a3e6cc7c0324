//! The one exchange every distributed step ends with: each rank's rows of
//! a factor gathered whole on every rank.

use super::comm::Comm;
use crate::error::Result;
use crate::memory::try_from_fn;
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
