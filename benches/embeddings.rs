//! Which sketch should build the per-row preconditioner R (issue 4): the
//! library's SRHT at s = 4k, a smaller SRHT (s = 3k, 2k), a pruned SRHT that
//! computes only the s sampled outputs of the Hadamard transform, a sparse
//! sign embedding (zeta non-zeros per row of A), and a Gaussian reference.
//! Names: "SRHT" is the library's `srht_sketch`; "SRHT-cols" the same S with
//! the sign pass and the sample gather done by columns, full transform (to
//! separate that rewrite from the pruning); "pruned" the same S again, only
//! the sampled outputs computed; "sparse" scatters each column of A
//! (zeta n k scalar additions), "sparse-rows" first copies A to row-major
//! and adds whole rows (vectorized; the copy is timed), which pays for
//! zeta >= 4.
//!
//!     cargo bench --features experiments --bench embeddings                    # m = 4000, k = 16 32 64 128
//!     cargo bench --features experiments --bench embeddings -- 2000 32 64      # m, then the ranks
//!
//! Knob (environment): WLRA_BENCH_DRAWS (default 9) random embeddings per
//! (family, k, embedding); medians are over them. CSV: target/bench/embeddings.csv.
//!
//! For one row's regression min ||A x - b||, A = D_sqrt(w) Y over the row's
//! non-zero weights and b = sqrt(w) o m_row, in two weight families (uniform
//! in [0.1, 1]; heteroscedastic as in tests/sketch.rs: Y's columns scaled
//! 1..1e-4, weights 10^U(-3, 3), half of them zero, cond(A) >= 1e4), each
//! embedding S gives R from the QR of S A. Per embedding: the transform's
//! operation count, the time to sketch and to factor (build), cond(A R^-1),
//! the preconditioned CGLS iterations from x = 0 until
//! ||A^T r|| <= 1e-10 ||A^T b|| (the same criterion for every R, so the
//! solutions are equally accurate; `err` is the worst relative error
//! against a Householder least-squares solve), and two per-row totals:
//!   gemv total = build + this row's CGLS, measured (matrix-vector speed);
//!   lib total  = build + iterations x the library's block CGLS cost per
//!                row-iteration, measured on a 128-row block (GEMM speed,
//!                how SKETCH actually iterates).
//! The baseline is the exact solve measured in the same run: the library's
//! ExactSolver on the same 128-row block (per row), and a single-row Gram
//! (GEMM) + Cholesky + solve. Ratios: SRHT(s = 4k) / this and exact / this,
//! both on lib totals. Everything runs on one thread.
//!
//! At startup the pruned transform is checked against the library's
//! `srht_sketch` (same signs, same sample): equal to 1e-12.

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::prelude::SolveLstsq;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand_xoshiro::rand_core::RngCore;
use rand_xoshiro::Xoshiro256PlusPlus;
use std::io::Write;
use std::time::Instant;
use wlra::internals::ExactSolver;
use wlra::internals::RFactorWorkspace;
use wlra::internals::SpdSolver;
use wlra::internals::{below, fill_gaussian, sign, stream, Purpose};
use wlra::internals::{sketch_rows, srht_sketch};
use wlra::internals::{solve_block, BlockData, CglsWorkspace, Multiplier, Preconditioners};
use wlra::internals::{HalfStep, HalfStepSolver};
use wlra::DenseProblem;
#[path = "common/machine.rs"]
mod machine;

const SEED: u64 = 4;
/// Relative normal-equations residual at which CGLS stops.
const TOLERANCE: f64 = 1e-10;
const MAX_CGLS_ITERATIONS: usize = 1000;
/// Rows per block in the library's solvers (products::ROW_BLOCK).
const BLOCK_ROWS: usize = 128;
/// Timed repetitions of each draw's build (the fastest counts).
const BUILD_REPS: usize = 3;

// ---------------------------------------------------------------- problems

struct Xorshift(u64);

impl Xorshift {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Family {
    Uniform,
    Heteroscedastic,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::Uniform => "uniform",
            Family::Heteroscedastic => "heteroscedastic",
        }
    }
}

/// A 128-row block of one half-step: Y (m x k), weights and data
/// (BLOCK_ROWS x m). Row 0 is the row whose regression every embedding sees.
struct RowBlock {
    y: Mat<f64>,
    weights: Mat<f64>,
    data: Mat<f64>,
}

fn row_block(family: Family, m: usize, k: usize) -> RowBlock {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15 ^ (m * 31 + k) as u64);
    let mut y = Mat::from_fn(m, k, |_, _| rng.normal());
    let weights = match family {
        Family::Uniform => Mat::from_fn(BLOCK_ROWS, m, |_, _| 0.1 + 0.9 * rng.uniform()),
        Family::Heteroscedastic => {
            // As tests/sketch.rs: column scales 1..1e-4, weights 1e-3..1e3,
            // every other weight zero.
            for d in 0..k {
                let scale = 10f64.powf(-4.0 * d as f64 / (k - 1).max(1) as f64);
                for j in 0..m {
                    y[(j, d)] *= scale;
                }
            }
            Mat::from_fn(BLOCK_ROWS, m, |_, j| {
                if j % 2 == 0 {
                    0.0
                } else {
                    10f64.powf(-3.0 + 6.0 * rng.uniform())
                }
            })
        }
    };
    let data = Mat::from_fn(BLOCK_ROWS, m, |_, _| rng.normal());
    RowBlock { y, weights, data }
}

