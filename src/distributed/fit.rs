//! The distributed fit (`run`): the layout, the column exchange, the
//! start, then the single-process loops (`alternating::alternate`,
//! `accelerated::accelerate`) over this rank's sides (`sides`). Each rank
//! holds a block of rows of M and W; the columns are split evenly and each
//! rank receives its column block once per fit (`columns`), or, for tall
//! dense input, sums normal equations instead (`reduced`). Every rank
//! holds both factors whole (every row of a dense problem touches every
//! column).
//!
//! Determinism: every rank runs the single-process loop on identical bits.
//! The factors are whole everywhere, so the start, the thin QR of the fixed
//! factor (ridge = 0), clipping, over-relaxation, the extrapolations and
//! the ridge penalty are computed redundantly; each row is solved by the
//! library's own solver against the same fixed factor; the objective's
//! per-row partial sums are gathered and added in global row order; and
//! the progress callbacks' answers are agreed by one allreduce. The rank
//! count changes none of these (the normal equations' sums aside).

use super::checks::{agreed, LocalData, RowBlock};
use super::columns::{redistribute_dense, redistribute_sparse, ColumnBlock};
use super::comm::{Comm, Phase};
use super::layout::{exchange_layout, Layout};
use super::sides::DistributedSides;
use super::{held_out, reduced, start, unobserved, warm, Exchange};
use crate::canonical::rank_deficiency;
use crate::driver::{in_callers_gauge_and_units, rescaled};
use crate::error::Result;
use crate::held_out::HeldOutError;
use crate::init::{copy_factors, hop_start, random_factors, Factors};
use crate::memory::{try_from_fn, try_zeros};
use crate::options::{InitChoice, MethodChoice, Options, SolverChoice};
use crate::outer::restarts::{restart_loop, restart_plan, restart_seed, Shift, Start};
use crate::outer::sides::Sides;
use crate::outer::{FitOutcome, Method, Progress, WeightSums};
use crate::problem::Problem;
use crate::scaling::{Pins, Scale};
use crate::solver::auto::sparse_sketch_cost;
use crate::solver::SolverKind;

/// Every row's and column's weight sum on every rank, when they scale the
/// ridge (WLRA_RIDGE_WEIGHT_SUMS; `unobserved::whole_weight_sums`).
fn gathered_weight_sums(
    comm: &mut Comm<'_>,
    layout: &Layout,
    problems: (&Problem<'_>, Option<Problem<'_>>, bool),
    options: &Options,
) -> Result<Option<WeightSums>> {
    if !(options.ridge_by_weight_sums && options.ridge > 0.0) {
        return Ok(None);
    }
    Ok(Some(unobserved::whole_weight_sums(comm, layout, problems)?))
}

/// A distributed fit's outcome for the model: U holds this rank's rows of
/// the `n_rows`; the held-out error; and WLRA_INFO_DEGENERATE's count,
/// which needs every row of U (counted before the rank keeps its own).
pub struct Outcome {
    pub fit: FitOutcome,
    pub held_out: Option<HeldOutError>,
    pub n_rows: usize,
    pub row_offset: usize,
    pub rank_deficiency: usize,
}

