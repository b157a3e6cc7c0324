//! The implicit-feedback problem of benches/implicit (issue 7) without
//! Python, for profiling: 20,000 users x 8,000 items, 1,000,000 events with
//! Zipf item popularity summed into counts, W = 1 + 10 count on the pattern,
//! M = 1 there, W = 1 and M = 0 elsewhere, k = 64, 2 threads. (The same
//! construction as compare.py, another random stream: 801,359 entries.)
//!
//!     cargo bench --bench implicit_profile                  # AUTO, 10 iterations
//!     cargo bench --bench implicit_profile -- 5=1 12=1.5    # WLRA_OPTION_n = value
//!     cargo bench --bench implicit_profile -- kernels       # one pass of the CG kernels
//!     cargo bench --bench implicit_profile -- movielens ... # 138,000 x 27,000, 28.1M events
//!
//! A fit prints each iteration's time and objective. `kernels` times one
//! pass of the gathered-row kernels over every entry, per side: on one
//! thread over the real pattern, on one thread with the gathered rows all
//! in L1 (what the arithmetic alone costs), and on 2 threads.

use rayon::prelude::*;
use std::time::Instant;
use wlra::internals::{add_projections, add_row_sums, RowSums};
use wlra::problem::sparse::{CsrInput, SparseProblem, SparseView};
use wlra::vocabulary::WLRA_INFO_INNER_ITERATIONS;
use wlra::vocabulary::*;
use wlra::Model;
#[path = "common/machine.rs"]
mod machine;

/// Users, items and events: issue 7's problem, and MovieLens 20M's shape
/// (`movielens`: about 20M distinct entries, as benches/implicit makes it).
const SMALL: Size = Size(20_000, 8_000, 1_000_000);
const MOVIELENS: Size = Size(138_000, 27_000, 28_147_864);
const ALPHA: f64 = 10.0;
const RANK: usize = 64;

#[derive(Clone, Copy)]
struct Size(usize, usize, usize);

struct XorShift(u64);

impl XorShift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// (row_ptr, col_idx, values, weights) of the counts' pattern.
fn problem(Size(users, items, events): Size) -> (Vec<i64>, Vec<i64>, Vec<f64>, Vec<f64>) {
    let mut rng = XorShift(0x9E3779B97F4A7C15);
    let cumulative: Vec<f64> = (1..=items)
        .scan(0.0, |s, r| {
            *s += 1.0 / r as f64;
            Some(*s)
        })
        .collect();
    let total = cumulative[items - 1];
    let mut per_user = vec![Vec::new(); users];
    for _ in 0..events {
        let user = ((rng.uniform() * users as f64) as usize).min(users - 1);
        let x = rng.uniform() * total;
        per_user[user].push(cumulative.partition_point(|c| *c < x).min(items - 1));
    }
    let (mut ptr, mut idx, mut m, mut w) = (vec![0i64], Vec::new(), Vec::new(), Vec::new());
    for items in per_user.iter_mut() {
        items.sort_unstable();
        let mut p = 0;
        while p < items.len() {
            let q = p + items[p..].partition_point(|j| *j == items[p]);
            idx.push(items[p] as i64);
            m.push(1.0);
            w.push(1.0 + ALPHA * (q - p) as f64);
            p = q;
        }
        ptr.push(idx.len() as i64);
    }
    (ptr, idx, m, w)
}