/// Row 0's weighted design over its non-zero weights, and right-hand side.
fn row_regression(block: &RowBlock) -> (Mat<f64>, Vec<f64>) {
    let m = block.y.nrows();
    let kept: Vec<usize> = (0..m).filter(|&j| block.weights[(0, j)] > 0.0).collect();
    let a = Mat::from_fn(kept.len(), block.y.ncols(), |i, d| {
        block.weights[(0, kept[i])].sqrt() * block.y[(kept[i], d)]
    });
    let b = kept
        .iter()
        .map(|&j| block.weights[(0, j)].sqrt() * block.data[(0, j)])
        .collect();
    (a, b)
}

// -------------------------------------------------------------- embeddings

#[derive(Clone, Copy)]
enum Embedding {
    /// The library's `srht_sketch`.
    Srht,
    /// The same S, sign pass and sample gather by columns, full transform
    /// (separates the pruning from the rest of the rewrite).
    SrhtByColumns,
    /// The same S, only the s sampled outputs of the transform computed.
    PrunedSrht,
    /// Clarkson-Woodruff / OSNAP: every row of A lands in `zeta` rows of
    /// S A (one in each of zeta slabs of s / zeta rows), sign / sqrt(zeta).
    SparseSign { zeta: usize },
    /// The same S, applied by rows of a row-major copy of A.
    SparseSignByRows { zeta: usize },
    /// Dense N(0, 1/s) entries: the reference for quality, not for speed.
    Gaussian,
}

#[derive(Clone, Copy)]
struct Candidate {
    embedding: Embedding,
    /// s = factor k
    factor: f64,
}

impl Candidate {
    fn name(&self) -> String {
        let s = format!("{}k", self.factor);
        match self.embedding {
            Embedding::Srht => format!("SRHT s={s}"),
            Embedding::SrhtByColumns => format!("SRHT-cols s={s}"),
            Embedding::PrunedSrht => format!("pruned s={s}"),
            Embedding::SparseSign { zeta } => format!("sparse z={zeta} s={s}"),
            Embedding::SparseSignByRows { zeta } => format!("sparse-rows z={zeta} s={s}"),
            Embedding::Gaussian => format!("Gaussian s={s}"),
        }
    }

    /// Operations of S A for an n x k design (additions, or multiply-adds
    /// for the sparse and Gaussian embeddings: a flop pair each counted 2).
    fn operations(&self, n: usize, k: usize) -> f64 {
        let (p, s) = (n.next_power_of_two(), sketch_rows(self.factor, k));
        let (n, k, p, s) = (n as f64, k as f64, p as f64, s as f64);
        match self.embedding {
            Embedding::Srht | Embedding::SrhtByColumns => k * p * p.log2(),
            Embedding::PrunedSrht => {
                let block = pruned_block(p as usize, s as usize) as f64;
                k * (p * (p / block).log2() + 2.0 * s * block)
            }
            Embedding::SparseSign { zeta } | Embedding::SparseSignByRows { zeta } => {
                k * n * zeta as f64
            }
            Embedding::Gaussian => 2.0 * s * n * k,
        }
    }
}

fn candidates() -> Vec<Candidate> {
    use Embedding::*;
    let c = |embedding, factor| Candidate { embedding, factor };
    let sparse = |zeta, factor| c(SparseSign { zeta }, factor);
    let sparse_rows = |zeta, factor| c(SparseSignByRows { zeta }, factor);
    vec![
        c(Srht, 4.0),
        c(Srht, 3.0),
        c(Srht, 2.0),
        c(SrhtByColumns, 4.0),
        c(PrunedSrht, 4.0),
        c(PrunedSrht, 3.0),
        c(PrunedSrht, 2.0),
        sparse_rows(8, 4.0),
        sparse_rows(4, 4.0),
        sparse(2, 4.0),
        sparse_rows(4, 2.0),
        sparse(2, 2.0),
        c(Gaussian, 2.0),
    ]
}

/// Leaf size B of the pruned transform for s outputs of a p-point one:
/// p log2(p / B) butterflies plus s B for the outputs, B = p / next_pow2(s).
fn pruned_block(p: usize, s: usize) -> usize {
    (p / s.next_power_of_two()).max(1)
}

/// Scratch for the subsampled Hadamard sketches.
struct HadamardScratch {
    padded: Mat<f64>,
    signs: Vec<f64>,
    order: Vec<usize>,
    /// H_B row-major, B = `table_size`.
    table: Vec<f64>,
    table_size: usize,
}

impl HadamardScratch {
    fn new(p: usize, k: usize) -> Self {
        HadamardScratch {
            padded: Mat::zeros(p, k),
            signs: Vec::new(),
            order: Vec::new(),
            table: Vec::new(),
            table_size: 0,
        }
    }
}