/// The distributed alternation (after the status agreement on the local
/// checks): `outer::alternating::alternate` over this rank's sides, with
/// the progress callback agreed once per iteration. Returns the outcome
/// with U's local rows and V whole. `given`: the start factors, whole on
/// every rank (WLRA_INIT_GIVEN), or this rank's last fit's, with this fit's
/// offsets (WLRA_INIT_WARM: U's local rows, V whole).
pub fn run(
    comm: &mut Comm<'_>,
    block: RowBlock,
    k: usize,
    options: &Options,
    pool: &rayon::ThreadPool,
    mut data: LocalData<'_>,
    (given, callers_progress): (Option<&Factors>, Progress<'_>),
) -> Result<Outcome> {
    comm.set_phase(Phase::Setup);
    // The layout agrees on a given start's digest; a warm one is this
    // rank's own rows of U (`warm`).
    let whole = given.filter(|_| options.init == InitChoice::Given);
    let layout = exchange_layout(comm, &block, k, (options, whole), &data)?;
    agree_missing(comm, &mut data)?;
    let held = match options.folds()? {
        Some(folds) => Some(held_out::hold_out(comm, &mut data, folds, block.offset)?),
        None => None,
    };
    // From here on the solvers' units, as in `driver::fit`.
    let scale = agree_scale(comm, &mut data)?;
    let options = &in_solvers_units(options, scale);
    let mut report = |i: usize, f: f64| callers_progress(i, scale.objective_out(f));
    let progress: Progress<'_> = &mut report;
    let pins = agreed_pins(comm, &data, options)?;
    let reduced = reduced::reduces(comm.size, (block.n_rows, k), options, &data);
    let columns = exchange_columns(comm, &layout, &block, &data, reduced)?;
    let rows_problem = data.problem();
    let cols_problem = columns_problem(&columns, &rows_problem, &data);
    let offset = block.offset;
    let problems = (&rows_problem, cols_problem.as_ref(), reduced);
    let start = first_factors(
        comm,
        (&layout, &block, k),
        options,
        (given, pins, scale),
        (problems, pool),
    )?;
    let problems = (&rows_problem, cols_problem, reduced);
    let weight_sums = gathered_weight_sums(comm, &layout, problems, options)?;
    let (whole_entries, sparse_sketch_costs) =
        whole_costs(comm, (&rows_problem, cols_problem.as_ref()), k, options)?;
    let mut sides = DistributedSides {
        comm,
        layout,
        data: &data,
        rows_problem,
        cols_problem,
        reduced,
        offset,
        rank: k,
        pins,
        options,
        pool,
        rows_solver: crate::solver::for_options(options, &rows_problem),
        cols_solver: cols_problem.map(|p| crate::solver::for_options(options, &p)),
        weight_sums,
        progress,
        failure: None,
        inner_iterations: Vec::new(),
        narrow_half_steps: 0,
        shift: None,
        whole_entries,
        sparse_sketch_costs,
        last_kind: SolverKind::Exact,
        half_steps: Default::default(),
    };
    let method = distributed_method(options);
    let first = sides.run_start(method, start, options)?;
    let mut run = restarts(&mut sides, method, first, (block.n_rows, block.n_cols, k))?;
    sides.zero_unobserved(&mut run, options.max_iterations > 0)?;
    let layout = sides.layout;
    finish(
        comm,
        (&layout, &block, k),
        options,
        (&data, held.as_ref()),
        run,
    )
}

/// The outer method: VarPro's dense Gauss-Newton system does not
/// distribute, so AUTO and VARPRO run accelerated alternation (and
/// `WLRA_INFO_METHOD_USED` says so).
fn distributed_method(options: &Options) -> Method {
    match options.method {
        MethodChoice::Alternating => Method::Alternating,
        _ => Method::Accelerated,
    }
}

/// Random restarts as `wlra_fit` runs them (`outer::restarts`): each
/// from the seeded random start of the whole n x m problem (the same on
/// every rank), run over these sides; every rank keeps the same best fit,
/// since the objectives the rule compares are the agreed ones.
fn restarts(
    sides: &mut DistributedSides<'_, '_>,
    method: Method,
    first: FitOutcome,
    (n, m, k): (usize, usize, usize),
) -> Result<FitOutcome> {
    let options = sides.options;
    let plan = restart_plan(options, method);
    if plan.restarts == 0 {
        return Ok(first);
    }
    let width = k + options.offsets.count();
    let zero = Factors {
        u: try_zeros(n, width, "zero factors")?,
        v: try_zeros(m, width, "zero factors")?,
    };
    let zero_objective = sides.objective(&zero)?;
    let pins = sides.pins;
    let mut run_start = |budget: &Options, r: usize, shift: Shift, kind: Start<'_>| {
        let seed = restart_seed(options.seed, r);
        // A hop moves the best fit, which every rank holds whole and alike.
        let start = match kind {
            Start::Random => {
                random_factors(n, m, k, seed).and_then(|f| options.offsets.augment(f, k, pins))
            }
            Start::Hop { from, size } => hop_start(from, k, size, seed),
        };
        let start = agreed(sides.comm, start)?;
        sides.shift = Some(shift);
        sides.run_start(method, start, budget)
    };
    let best = restart_loop(options, plan, zero_objective, first, &mut run_start);
    sides.shift = None;
    best
}

