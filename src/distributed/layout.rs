//! Where every rank's rows are: exchanged once per fit and checked the
//! same way on every rank; the even split of the columns.

use super::checks::{LocalData, RowBlock};
use super::comm::Comm;
use crate::error::{invalid, Result};
use crate::init::Factors;
use crate::options::Options;
use faer::Mat;
use std::ops::Range;

/// What every rank tells the others about its part (exchanged once).
const LAYOUT_FIELDS: usize = 25;

fn layout_fields(
    block: &RowBlock,
    k: usize,
    (options, start): (&Options, Option<&Factors>),
    data: &LocalData<'_>,
) -> Vec<f64> {
    let (kind, has_w, defaults) = match data {
        LocalData::Dense { w, .. } => (0u64, w.is_some(), (0.0, 0.0)),
        LocalData::Sparse(p) => {
            let v = p.view();
            (1u64, true, (v.m_default(), v.w_default()))
        }
    };
    let ints = [
        block.n_rows as u64,
        block.n_cols as u64,
        k as u64,
        block.offset as u64,
        block.n_local as u64,
        kind,
        u64::from(has_w),
        options.seed,
        options.max_iterations as u64,
        options.tolerance.to_bits(),
        options.ridge.to_bits(),
        // The sparse defaults must agree too (m_default, w_default).
        defaults.0.to_bits() ^ defaults.1.to_bits().rotate_left(17),
        // What decides the sequence of collectives and the bits.
        options.method as u64,
        options.overrelaxation.to_bits(),
        options.clip.to_bits(),
        u64::from(options.ridge_by_weight_sums),
        options.init as u64,
        options.offsets.c_value() as u64,
        // An iterative solver adds collectives; its accuracy, the bits.
        options.solver as u64,
        options.regression_tolerance.to_bits(),
        u64::from(options.adaptive_accuracy),
        options.folds as u64,
        options.held_out_fold as u64,
        u64::from(options.missing_nan),
        start.map_or(0, start_digest),
    ];
    // Bit patterns travel as doubles: allgatherv only copies them.
    ints.iter().map(|&b| f64::from_bits(b)).collect()
}

/// FNV-1a of the start factors' bits: every rank must pass the same.
fn start_digest(start: &Factors) -> u64 {
    digest(&[&start.u, &start.v])
}

/// FNV-1a of the matrices' bits, column by column.
pub(super) fn digest(matrices: &[&Mat<f64>]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for x in matrices {
        for j in 0..x.ncols() {
            for &value in x.col(j).iter() {
                for byte in value.to_bits().to_le_bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
    }
    hash
}

/// Every rank's rows: offsets and counts by rank, and the ranks in the
/// order of their rows.
pub struct Layout {
    pub offsets: Vec<usize>,
    pub counts: Vec<usize>,
    pub by_offset: Vec<usize>,
    /// The even column split: rank q solves columns cols[q], which start
    /// at col_starts[q] and number col_counts[q].
    pub cols: Vec<Range<usize>>,
    pub col_starts: Vec<usize>,
    pub col_counts: Vec<usize>,
}

/// Exchange the ranks' layouts and check them the same way on every rank
/// (identical data, identical verdict: no further agreement needed).
pub fn exchange_layout(
    comm: &mut Comm<'_>,
    block: &RowBlock,
    k: usize,
    given: (&Options, Option<&Factors>),
    data: &LocalData<'_>,
) -> Result<Layout> {
    let mine = layout_fields(block, k, given, data);
    let all = comm.allgatherv(&mine, &vec![LAYOUT_FIELDS; comm.size])?;
    let field = |r: usize, f: usize| all[r * LAYOUT_FIELDS + f].to_bits();
    const NAMES: [&str; LAYOUT_FIELDS] = [
        "n_rows",
        "n_cols",
        "the model's rank",
        "",
        "",
        "the input kind (dense or CSR)",
        "whether W is given",
        "WLRA_OPTION_SEED",
        "WLRA_OPTION_MAX_ITERATIONS",
        "WLRA_OPTION_TOLERANCE",
        "WLRA_OPTION_RIDGE",
        "m_default or w_default",
        "WLRA_OPTION_METHOD",
        "WLRA_OPTION_OVERRELAXATION",
        "WLRA_OPTION_CLIP",
        "WLRA_OPTION_RIDGE_SCALING",
        "WLRA_OPTION_INIT",
        "WLRA_OPTION_OFFSETS",
        "WLRA_OPTION_SOLVER",
        "WLRA_OPTION_REGRESSION_TOLERANCE",
        "WLRA_OPTION_ADAPTIVE_ACCURACY",
        "WLRA_OPTION_FOLDS",
        "WLRA_OPTION_HELD_OUT_FOLD",
        "WLRA_OPTION_MISSING_NAN",
        "digest of the start factors (wlra_set_factors)",
    ];
    for r in 1..comm.size {
        for (f, name) in NAMES.iter().enumerate() {
            if !name.is_empty() && field(r, f) != field(0, f) {
                return Err(invalid(format!(
                    "rank {r}'s {name} differs from rank 0's: every rank must pass the same"
                )));
            }
        }
    }
    let offsets: Vec<usize> = (0..comm.size).map(|r| field(r, 3) as usize).collect();
    let counts: Vec<usize> = (0..comm.size).map(|r| field(r, 4) as usize).collect();
    let mut by_offset: Vec<usize> = (0..comm.size).collect();
    by_offset.sort_by_key(|&r| offsets[r]);
    let mut next = 0usize;
    for &r in &by_offset {
        if offsets[r] != next {
            return Err(invalid(format!(
                "rank {r}'s rows start at row_offset = {}, but the rows before it end at {next}: \
                 the ranks' row blocks must tile 0..n_rows without gaps or overlaps",
                offsets[r]
            )));
        }
        next += counts[r];
    }
    if next != block.n_rows {
        return Err(invalid(format!(
            "the ranks' row blocks cover {next} rows, n_rows = {}",
            block.n_rows
        )));
    }
    let (m, p) = (block.n_cols as u128, comm.size as u128);
    let cols: Vec<Range<usize>> = (0..comm.size as u128)
        .map(|q| (q * m / p) as usize..((q + 1) * m / p) as usize)
        .collect();
    Ok(Layout {
        offsets,
        counts,
        by_offset,
        col_starts: cols.iter().map(|c| c.start).collect(),
        col_counts: cols.iter().map(|c| c.len()).collect(),
        cols,
    })
}