/// Butterfly levels h = first, 2 first, ..., len / 2 of the unnormalized
/// Walsh-Hadamard transform (`fwht` runs them all from h = 1). The levels
/// commute: each acts on one bit of the index.
fn butterflies_from(x: &mut [f64], first: usize) {
    let mut h = first;
    while h < x.len() {
        for block in x.chunks_exact_mut(2 * h) {
            let (lo, hi) = block.split_at_mut(h);
            for (a, b) in lo.iter_mut().zip(hi.iter_mut()) {
                let (s, d) = (*a + *b, *a - *b);
                *a = s;
                *b = d;
            }
        }
        h *= 2;
    }
}

/// S a for the SRHT of `srht_sketch` (the same draws from `rng`, so the same
/// S), computing only the sampled outputs. With index i = i_hi B + i_lo,
/// H_p = H_{p/B} (x) H_B: the levels h >= B run in full (p log2(p/B) per
/// column) and leave, for each i_hi, the B partial sums of that leaf; output
/// i is then the length-B signed sum H_B[i_lo, :] . leaf(i_hi). B = 1 is the
/// full transform and a gather.
fn subsampled_hadamard_sketch<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    block: usize,
    rng: &mut Xoshiro256PlusPlus,
    scratch: &mut HadamardScratch,
    out: &'w mut Mat<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    let p = rows.next_power_of_two();
    // The draws in `srht_sketch`'s order: one sign per row, then the sample.
    scratch.signs.clear();
    scratch.signs.extend((0..rows).map(|_| sign(rng)));
    let order = &mut scratch.order;
    order.clear();
    order.extend(0..p);
    for r in 0..s {
        let pick = r + below(rng, p - r);
        order.swap(r, pick);
    }
    if scratch.table_size != block {
        scratch.table = (0..block * block)
            .map(|e| {
                if ((e / block) & (e % block)).count_ones().is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        scratch.table_size = block;
    }
    let scale = 1.0 / (s as f64).sqrt();
    for d in 0..k {
        let column = scratch
            .padded
            .as_mut()
            .col_mut(d)
            .subrows_mut(0, p)
            .try_as_col_major_mut()
            .expect("contiguous columns")
            .as_slice_mut();
        let source = a.col(d);
        for ((x, sg), v) in column.iter_mut().zip(&scratch.signs).zip(source.iter()) {
            *x = sg * v;
        }
        column[rows..].fill(0.0);
        butterflies_from(column, block);
        let sketched = out
            .as_mut()
            .col_mut(d)
            .subrows_mut(0, s)
            .try_as_col_major_mut()
            .expect("contiguous columns")
            .as_slice_mut();
        for (y, &src) in sketched.iter_mut().zip(&order[..s]) {
            let (leaf, lo) = (src / block * block, src % block);
            let signs = &scratch.table[lo * block..(lo + 1) * block];
            let sum: f64 = signs
                .iter()
                .zip(&column[leaf..leaf + block])
                .map(|(h, x)| h * x)
                .sum();
            *y = scale * sum;
        }
    }
    out.as_ref().submatrix(0, 0, s, k)
}

/// For each of `rows` rows of A, its zeta target rows in S A (one in each
/// slab of s / zeta rows, so they are distinct), the sign in the top bit.
fn draw_sparse_signs(
    rows: usize,
    s: usize,
    zeta: usize,
    rng: &mut Xoshiro256PlusPlus,
    entries: &mut Vec<u32>,
) {
    let slab = (s / zeta) as u64;
    entries.clear();
    entries.extend((0..rows * zeta).map(|e| {
        let x = rng.next_u64();
        let target = (e % zeta) as u64 * slab + (((x & 0xFFFF_FFFF) * slab) >> 32);
        target as u32 | ((x >> 63) as u32) << 31
    }));
}

/// S a for a sparse sign embedding with `zeta` non-zeros per column of S.
/// `entries` holds, per row of a, its zeta target rows with the sign in the
/// top bit. Operations: zeta n k scattered additions.
fn sparse_sign_sketch<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    zeta: usize,
    rng: &mut Xoshiro256PlusPlus,
    entries: &mut Vec<u32>,
    out: &'w mut Mat<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    draw_sparse_signs(rows, s, zeta, rng, entries);
    let scale = 1.0 / (zeta as f64).sqrt();
    for d in 0..k {
        let sketched = out
            .as_mut()
            .col_mut(d)
            .subrows_mut(0, s)
            .try_as_col_major_mut()
            .expect("contiguous columns")
            .as_slice_mut();
        sketched.fill(0.0);
        let source = a.col(d);
        for (targets, v) in entries.chunks_exact(zeta).zip(source.iter()) {
            for &e in targets {
                let signed = f64::from_bits(v.to_bits() ^ u64::from(e >> 31) << 63);
                sketched[(e & 0x7FFF_FFFF) as usize] += signed;
            }
        }
        sketched.iter_mut().for_each(|y| *y *= scale);
    }
    out.as_ref().submatrix(0, 0, s, k)
}