/// The pattern's entries over every rank (sparse input; 0 for dense,
/// whose cost model reads row lengths only), and under AUTO the predicted
/// cost of a sparse SKETCH half-step on each side over every rank's rows
/// (exact sums, `auto::sparse_sketch_cost`; infinite where SKETCH does not
/// apply): one allgatherv of three doubles per rank.
fn whole_costs(
    comm: &mut Comm<'_>,
    (rows, cols): (&Problem<'_>, Option<&Problem<'_>>),
    k: usize,
    options: &Options,
) -> Result<(usize, [f64; 2])> {
    // The half-steps' fixed factor carries the offsets' columns too.
    let width = k + options.offsets.count();
    let sketch_cost = |side: Option<&Problem<'_>>| match side {
        Some(Problem::Sparse(view)) if options.solver == SolverChoice::Auto => {
            sparse_sketch_cost(view, width, options.sketch_size_factor)
        }
        _ => 0.0,
    };
    let entries = match rows {
        Problem::Sparse(view) => view.nnz() as f64,
        Problem::Dense(_) => 0.0,
    };
    let local = [entries, sketch_cost(Some(rows)), sketch_cost(cols)];
    comm.set_phase(Phase::Setup);
    let all = comm.allgatherv(&local, &vec![3; comm.size])?;
    let sum = |i: usize| all.chunks_exact(3).map(|part| part[i]).sum::<f64>();
    Ok((sum(0) as usize, [sum(1), sum(2)]))
}

/// The column block as the solvers read it: the single-process fit's own
/// transposed view on one rank (no copy), else the received block, read
/// as the rows are (NaN as missing, the agreed scale).
fn columns_problem<'c>(
    columns: &'c ColumnBlock,
    rows: &Problem<'c>,
    data: &LocalData<'_>,
) -> Option<Problem<'c>> {
    match columns {
        ColumnBlock::Local => Some(rows.transposed()),
        _ => columns.problem().map(|p| match (p, data) {
            (Problem::Dense(d), LocalData::Dense { missing, scale, .. }) => {
                Problem::Dense(d.with_missing_nan(*missing).with_scale(*scale))
            }
            (p, _) => p,
        }),
    }
}

/// The first factors, as `wlra_fit` starts: the given ones (whole on every
/// rank, their digest agreed with the layout), the last fit's (warm:
/// `warm::whole_warm_start`, else the SVD start), the SVD start or the
/// seeded random one; rank k with the offsets' columns pinned at `pins`.
fn first_factors(
    comm: &mut Comm<'_>,
    (layout, block, k): (&Layout, &RowBlock, usize),
    options: &Options,
    (given, pins, scale): (Option<&Factors>, Pins, Scale),
    (problems, pool): (
        (&Problem<'_>, Option<&Problem<'_>>, bool),
        &rayon::ThreadPool,
    ),
) -> Result<Factors> {
    let (n, m) = (block.n_rows, block.n_cols);
    let width = k + options.offsets.count();
    let warm = match options.init {
        InitChoice::Warm => warm::whole_warm_start(comm, layout, block, width, given)?,
        _ => None,
    };
    // Given and warm starts are the caller's: in the solvers' units as in
    // `driver::fit`.
    let solvers = |f: Factors| match scale.is_unit() {
        true => f,
        false => rescaled(&f, scale.factors_in()),
    };
    let start = match (options.init, given, warm) {
        (InitChoice::Given, Some(f), _) => copy_factors(f).map(solvers),
        // The last fit's factors carry its offsets: their pinned columns
        // go where this fit pins them, as in `wlra_fit`.
        (_, _, Some(f)) => {
            let mut f = solvers(f);
            options.offsets.repin(&mut f, k, pins);
            Ok(f)
        }
        (InitChoice::Svd | InitChoice::Warm, _, None) => {
            start::svd_factors(comm, layout, problems, (n, m, k, options.seed), pool)
        }
        _ => random_factors(n, m, k, options.seed),
    };
    // Rank-k factors get the offsets' columns, pinned as `wlra_fit` pins
    // them.
    let start = start.and_then(|f| match f.u.ncols() == width {
        true => Ok(f),
        false => options.offsets.augment(f, k, pins),
    });
    agreed(comm, start)
}

/// The scale (`crate::scaling`) from the largest weight and |M| where
/// W > 0 over every rank (one max; after the held-out fold is masked, as
/// `wlra_fit` scales the training problem): dense rows are read through
/// it, a CSR block (copied as given) is multiplied into it, so every
/// rank's rows and column block are in `wlra_fit`'s units.
fn agree_scale(comm: &mut Comm<'_>, data: &mut LocalData<'_>) -> Result<Scale> {
    let (weight, value) = data.largest_magnitudes();
    let mut largest = [weight, value];
    comm.set_phase(Phase::Setup);
    comm.max(&mut largest)?;
    let agreed = Scale::for_largest(largest[0], largest[1]);
    match data {
        LocalData::Dense { scale, .. } => *scale = agreed,
        LocalData::Sparse(p) => p.rescale(agreed),
    }
    Ok(agreed)
}

