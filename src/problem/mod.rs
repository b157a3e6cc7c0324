//! How the driver sees M and W. Dense input today; the half-steps read the
//! data only through these types, so a sparse form can join them later.

mod dense;

pub use dense::DenseProblem;

use std::ops::Range;

/// Consecutive ranges of at most `size` covering 0..len, in order. Block
/// sizes are fixed constants (never derived from the thread count), which is
/// what keeps results bitwise identical across thread counts.
pub fn blocks(len: usize, size: usize) -> impl Iterator<Item = Range<usize>> + Clone {
    let size = size.max(1);
    (0..len.div_ceil(size)).map(move |b| b * size..((b + 1) * size).min(len))
}