/// The same S a as `sparse_sign_sketch` (the same draws), by rows: A is
/// copied to row-major (n k moves) so that each non-zero of S adds a
/// contiguous row of k entries to a row of S A (vectorized). The result is
/// a row-major s x k view of `out` (k x s, column-major).
fn sparse_sign_sketch_by_rows<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    zeta: usize,
    rng: &mut Xoshiro256PlusPlus,
    entries: &mut Vec<u32>,
    rows_of_a: &mut Vec<f64>,
    out: &'w mut Vec<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    draw_sparse_signs(rows, s, zeta, rng, entries);
    rows_of_a.resize(rows * k, 0.0);
    for d in 0..k {
        for (i, v) in a.col(d).iter().enumerate() {
            rows_of_a[i * k + d] = *v;
        }
    }
    out.clear();
    out.resize(s * k, 0.0);
    for (targets, source) in entries.chunks_exact(zeta).zip(rows_of_a.chunks_exact(k)) {
        for &e in targets {
            let t = (e & 0x7FFF_FFFF) as usize;
            let sketched = &mut out[t * k..(t + 1) * k];
            if e >> 31 == 0 {
                sketched.iter_mut().zip(source).for_each(|(y, v)| *y += v);
            } else {
                sketched.iter_mut().zip(source).for_each(|(y, v)| *y -= v);
            }
        }
    }
    let scale = 1.0 / (zeta as f64).sqrt();
    out.iter_mut().for_each(|y| *y *= scale);
    MatRef::from_column_major_slice(out, k, s).transpose()
}

/// S a for a dense Gaussian S (s x n, entries N(0, 1/s)): one GEMM.
fn gaussian_sketch<'w>(
    a: MatRef<'_, f64>,
    s: usize,
    rng: &mut Xoshiro256PlusPlus,
    dense: &mut Vec<f64>,
    out: &'w mut Mat<f64>,
) -> MatRef<'w, f64> {
    let (rows, k) = a.shape();
    dense.resize(s * rows, 0.0);
    fill_gaussian(rng, dense);
    let g = MatRef::from_column_major_slice(dense, s, rows);
    let scale = 1.0 / (s as f64).sqrt();
    let sketched = out.as_mut().submatrix_mut(0, 0, s, k);
    matmul(sketched, Accum::Replace, g, a, scale, Par::Seq);
    out.as_ref().submatrix(0, 0, s, k)
}

/// Per-embedding scratch for one design shape, allocated once.
struct Builder {
    hadamard: HadamardScratch,
    library_order: Vec<usize>,
    entries: Vec<u32>,
    rows_of_a: Vec<f64>,
    sketch_rows: Vec<f64>,
    dense: Vec<f64>,
    sketch: Mat<f64>,
    qr: RFactorWorkspace,
    /// The last R (upper triangular, zeros below).
    r: Mat<f64>,
}

impl Builder {
    fn new(rows: usize, k: usize, s: usize) -> Self {
        Builder {
            hadamard: HadamardScratch::new(rows.next_power_of_two(), k),
            library_order: Vec::new(),
            entries: Vec::new(),
            rows_of_a: Vec::new(),
            sketch_rows: Vec::new(),
            dense: Vec::new(),
            sketch: Mat::zeros(s, k),
            qr: RFactorWorkspace::new(s, k).unwrap(),
            r: Mat::zeros(k, k),
        }
    }

    /// R from the QR of S a into `self.r`; returns (sketch, QR) seconds.
    fn build(
        &mut self,
        candidate: &Candidate,
        a: MatRef<'_, f64>,
        rng: &mut Xoshiro256PlusPlus,
    ) -> (f64, f64) {
        let (rows, k) = a.shape();
        let s = sketch_rows(candidate.factor, k);
        let p = rows.next_power_of_two();
        let start = Instant::now();
        let sketch = match candidate.embedding {
            Embedding::Srht => srht_sketch(
                a,
                s,
                rng,
                &mut self.hadamard.padded,
                &mut self.library_order,
                &mut self.sketch,
            ),
            Embedding::SrhtByColumns => {
                subsampled_hadamard_sketch(a, s, 1, rng, &mut self.hadamard, &mut self.sketch)
            }
            Embedding::PrunedSrht => subsampled_hadamard_sketch(
                a,
                s,
                pruned_block(p, s),
                rng,
                &mut self.hadamard,
                &mut self.sketch,
            ),
            Embedding::SparseSign { zeta } => {
                sparse_sign_sketch(a, s, zeta, rng, &mut self.entries, &mut self.sketch)
            }
            Embedding::SparseSignByRows { zeta } => sparse_sign_sketch_by_rows(
                a,
                s,
                zeta,
                rng,
                &mut self.entries,
                &mut self.rows_of_a,
                &mut self.sketch_rows,
            ),
            Embedding::Gaussian => gaussian_sketch(a, s, rng, &mut self.dense, &mut self.sketch),
        };
        let sketched = start.elapsed().as_secs_f64();
        let r = self.qr.r_factor(sketch);
        for j in 0..k {
            for i in 0..k {
                self.r[(i, j)] = if i <= j { r[(i, j)] } else { 0.0 };
            }
        }
        (sketched, start.elapsed().as_secs_f64() - sketched)
    }
}

