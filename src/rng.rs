//! Seeded randomness. Every random choice draws from a stream derived from
//! (seed, purpose, index), never from a thread id, so results do not depend on
//! scheduling.

use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// What a stream is for; keeps streams of different purposes independent.
#[derive(Clone, Copy)]
pub enum Purpose {
    RandomInit = 1,
    RangeFinder = 2,
    Sketch = 3,
    Folds = 4,
    Hop = 5,
}

/// SplitMix64 step: the standard way to spread a small key over 64 bits.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64 random bits for entry (i, j) under `seed` and `purpose`: a pure
/// function of them (the folds of cross-validation).
pub fn entry_bits(seed: u64, purpose: Purpose, i: usize, j: usize) -> u64 {
    splitmix64(key(seed, purpose, i as u64) ^ splitmix64(j as u64))
}

pub fn stream(seed: u64, purpose: Purpose, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(key(seed, purpose, index))
}

fn key(seed: u64, purpose: Purpose, index: u64) -> u64 {
    splitmix64(splitmix64(seed) ^ splitmix64((purpose as u64) << 56 ^ index))
}

/// The sketch stream of one row in one half-step, the one place that index
/// is formed. Rows below 2^32 keep the index `half_step << 32 ^ row` they
/// always had (the same bits as before); for larger rows that index would
/// collide with another (half-step, row), so their upper 32 bits are mixed
/// into the key separately instead.
pub fn sketch_stream(seed: u64, half_step: u64, row: usize) -> Xoshiro256PlusPlus {
    let row = row as u64;
    let (high, low) = (row >> 32, row & 0xFFFF_FFFF);
    let key = key(seed, Purpose::Sketch, half_step << 32 ^ low);
    if high == 0 {
        Xoshiro256PlusPlus::seed_from_u64(key)
    } else {
        Xoshiro256PlusPlus::seed_from_u64(splitmix64(key ^ splitmix64(high)))
    }
}

/// Uniform in (0, 1): 53 random bits, never exactly 0.
fn open_unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in 0..bound (bound > 0), by rejection (no modulo bias).
pub fn below(rng: &mut Xoshiro256PlusPlus, bound: usize) -> usize {
    let bound = bound as u64;
    let zone = u64::MAX - u64::MAX % bound;
    loop {
        let x = rng.next_u64();
        if x < zone {
            return (x % bound) as usize;
        }
    }
}

/// A random sign, +1 or -1.
pub fn sign(rng: &mut Xoshiro256PlusPlus) -> f64 {
    if rng.next_u64() >> 63 == 0 {
        1.0
    } else {
        -1.0
    }
}

/// Fill `out` with standard normal draws (Box-Muller).
pub fn fill_gaussian(rng: &mut Xoshiro256PlusPlus, out: &mut [f64]) {
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        let (a, b) = gaussian_pair(rng);
        pair[0] = a;
        pair[1] = b;
    }
    if let [last] = chunks.into_remainder() {
        *last = gaussian_pair(rng).0;
    }
}

fn gaussian_pair(rng: &mut Xoshiro256PlusPlus) -> (f64, f64) {
    let radius = (-2.0 * open_unit(rng).ln()).sqrt();
    let angle = std::f64::consts::TAU * open_unit(rng);
    (radius * angle.cos(), radius * angle.sin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_draw(mut rng: Xoshiro256PlusPlus) -> u64 {
        rng.next_u64()
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn sketch_streams_keep_small_rows_and_separate_large_ones() {
        for (half_step, row) in [(0u64, 0usize), (3, 17), (9, (1 << 32) - 1)] {
            let old = stream(5, Purpose::Sketch, half_step << 32 ^ row as u64);
            assert_eq!(
                first_draw(sketch_stream(5, half_step, row)),
                first_draw(old)
            );
        }
        // Row 2^32 + 7 of half-step 2 had the index of row 7 of half-step 3.
        let large = first_draw(sketch_stream(5, 2, (1 << 32) + 7));
        assert_ne!(large, first_draw(sketch_stream(5, 3, 7)));
        assert_ne!(large, first_draw(sketch_stream(5, 2, 7)));
    }
}