/// The options in the solvers' units: the ridge scaled as `driver::fit`
/// scales it.
fn in_solvers_units(options: &Options, scale: Scale) -> Options {
    if scale.is_unit() {
        return options.clone();
    }
    let ridge = match options.ridge_by_weight_sums {
        true => scale.weight_sum_ridge(options.ridge),
        false => scale.ridge(options.ridge),
    };
    Options {
        ridge,
        ..options.clone()
    }
}

/// WLRA_OPTION_MISSING_NAN on dense input: NaN in M is read as missing on
/// every rank where some rank holds one, as `wlra_fit` reads the whole
/// matrix (then only the exact solver runs). One allreduce.
fn agree_missing(comm: &mut Comm<'_>, data: &mut LocalData<'_>) -> Result<()> {
    let LocalData::Dense { missing, .. } = data else {
        return Ok(());
    };
    let mut any = [if *missing { 1.0 } else { 0.0 }];
    comm.set_phase(Phase::Setup);
    comm.max(&mut any)?;
    *missing = any[0] > 0.0;
    Ok(())
}

/// The offsets' pinned columns as `wlra_fit` sets them (`Scale::pins`):
/// U~'s ones at 2^e for the largest |M| of binary exponent e where W > 0,
/// over all ranks (one max). The Anderson extrapolation and the solver's
/// refinement see the columns' scale, so any other power of two, though
/// exact, would change the bits.
fn agreed_pins(comm: &mut Comm<'_>, data: &LocalData<'_>, options: &Options) -> Result<Pins> {
    if !options.offsets.any() {
        return Ok(Pins::ONES);
    }
    // In the agreed scale (`agree_scale`).
    let local = data.problem().scale();
    let mut cols = [local.pins().cols];
    comm.set_phase(Phase::Setup);
    comm.max(&mut cols)?;
    Ok(Pins {
        rows: 1.0,
        cols: cols[0],
    })
}

/// Where each rank's columns' data comes from: its own rows (one rank),
/// nowhere (the V half-steps sum normal equations), or a column block
/// received once; recorded for `wlra_distributed_exchange`.
fn exchange_columns(
    comm: &mut Comm<'_>,
    layout: &Layout,
    block: &RowBlock,
    data: &LocalData<'_>,
    reduced: bool,
) -> Result<ColumnBlock> {
    crate::distributed::record_exchange(match (comm.size, reduced) {
        (1, _) => Exchange::None,
        (_, true) => Exchange::NormalEquations,
        (_, false) => Exchange::ColumnBlocks,
    });
    Ok(match data {
        _ if comm.size == 1 => ColumnBlock::Local,
        _ if reduced => ColumnBlock::None,
        LocalData::Dense { m, row_major, .. } => {
            comm.set_phase(Phase::Redistribution);
            let columns = redistribute_dense(comm, layout, *m, data.weights(), *row_major);
            agreed(comm, columns)?
        }
        LocalData::Sparse(p) => {
            comm.set_phase(Phase::Redistribution);
            let columns = redistribute_sparse(comm, layout, &p.view(), block.offset, block.n_rows);
            agreed(comm, columns)?
        }
    })
}

/// `wlra_fit`'s gauge of the offsets on the whole factors, the factors
/// and objective in the caller's units (`driver::fit`'s), the held-out
/// error, and this rank's rows of U.
fn finish(
    comm: &mut Comm<'_>,
    (layout, block, k): (&Layout, &RowBlock, usize),
    options: &Options,
    (data, held): (&LocalData<'_>, Option<&held_out::HeldOut>),
    run: FitOutcome,
) -> Result<Outcome> {
    // On whole factors, the same on every rank.
    let mut run = in_callers_gauge_and_units(run, options, k, data.problem().scale())?;
    let (u, offset) = (&run.factors.u, block.offset);
    let held_out = match held {
        Some(held) => {
            let (u_local, v) = (u.subrows(offset, block.n_local), run.factors.v.as_ref());
            let place = (offset, u_local, v);
            Some(held_out::held_out_error(comm, layout, data, held, place)?)
        }
        None => None,
    };
    let whole = (u.subcols(0, k), run.factors.v.subcols(0, k));
    let rank_deficiency = agreed(comm, rank_deficiency(whole.0, whole.1))?;
    let local_u = try_from_fn(
        block.n_local,
        u.ncols(),
        |i, d| u[(offset + i, d)],
        "the local factor rows",
    )?;
    run.factors.u = local_u;
    Ok(Outcome {
        fit: run,
        held_out,
        n_rows: block.n_rows,
        row_offset: offset,
        rank_deficiency,
    })
}
