//! Starting factors: the top-k singular subspace of W o M by a randomized
//! range finder (no full SVD, no n x m temporary), or seeded Gaussians.

use crate::error::Result;
use crate::kernels::orthonormal::orthonormal_basis;
use crate::memory::{checked_len, try_buffer, try_collect, try_filled, try_from_fn, try_zeros};
use crate::problem::Problem;
use crate::rng::{fill_gaussian, stream, Purpose};
use faer::dyn_stack::MemStack;
use faer::linalg::matmul::matmul;
use faer::linalg::svd::{self, ComputeSvdVectors};
use faer::{Accum, Mat, Par};

/// Extra columns beyond k in the range finder: the usual margin that makes
/// the captured subspace accurate with high probability.
const OVERSAMPLING: usize = 10;
/// Subspace (power) iterations at most: each sharpens the subspace by the
/// ratio of singular values l+1 and k.
const POWER_ITERATIONS: usize = 4;
/// They stop once one adds less than this share to ||Q^T A||_F^2, the part
/// of ||W o M||_F^2 the subspace captures: a start needs no sharper one,
/// and on sparse input each costs two passes over the pattern that gather
/// rows of a factor, as an iteration's do (issue 29: 4 of them made the
/// start of the MovieLens-sized implicit-feedback problem cost 6
/// iterations, where they added 6 %, then 0.4, 0.1 and 0.04 %).
const ENOUGH_GAIN: f64 = 0.01;

pub struct Factors {
    pub u: Mat<f64>,
    pub v: Mat<f64>,
}

fn gaussian(rows: usize, cols: usize, seed: u64, purpose: Purpose, index: u64) -> Result<Mat<f64>> {
    let what = "a Gaussian start";
    let mut data = try_filled(checked_len(rows, cols, what)?, 0.0, what)?;
    fill_gaussian(&mut stream(seed, purpose, index), &mut data);
    try_from_fn(rows, cols, |i, j| data[j * rows + i], what)
}

/// Gaussian U and V with entries of variance 1/rows, so U V^T starts at the
/// scale of a unit matrix whatever the shape.
pub fn random_factors(n: usize, m: usize, k: usize, seed: u64) -> Result<Factors> {
    let mut u = gaussian(n, k, seed, Purpose::RandomInit, 0)?;
    let mut v = gaussian(m, k, seed, Purpose::RandomInit, 1)?;
    u *= faer::Scale(1.0 / (n as f64).sqrt());
    v *= faer::Scale(1.0 / (m as f64).sqrt());
    Ok(Factors { u, v })
}

/// A hop of basin hopping (`outer::restarts`): `from` with each of its
/// first k columns (the offsets' columns, beyond k, stay pinned) moved by
/// Gaussian noise whose entries have `size` times the column's root mean
/// square entry as standard deviation: relative to each column, so the
/// move is the same whatever the scaling between U and V.
pub fn hop_start(from: &Factors, k: usize, size: f64, seed: u64) -> Result<Factors> {
    let moved = |x: &Mat<f64>, index: u64| -> Result<Mat<f64>> {
        let noise = gaussian(x.nrows(), k, seed, Purpose::Hop, index)?;
        let mut out = crate::memory::try_copy(x.as_ref(), "a hop's start")?;
        for j in 0..k {
            let rms = (x.col(j).squared_norm_l2() / x.nrows().max(1) as f64).sqrt();
            for i in 0..x.nrows() {
                out[(i, j)] += size * rms * noise[(i, j)];
            }
        }
        Ok(out)
    };
    Ok(Factors {
        u: moved(&from.u, 0)?,
        v: moved(&from.v, 1)?,
    })
}

/// An owned copy of given factors, reserved fallibly.
pub fn copy_factors(f: &Factors) -> Result<Factors> {
    Ok(Factors {
        u: crate::memory::try_copy(f.u.as_ref(), "a copy of the factors")?,
        v: crate::memory::try_copy(f.v.as_ref(), "a copy of the factors")?,
    })
}

/// U = left singular vectors times singular values, V = right singular
/// vectors, of the best rank-k approximation of W o M (approximately).
/// Flops: about 2 (2q + 2) n m (k + 10) for the products, q <= 4 the power
/// iterations that still gain (`ENOUGH_GAIN`).
/// Memory: the range finder's m x l and n x l blocks (l = k + 10), the thin
/// SVD's factors and faer's scratch for it, all reserved fallibly.
pub fn svd_factors(problem: &Problem<'_>, k: usize, seed: u64) -> Result<Factors> {
    let (n, m) = (problem.n_rows(), problem.n_cols());
    let mut whole = WholeProblem {
        problem,
        transposed: problem.transposed(),
    };
    svd_start(n, m, k, seed, &mut whole)
}

/// A = W o M (n x m) as the range finder sees it: X -> A X (n x l) and
/// X -> A^T X (m x l), whole. A distributed fit computes them on its rows
/// and gathers them (`distributed::start`).
pub(crate) trait RangeProducts {
    fn times(&mut self, x: &Mat<f64>) -> Result<Mat<f64>>;
    fn transposed_times(&mut self, x: &Mat<f64>) -> Result<Mat<f64>>;
}