/// The pruned and by-columns transforms give the library's sketch (same
/// signs, same sample) to 1e-12 relative; returns the largest difference.
fn check_pruned_matches_library() -> f64 {
    let mut worst = 0.0f64;
    let mut gen = Xorshift(17);
    for (rows, k, s) in [
        (4000, 16, 64),
        (2000, 32, 96),
        (1000, 8, 65),
        (100, 4, 128),
        (3000, 64, 256),
        (777, 5, 17),
    ] {
        let a = Mat::from_fn(rows, k, |_, _| gen.normal());
        let p = rows.next_power_of_two();
        let mut padded = Mat::zeros(p, k);
        let (mut order, mut expected) = (Vec::new(), Mat::zeros(s, k));
        let mut rng = stream(SEED, Purpose::Sketch, rows as u64);
        let expected = srht_sketch(
            a.as_ref(),
            s,
            &mut rng,
            &mut padded,
            &mut order,
            &mut expected,
        )
        .to_owned();
        let size = expected.norm_max();
        for block in [pruned_block(p, s), 1, 2] {
            let mut scratch = HadamardScratch::new(p, k);
            let mut out = Mat::zeros(s, k);
            let mut rng = stream(SEED, Purpose::Sketch, rows as u64);
            let got =
                subsampled_hadamard_sketch(a.as_ref(), s, block, &mut rng, &mut scratch, &mut out);
            let diff = (got - &expected).norm_max() / size;
            assert!(
                diff <= 1e-12,
                "pruned SRHT differs from srht_sketch by {diff:e} (rows {rows}, k {k}, s {s}, B {block})"
            );
            worst = worst.max(diff);
        }
    }
    worst
}

// ------------------------------------------------------------------ solves

/// cond(A R^-1) = cond(R_A R^-1) for A = Q_A R_A: a k x k SVD.
fn preconditioned_condition(r_a: MatRef<'_, f64>, r: MatRef<'_, f64>) -> f64 {
    if (0..r.ncols()).any(|d| r[(d, d)] == 0.0) {
        return f64::INFINITY;
    }
    // X R = R_A  <=>  R^T X^T = R_A^T.
    let mut xt = r_a.transpose().to_owned();
    solve_lower_triangular_in_place(r.transpose(), xt.as_mut(), Par::Seq);
    let sv = xt.singular_values().expect("SVD of a k x k matrix");
    sv[0] / sv[sv.len() - 1]
}

fn column(v: &[f64]) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(v, v.len(), 1)
}

fn column_mut(v: &mut [f64]) -> MatMut<'_, f64> {
    let n = v.len();
    MatMut::from_column_major_slice_mut(v, n, 1)
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[derive(Default)]
struct CglsVectors {
    x: Vec<f64>,
    residual: Vec<f64>,
    gradient: Vec<f64>,
    preconditioned: Vec<f64>,
    direction: Vec<f64>,
    step: Vec<f64>,
    product: Vec<f64>,
}

/// CGLS on A R^-1 from x = 0 until ||A^T r|| <= tol ||A^T b||. Per
/// iteration: two matrix-vector products (4 n k flops), two triangular
/// solves (2 k^2). Returns the iterations; the solution is in `v.x`.
fn preconditioned_cgls(
    a: MatRef<'_, f64>,
    b: &[f64],
    r: MatRef<'_, f64>,
    tol: f64,
    v: &mut CglsVectors,
) -> usize {
    let (n, k) = a.shape();
    let zeros = |buffer: &mut Vec<f64>, len| {
        buffer.clear();
        buffer.resize(len, 0.0);
    };
    zeros(&mut v.x, k);
    zeros(&mut v.gradient, k);
    zeros(&mut v.step, k);
    zeros(&mut v.product, n);
    v.residual.clear();
    v.residual.extend_from_slice(b);
    let gradient = |v: &mut CglsVectors| {
        matmul(
            column_mut(&mut v.gradient),
            Accum::Replace,
            a.transpose(),
            column(&v.residual),
            1.0,
            Par::Seq,
        );
        v.preconditioned.clone_from(&v.gradient);
        solve_lower_triangular_in_place(r.transpose(), column_mut(&mut v.preconditioned), Par::Seq);
    };
    gradient(v);
    let reference = norm(&v.gradient);
    if reference == 0.0 {
        return 0;
    }
    v.direction.clone_from(&v.preconditioned);
    let mut gamma = norm(&v.preconditioned).powi(2);
    for iteration in 0..MAX_CGLS_ITERATIONS {
        if norm(&v.gradient) <= tol * reference {
            return iteration;
        }
        v.step.clone_from(&v.direction);
        solve_upper_triangular_in_place(r, column_mut(&mut v.step), Par::Seq);
        matmul(
            column_mut(&mut v.product),
            Accum::Replace,
            a,
            column(&v.step),
            1.0,
            Par::Seq,
        );
        let curvature = norm(&v.product).powi(2);
        if curvature == 0.0 || !curvature.is_finite() {
            return MAX_CGLS_ITERATIONS;
        }
        let alpha = gamma / curvature;
        v.x.iter_mut()
            .zip(&v.step)
            .for_each(|(x, t)| *x += alpha * t);
        v.residual
            .iter_mut()
            .zip(&v.product)
            .for_each(|(r, q)| *r -= alpha * q);
        gradient(v);
        let next = norm(&v.preconditioned).powi(2);
        let beta = next / gamma;
        v.direction
            .iter_mut()
            .zip(&v.preconditioned)
            .for_each(|(p, s)| *p = s + beta * *p);
        gamma = next;
    }
    MAX_CGLS_ITERATIONS
}