fn main() {
    println!("{}", machine::describe());
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let size = match args.iter().any(|a| a == "movielens") {
        true => MOVIELENS,
        false => SMALL,
    };
    let (ptr, idx, m, w) = problem(size);
    let sparse = SparseProblem::new(&CsrInput {
        n_rows: size.0,
        n_cols: size.1,
        row_ptr: &ptr,
        col_idx: &idx,
        m_values: &m,
        w_values: Some(&w),
        m_default: 0.0,
        w_default: 1.0,
    })
    .unwrap();
    if args.iter().any(|a| a == "kernels") {
        for view in [sparse.view(), sparse.view().transposed()] {
            time_kernels(&view);
        }
        return;
    }
    let settings: Vec<(i32, f64)> = args
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(o, v)| (o.parse().unwrap(), v.parse().unwrap()))
        .collect();
    println!(
        "# {} x {}, {} entries, k {RANK}, options {settings:?}",
        size.0,
        size.1,
        idx.len()
    );
    let mut model = Model::new(RANK).unwrap();
    model.set_option(WLRA_OPTION_THREADS, 2.0).unwrap();
    model.set_option(WLRA_OPTION_TOLERANCE, 0.0).unwrap();
    model.set_option(WLRA_OPTION_MAX_ITERATIONS, 10.0).unwrap();
    for &(option, value) in &settings {
        model.set_option(option, value).unwrap();
    }
    let start = Instant::now();
    let mut last = 0.0;
    model.set_progress(Some(Box::new(move |iteration, objective| {
        let t = start.elapsed().as_secs_f64();
        println!(
            "{iteration:3} {t:7.3} s (+{:.3})  objective {objective:.6e}",
            t - last
        );
        last = t;
        true
    })));
    model.fit(sparse.view()).unwrap();
    println!(
        "inner iterations per row and half-step: {:.2}, objective {:.6e}, {} half-steps read float32 rows",
        model.info(WLRA_INFO_INNER_ITERATIONS).unwrap(),
        model.info(WLRA_INFO_OBJECTIVE).unwrap(),
        model.info(WLRA_INFO_NARROW_HALF_STEPS).unwrap()
    );
}

/// Seconds per pass of `kernel` over every row of `view` (best of 5).
fn best_pass(view: &SparseView<'_>, threads: usize, kernel: impl Fn(usize) + Sync) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let blocks = view.row_blocks().unwrap();
    (0..5)
        .map(|_| {
            let start = Instant::now();
            pool.install(|| {
                blocks
                    .par_iter()
                    .for_each(|rows| rows.clone().for_each(&kernel))
            });
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn time_kernels(view: &SparseView<'_>) {
    let mut rng = XorShift(12345);
    let y: Vec<f64> = (0..view.n_cols() * RANK)
        .map(|_| rng.uniform() - 0.5)
        .collect();
    let v: Vec<f64> = (0..RANK).map(|_| rng.uniform() - 0.5).collect();
    // The same entries with every column folded onto the first 64 rows of y
    // (32 KiB): the gathered rows stay in L1.
    let folded: Vec<Vec<usize>> = (0..view.n_rows())
        .map(|i| view.row(i).cols.iter().map(|j| j % 64).collect())
        .collect();
    let projections = |cols: &[usize], weights: &[f64]| {
        let mut out = [0.0; RANK];
        add_projections(&mut out, weights, cols, &y, &v);
        std::hint::black_box(out);
    };
    let row_sums = |cols: &[usize], weights: &[f64], values: &[f64]| {
        let (mut rhs, mut product) = ([0.0; RANK], [0.0; RANK]);
        let sums = RowSums {
            rhs: &mut rhs,
            product: &mut product,
        };
        add_row_sums(sums, weights, values, cols, &y, &v);
        std::hint::black_box((rhs, product));
    };
    let per_entry = |seconds: f64| seconds * 1e9 / view.nnz() as f64;
    for (name, threads, in_l1) in [
        ("1 thread", 1, false),
        ("1 thread, rows in L1", 1, true),
        ("2 threads", 2, false),
    ] {
        let cols = |i: usize| {
            if in_l1 {
                folded[i].as_slice()
            } else {
                view.row(i).cols
            }
        };
        let a = best_pass(view, threads, |i| projections(cols(i), view.row(i).weights));
        let b = best_pass(view, threads, |i| {
            let row = view.row(i);
            row_sums(cols(i), row.weights, row.values)
        });
        println!(
            "{} rows, {name:22}: projections {:6.2} ms ({:5.1} ns per entry), row sums {:6.2} ms ({:5.1} ns per entry)",
            view.n_rows(),
            a * 1e3,
            per_entry(a) * threads as f64,
            b * 1e3,
            per_entry(b) * threads as f64
        );
    }
}