/// One process's products: the whole problem's.
struct WholeProblem<'p, 'a> {
    problem: &'p Problem<'a>,
    transposed: Problem<'a>,
}

impl RangeProducts for WholeProblem<'_, '_> {
    fn times(&mut self, x: &Mat<f64>) -> Result<Mat<f64>> {
        self.problem.weighted_data_times(x.as_ref())
    }

    fn transposed_times(&mut self, x: &Mat<f64>) -> Result<Mat<f64>> {
        self.transposed.weighted_data_times(x.as_ref())
    }
}

/// `svd_factors` over the products of `products`: everything but them is
/// computed whole, on n x l and m x l blocks, so equal products give equal
/// bits.
pub(crate) fn svd_start(
    n: usize,
    m: usize,
    k: usize,
    seed: u64,
    products: &mut dyn RangeProducts,
) -> Result<Factors> {
    let width = k.saturating_add(OVERSAMPLING).min(n).min(m);
    let omega = gaussian(m, width, seed, Purpose::RangeFinder, 0)?;
    let mut q = orthonormal_basis(products.times(&omega)?.as_ref())?;
    // B = (Q^T A)^T = A^T Q (m x width); A ~ Q B^T = (Q Vb) S Ub^T.
    let mut b = products.transposed_times(&q)?;
    let mut captured = b.squared_norm_l2();
    for _ in 0..POWER_ITERATIONS {
        let z = orthonormal_basis(b.as_ref())?;
        q = orthonormal_basis(products.times(&z)?.as_ref())?;
        b = products.transposed_times(&q)?;
        let now = b.squared_norm_l2();
        // False for NaN too: a sum that is not a number stops them.
        let gained = now > captured * (1.0 + ENOUGH_GAIN);
        if !gained {
            break;
        }
        captured = now;
    }
    let what = "the SVD of the start";
    let mut s = try_zeros(width, 1, what)?;
    let mut ub = try_zeros(m, width, what)?;
    let mut vb = try_zeros(width, width, what)?;
    let req = svd::svd_scratch::<f64>(
        m,
        width,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::Thin,
        Par::Seq,
        Default::default(),
    );
    let ok = svd::svd(
        b.as_ref(),
        s.as_mut().col_mut(0).as_diagonal_mut(),
        Some(ub.as_mut()),
        Some(vb.as_mut()),
        Par::Seq,
        MemStack::new(&mut try_buffer(req, "the scratch of the start's SVD")?),
        Default::default(),
    );
    if ok.is_err() {
        // Only non-finite data makes the SVD fail, and validation rules that
        // out; a random start is still a correct (if slower) start.
        return random_factors(n, m, k, seed);
    }
    let mut order = try_collect(0..width, what)?;
    // Unstable sort: the index breaks ties, and it needs no buffer.
    order.sort_unstable_by(|&a, &b| s[(b, 0)].total_cmp(&s[(a, 0)]).then(a.cmp(&b)));
    let mut left = try_zeros(n, width, what)?;
    matmul(
        left.as_mut(),
        Accum::Replace,
        q.as_ref(),
        vb.as_ref(),
        1.0,
        Par::Seq,
    );
    let u = try_from_fn(
        n,
        k,
        |i, j| left[(i, order[j])] * s[(order[j], 0)],
        "the start",
    )?;
    let v = try_from_fn(m, k, |i, j| ub[(i, order[j])], "the start")?;
    Ok(Factors { u, v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hop_moves_each_free_column_by_its_own_scale_and_keeps_pinned_ones() {
        // Column 0 at scale 1, column 1 at 1e6, column 2 pinned (k = 2).
        let scales = [1.0, 1e6, 7.0];
        let from = Factors {
            u: Mat::from_fn(400, 3, |i, j| {
                scales[j] * if i % 2 == 0 { 1.0 } else { -1.0 }
            }),
            v: Mat::from_fn(300, 3, |i, j| scales[j] * (1.0 + (i % 3) as f64)),
        };
        let hop = hop_start(&from, 2, 0.1, 9).unwrap();
        for (x, y) in [(&from.u, &hop.u), (&from.v, &hop.v)] {
            for j in 0..2 {
                let rms = |m: &Mat<f64>| (m.col(j).squared_norm_l2() / m.nrows() as f64).sqrt();
                let moved = y - x;
                // The noise's root mean square is 0.1 of the column's (to
                // within the sampling error of a few hundred draws).
                let ratio = rms(&moved) / rms(x);
                assert!((ratio - 0.1).abs() < 0.015, "column {j}: {ratio}");
            }
            assert_eq!(x.col(2), y.col(2), "the pinned column moved");
        }
        // Seeded: the same seed gives the same bits, another seed others.
        let again = hop_start(&from, 2, 0.1, 9).unwrap();
        assert_eq!(hop.u, again.u);
        assert_eq!(hop.v, again.v);
        assert_ne!(hop.u, hop_start(&from, 2, 0.1, 10).unwrap().u);
    }
}