/// The exact single-row solve: G = A^T A (GEMM), Cholesky (the library's
/// SpdSolver, eigen fallback included), one refinement step when it asks.
fn exact_row(a: MatRef<'_, f64>, b: &[f64], spd: &mut SpdSolver, x: &mut [f64], r: &mut [f64]) {
    let k = a.ncols();
    matmul(
        spd.gram_mut(),
        Accum::Replace,
        a.transpose(),
        a,
        1.0,
        Par::Seq,
    );
    matmul(
        column_mut(x),
        Accum::Replace,
        a.transpose(),
        column(b),
        1.0,
        Par::Seq,
    );
    assert!(spd.factor(), "exact solve failed");
    spd.solve(x);
    if spd.needs_refinement() {
        r.copy_from_slice(b);
        matmul(column_mut(r), Accum::Add, a, column(x), -1.0, Par::Seq);
        let mut correction = vec![0.0; k];
        matmul(
            column_mut(&mut correction),
            Accum::Replace,
            a.transpose(),
            column(r),
            1.0,
            Par::Seq,
        );
        spd.solve(&mut correction);
        x.iter_mut().zip(&correction).for_each(|(x, c)| *x += c);
    }
}

fn relative_error(x: &[f64], reference: &[f64]) -> f64 {
    let diff: Vec<f64> = x.iter().zip(reference).map(|(a, b)| a - b).collect();
    norm(&diff) / norm(reference)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn seconds<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = std::hint::black_box(f());
    (start.elapsed().as_secs_f64(), out)
}

/// Seconds per row of the library's ExactSolver on the whole block.
fn library_exact_per_row(block: &RowBlock) -> f64 {
    let problem = DenseProblem::new(block.data.as_ref(), Some(block.weights.as_ref()));
    let step = HalfStep {
        problem: problem.into(),
        fixed: block.y.as_ref(),
        ridge: 0.0,
        ridge_scale: None,
        unpenalized: None,
        warm_start: None,
        fixed_orthonormal: false,
        par: faer::Par::rayon(0),
    };
    let times: Vec<f64> = (0..5)
        .map(|_| seconds(|| ExactSolver.solve(&step).unwrap()).0)
        .collect();
    median(times) / BLOCK_ROWS as f64
}

/// Seconds per row-iteration of the library's block CGLS (two GEMMs with
/// Y, the elementwise passes, the per-row triangular solves), from the
/// difference between a 2- and a 12-iteration run on the whole block.
fn library_cgls_per_row_iteration(block: &RowBlock) -> f64 {
    let (m, k) = block.y.shape();
    let weights: Vec<f64> = (0..BLOCK_ROWS)
        .flat_map(|i| (0..m).map(move |j| block.weights[(i, j)]))
        .collect();
    let data = BlockData {
        weights: &weights,
        values: block.data.as_ref(),
        values_multiplier: Multiplier::one(),
        fixed: block.y.as_ref(),
        ridge: 0.0,
    };
    // Triangular solves cost the same whatever R is; the identity keeps
    // every row iterating.
    let preconditioners = Preconditioners::PerRow(vec![Mat::identity(k, k); BLOCK_ROWS]);
    let mut ws = CglsWorkspace::new(BLOCK_ROWS, m, k).unwrap();
    let mut run = |iterations: usize| {
        let times_work: Vec<(f64, usize)> = (0..3)
            .map(|_| {
                let mut x = Mat::<f64>::zeros(BLOCK_ROWS, k);
                let mut active = vec![true; BLOCK_ROWS];
                seconds(|| {
                    solve_block(
                        &data,
                        &preconditioners,
                        &mut active,
                        x.as_mut(),
                        0.0,
                        iterations,
                        &mut ws,
                    )
                })
            })
            .collect();
        let work = times_work[0].1;
        let best = times_work.iter().map(|t| t.0).fold(f64::INFINITY, f64::min);
        (best, work)
    };
    let (short, short_work) = run(2);
    let (long, long_work) = run(12);
    (long - short) / (long_work - short_work).max(1) as f64
}

// ------------------------------------------------------------------ report

/// One row's regression and what every embedding is judged against.
struct Regression {
    a: Mat<f64>,
    b: Vec<f64>,
    /// R of the exact QR of A: cond(A R^-1) = cond(R_A R^-1).
    r_a: Mat<f64>,
    /// Householder least-squares solution.
    reference: Vec<f64>,
}

impl Regression {
    fn new(block: &RowBlock) -> Self {
        let (a, b) = row_regression(block);
        let (rows, k) = a.shape();
        let solution = a.qr().solve_lstsq(Mat::from_fn(rows, 1, |i, _| b[i]));
        let reference = (0..k).map(|d| solution[(d, 0)]).collect();
        let mut ws = RFactorWorkspace::new(rows, k).unwrap();
        let r = ws.r_factor(a.as_ref());
        // Below the diagonal is the QR's scratch.
        let r_a = Mat::from_fn(k, k, |i, j| if i <= j { r[(i, j)] } else { 0.0 });
        Regression {
            a,
            b,
            r_a,
            reference,
        }
    }
}

/// One random embedding's measurements (seconds).
struct Draw {
    embed: f64,
    qr: f64,
    cond: f64,
    iterations: f64,
    cgls: f64,
    error: f64,
}

/// A table line: medians over the draws (milliseconds), worst cond and error.
struct Line {
    name: String,
    s: usize,
    mops: f64,
    embed_ms: f64,
    qr_ms: f64,
    build_ms: f64,
    cond_median: f64,
    cond_max: f64,
    iterations: f64,
    cgls_ms: f64,
    gemv_total_ms: f64,
    lib_total_ms: f64,
    error: f64,
}

/// `draws` random embeddings of one kind; `per_iteration` is the library's
/// block-CGLS seconds per row-iteration.
fn measure(candidate: &Candidate, problem: &Regression, draws: usize, per_iteration: f64) -> Line {
    let a = problem.a.as_ref();
    let (rows, k) = a.shape();
    let s = sketch_rows(candidate.factor, k);
    let mut builder = Builder::new(rows, k, s);
    let mut cgls = CglsVectors::default();
    // Warm the caches and the scratch once.
    builder.build(candidate, a, &mut stream(SEED, Purpose::Sketch, u64::MAX));
    let samples: Vec<Draw> = (0..draws as u64)
        .map(|draw| {
            let (mut embed, mut qr) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..BUILD_REPS {
                let mut rng = stream(SEED, Purpose::Sketch, draw);
                let (e, q) = builder.build(candidate, a, &mut rng);
                if e + q < embed + qr {
                    (embed, qr) = (e, q);
                }
            }
            let r = builder.r.as_ref();
            let (cgls_time, iterations) =
                seconds(|| preconditioned_cgls(a, &problem.b, r, TOLERANCE, &mut cgls));
            Draw {
                embed,
                qr,
                cond: preconditioned_condition(problem.r_a.as_ref(), r),
                iterations: iterations as f64,
                cgls: cgls_time,
                error: relative_error(&cgls.x, &problem.reference),
            }
        })
        .collect();
    let ms = |f: &dyn Fn(&Draw) -> f64| median(samples.iter().map(f).collect()) * 1e3;
    let worst = |f: fn(&Draw) -> f64| samples.iter().map(f).fold(0.0, f64::max);
    Line {
        name: candidate.name(),
        s,
        mops: candidate.operations(rows, k) / 1e6,
        embed_ms: ms(&|d| d.embed),
        qr_ms: ms(&|d| d.qr),
        build_ms: ms(&|d| d.embed + d.qr),
        cond_median: median(samples.iter().map(|d| d.cond).collect()),
        cond_max: worst(|d| d.cond),
        iterations: median(samples.iter().map(|d| d.iterations).collect()),
        cgls_ms: ms(&|d| d.cgls),
        gemv_total_ms: ms(&|d| d.embed + d.qr + d.cgls),
        lib_total_ms: ms(&|d| d.embed + d.qr + d.iterations * per_iteration),
        error: worst(|d| d.error),
    }
}

const CSV_HEADER: &str = "family,m,k,rows,p,embedding,s,ops,embed_ms,qr_ms,build_ms,cond_median,cond_max,iterations_median,cgls_gemv_ms,total_gemv_ms,total_lib_ms,max_error,srht4k_over_this,exact_over_this";

fn print_header() {
    println!(
        "{:<22} {:>4} {:>7} {:>8} {:>6} {:>6} {:>8} {:>6} {:>7} {:>5} {:>7} {:>8} {:>7} {:>7} {:>8} {:>7}",
        "embedding", "s", "ops M", "embed ms", "Gop/s", "QR ms", "build ms", "cond", "condmax",
        "iters", "cgls ms", "gemv tot", "lib tot", "err", "SRHT4k/x", "exact/x"
    );
}

/// Prints a line and writes it to the CSV; `srht_ms` and `exact_ms` are
/// the lib totals of SRHT at s = 4k and of the library's exact solve.
fn report(line: &Line, srht_ms: f64, exact_ms: f64, csv_prefix: &str, csv: &mut impl Write) {
    let dash = |v: f64, text: String| if v.is_nan() { "-".to_string() } else { text };
    let l = line;
    println!(
        "{:<22} {:>4} {:>7.2} {:>8.3} {:>6.2} {:>6} {:>8.3} {:>6} {:>7} {:>5} {:>7} {:>8} {:>7.3} {:>7} {:>8.2} {:>7.2}",
        l.name,
        if l.s == 0 { "-".to_string() } else { l.s.to_string() },
        l.mops,
        l.embed_ms,
        l.mops / l.embed_ms,
        dash(l.qr_ms, format!("{:.3}", l.qr_ms)),
        l.build_ms,
        dash(l.cond_median, format!("{:.2}", l.cond_median)),
        dash(
            l.cond_max,
            if l.cond_max < 1e3 { format!("{:.2}", l.cond_max) } else { format!("{:.1e}", l.cond_max) }
        ),
        dash(l.iterations, format!("{:.0}", l.iterations)),
        dash(l.cgls_ms, format!("{:.3}", l.cgls_ms)),
        dash(l.gemv_total_ms, format!("{:.3}", l.gemv_total_ms)),
        l.lib_total_ms,
        dash(l.error, format!("{:.1e}", l.error)),
        srht_ms / l.lib_total_ms,
        exact_ms / l.lib_total_ms,
    );
    writeln!(
        csv,
        "{csv_prefix},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        l.name,
        l.s,
        l.mops * 1e6,
        l.embed_ms,
        l.qr_ms,
        l.build_ms,
        l.cond_median,
        l.cond_max,
        l.iterations,
        l.cgls_ms,
        l.gemv_total_ms,
        l.lib_total_ms,
        l.error,
        srht_ms / l.lib_total_ms,
        exact_ms / l.lib_total_ms
    )
    .unwrap();
}

/// A baseline's line: only its time, operation count and error.
fn baseline(name: &str, mflop: f64, ms: f64, error: f64) -> Line {
    Line {
        name: name.to_string(),
        s: 0,
        mops: mflop,
        embed_ms: ms,
        qr_ms: f64::NAN,
        build_ms: ms,
        cond_median: f64::NAN,
        cond_max: f64::NAN,
        iterations: f64::NAN,
        cgls_ms: f64::NAN,
        gemv_total_ms: f64::NAN,
        lib_total_ms: ms,
        error,
    }
}

fn main() {
    println!("{}", machine::describe());
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let m = args.first().copied().unwrap_or(4000);
    let ranks: Vec<usize> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        vec![16, 32, 64, 128]
    };
    let draws: usize = std::env::var("WLRA_BENCH_DRAWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9)
        .max(1);
    let rank_list: Vec<String> = ranks.iter().map(|k| k.to_string()).collect();
    println!(
        "# cargo bench --features experiments --bench embeddings -- {m} {}   (WLRA_BENCH_DRAWS={draws}, one thread)",
        rank_list.join(" ")
    );
    let worst = check_pruned_matches_library();
    println!(
        "# pruned SRHT == library srht_sketch (same signs, same sample): max relative difference {worst:.1e} over 6 shapes x 3 leaf sizes"
    );
    println!("# medians over {draws} draws; ops = operations of S A (model, M; exact: Gram flops); cond = cond(A R^-1), median and worst;");
    println!("# iters = CGLS from 0 to ||A^T r|| <= 1e-10 ||A^T b||; err = worst relative error against Householder least squares;");
    println!("# gemv tot = build + this row's CGLS (measured, matrix-vector); lib tot = build + iters x the library's block-CGLS cost per row-iteration;");
    println!("# ratios on lib tot: SRHT4k/x = SRHT(s = 4k) / this, exact/x = the library's exact solve (per row of a 128-row block) / this");
    let csv_path = "target/bench/embeddings.csv";
    std::fs::create_dir_all("target/bench").unwrap();
    let mut csv = std::fs::File::create(csv_path).unwrap();
    writeln!(csv, "{CSV_HEADER}").unwrap();

    // The library's solvers use rayon; one thread, like the per-row work.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| {
        for family in [Family::Uniform, Family::Heteroscedastic] {
            for &k in &ranks {
                let block = row_block(family, m, k);
                let problem = Regression::new(&block);
                let (a, b) = (problem.a.as_ref(), &problem.b);
                let rows = a.nrows();
                let p = rows.next_power_of_two();
                let identity = Mat::<f64>::identity(k, k);
                let cond_a = preconditioned_condition(problem.r_a.as_ref(), identity.as_ref());
                let per_iteration = library_cgls_per_row_iteration(&block);
                let exact_ms = library_exact_per_row(&block) * 1e3;
                let mut spd = SpdSolver::new(k).unwrap();
                let (mut x, mut r) = (vec![0.0; k], vec![0.0; rows]);
                let row_exact_ms = median(
                    (0..draws * BUILD_REPS)
                        .map(|_| seconds(|| exact_row(a, b, &mut spd, &mut x, &mut r)).0)
                        .collect(),
                ) * 1e3;
                let row_exact_error = relative_error(&x, &problem.reference);

                println!(
                    "\n## {}, m = {m}, k = {k}: {rows} non-zero weights (p = {p}), cond(A) = {cond_a:.1e}; library block CGLS {:.4} ms per row-iteration",
                    family.name(),
                    per_iteration * 1e3
                );
                print_header();
                let lines: Vec<Line> = candidates()
                    .iter()
                    .filter(|c| sketch_rows(c.factor, k) <= p)
                    .map(|c| measure(c, &problem, draws, per_iteration))
                    .collect();
                let srht_ms = lines[0].lib_total_ms;
                let prefix = format!("{},{m},{k},{rows},{p}", family.name());
                for line in &lines {
                    report(line, srht_ms, exact_ms, &prefix, &mut csv);
                }
                let gram_mflop = 2.0 * (rows * k * k) as f64 / 1e6;
                let single = baseline("exact (1 row, Gram)", gram_mflop, row_exact_ms, row_exact_error);
                report(&single, srht_ms, exact_ms, &prefix, &mut csv);
                let lib_mflop = (m * k * (k + 1)) as f64 / 1e6;
                let library = baseline("exact (library block)", lib_mflop, exact_ms, f64::NAN);
                report(&library, srht_ms, exact_ms, &prefix, &mut csv);
            }
        }
    });
    println!("\n# CSV: {csv_path}");
}
