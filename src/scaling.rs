//! Scale invariance: the minimizer of sum W (M - U V^T)^2 does not depend on
//! the scale of W, and scales with M. The solvers see W and M multiplied by
//! powers of two that bring their largest magnitudes near 1, so no Gram,
//! residual or CG recurrence overflows or underflows at either end of the
//! double range; the driver maps the start, the ridge, the factors and the
//! objective between the caller's units and these (`Scale`).
//!
//! Powers of two keep every scaled value exact (away from the subnormal
//! range), and data whose largest magnitudes already lie within
//! 2^+-UNSCALED_EXPONENTS is read as it is: the common case runs the same
//! arithmetic, bit for bit, as without scaling, and pays no extra pass.

/// Largest magnitudes (of W, and of M where W > 0) in [2^-E, 2^(E+2))
/// stay unscaled, E = this. Within it no recurrence of the solvers comes
/// near overflow (the objective stays below n m 2^(3 E + 6)) and every
/// threshold is relative; outside it the failures of issue 15 start
/// (SHARED_PCG at W x 1e30 = 2^100).
const UNSCALED_EXPONENTS: i32 = 32;
/// The ridge in scaled units is capped here: far beyond any data of
/// magnitude 1, the fit is the zero factors either way, and products of
/// the ridge with factors of magnitude 1 stay finite.
const MAX_SCALED_RIDGE: f64 = 1.157920892373162e77; // 2^256

/// x 2^e, exactly unless the result is subnormal or overflows (two
/// multiplications, so any e in the double range works, 2^1074 included).
pub fn times_pow2(x: f64, e: i32) -> f64 {
    Multiplier::pow2(e).apply(x)
}

/// 2^e for e in [-1022, 1023].
fn pow2_normal(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Multiplication by 2^e as two factors, each a normal double.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Multiplier {
    first: f64,
    second: f64,
}

impl Multiplier {
    /// The identity (a function, not an associated const: cbindgen would
    /// put a public const and its type in the C header).
    pub fn one() -> Multiplier {
        Multiplier {
            first: 1.0,
            second: 1.0,
        }
    }

    pub fn pow2(e: i32) -> Multiplier {
        let e = e.clamp(-2100, 2100);
        let half = e / 2;
        Multiplier {
            first: pow2_normal(half.clamp(-1022, 1023)),
            second: pow2_normal((e - half).clamp(-1022, 1023)),
        }
    }

    pub fn is_one(&self) -> bool {
        self.first == 1.0 && self.second == 1.0
    }

    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        x * self.first * self.second
    }

    /// `apply`, saturated at +-f64::MAX: for values that carry no weight
    /// (M where W = 0), which may lie far above the weighted ones; a finite
    /// value keeps 0 x value = 0.
    #[inline]
    pub fn apply_saturating(&self, x: f64) -> f64 {
        self.apply(x).clamp(-f64::MAX, f64::MAX)
    }

    /// `apply` on every entry of a buffer.
    pub fn apply_to(&self, values: &mut [f64]) {
        if !self.is_one() {
            values
                .iter_mut()
                .for_each(|x| *x = self.apply_saturating(*x));
        }
    }
}

/// The binary exponent e of x > 0 (x in [2^e, 2^(e+1))), subnormals included.
pub(crate) fn exponent(x: f64) -> i32 {
    debug_assert!(x > 0.0 && x.is_finite());
    let biased = ((x.to_bits() >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: 2^64 x is normal.
        exponent(x * 18446744073709551616.0) - 64
    } else {
        biased - 1023
    }
}

/// The even power of two that brings `largest` into [1, 4), or 0 when it
/// is 0 or already within the unscaled band. Even, so half of it moves to
/// each factor and the balance of ||U||^2 and ||V||^2 (the ridge's gauge)
/// is kept.
fn even_exponent(largest: f64) -> i32 {
    if largest <= 0.0 || !largest.is_finite() {
        return 0;
    }
    let e = exponent(largest);
    if (-UNSCALED_EXPONENTS..=UNSCALED_EXPONENTS + 1).contains(&e) {
        0
    } else {
        e - e.rem_euclid(2)
    }
}

/// The offsets' pinned values: V~'s ones (row offsets) and U~'s (column
/// offsets), `Scale::pins`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pins {
    pub rows: f64,
    pub cols: f64,
}

impl Pins {
    /// 1 and 1: the caller's units.
    pub const ONES: Pins = Pins {
        rows: 1.0,
        cols: 1.0,
    };
}

/// How the solvers' W and M relate to the caller's: W = 2^weight W_s and
/// M = 2^value M_s, `value` even. Then with U = 2^(value/2) U_s and
/// V = 2^(value/2) V_s,
///     f(U, V; ridge) = 2^(weight + 2 value) f_s(U_s, V_s; ridge 2^-(weight + value)),
/// so the scaled problem has the caller's minimizer, factor for factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    weight: i32,
    value: i32,
    /// The binary exponent of the largest |M| where W > 0, in the caller's
    /// units (0 when unknown or zero): what the offsets' pinned columns
    /// follow (`pin`).
    largest_value: i32,
}

impl Scale {
    /// The caller's units.
    pub fn unit() -> Scale {
        Scale {
            weight: 0,
            value: 0,
            largest_value: 0,
        }
    }

    /// The scale for the largest weight and the largest |M| among the
    /// entries with positive weight.
    pub fn for_largest(weight: f64, value: f64) -> Scale {
        let largest_value = if value > 0.0 && value.is_finite() {
            exponent(value)
        } else {
            0
        };
        Scale {
            weight: even_exponent(weight),
            value: even_exponent(value),
            largest_value,
        }
    }

    pub fn is_unit(&self) -> bool {
        (self.weight, self.value) == (0, 0)
    }

    /// The values of the offsets' pinned columns in the solvers' units
    /// (`crate::offsets`), chosen to scale as the columns beside them do:
    /// V's stay of order 1 as M grows and U's grow with M, so V~'s ones
    /// (row offsets) are 1 and U~'s (column offsets) 2^e for the largest
    /// |M| of binary exponent e there. M times 4^j then moves U~ by 4^j
    /// and nothing else, and the fit's bits follow exactly.
    pub fn pins(&self) -> Pins {
        Pins {
            rows: 1.0,
            cols: times_pow2(1.0, self.largest_value - self.value),
        }
    }

    /// Caller's W -> solver's W.
    pub fn weights(&self) -> Multiplier {
        Multiplier::pow2(-self.weight)
    }

    /// Caller's M -> solver's M.
    pub fn values(&self) -> Multiplier {
        Multiplier::pow2(-self.value)
    }

    /// The caller's ridge in the solver's units.
    pub fn ridge(&self, ridge: f64) -> f64 {
        if ridge == 0.0 {
            return 0.0;
        }
        times_pow2(ridge, -(self.weight + self.value)).min(MAX_SCALED_RIDGE)
    }

    /// A ridge that multiplies each row's weight sum
    /// (WLRA_RIDGE_WEIGHT_SUMS) in the solver's units: the sums scale with
    /// W, so only M's scale enters.
    pub fn weight_sum_ridge(&self, ridge: f64) -> f64 {
        if ridge == 0.0 {
            return 0.0;
        }
        times_pow2(ridge, -self.value).min(MAX_SCALED_RIDGE)
    }

    /// Caller's factor entry -> solver's.
    pub fn factors_in(&self) -> Multiplier {
        Multiplier::pow2(-self.value / 2)
    }

    /// Solver's factor entry -> caller's.
    pub fn factors_out(&self) -> Multiplier {
        Multiplier::pow2(self.value / 2)
    }

    /// Solver's M (or a value of the model, or a residual) -> caller's.
    pub fn values_out(&self) -> Multiplier {
        Multiplier::pow2(self.value)
    }

    /// The solver's objective in the caller's units: +inf when it exceeds
    /// the largest double (the model then reports WLRA_ERROR_NUMERICAL for
    /// WLRA_INFO_OBJECTIVE rather than a wrong number).
    pub fn objective_out(&self, f: f64) -> f64 {
        times_pow2(f, self.weight + 2 * self.value)
    }
}

/// Fold-in's units (`crate::fold_in`): the new rows' W and M by `data`
/// (their largest weight and |M|, the column offsets' |b| included), the
/// fixed factor V by the fit's own power of two, 2^design with design half
/// the fit's value exponent: V_s is then the V the fit had in its units,
/// so a row's minimum-norm solution (fewer observed entries than
/// unknowns) is the one the fit would give, whatever the data's scale.
/// With V = 2^design V_s the rows' solution is u = 2^(value - design) u_s,
/// and the scaled problem's ridge follows from the same substitution. A
/// row offset's column of ones stays 1, as the fit's pin does, so the
/// offset is a = 2^value a_s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldInScale {
    data: Scale,
    design: i32,
}

impl FoldInScale {
    /// `data` from the new rows, `fit` the units the fit ran in.
    pub fn new(data: Scale, fit: Scale) -> FoldInScale {
        FoldInScale {
            data,
            design: fit.value / 2,
        }
    }

    pub fn is_unit(&self) -> bool {
        self.data.is_unit() && self.design == 0
    }

    pub fn data(&self) -> Scale {
        self.data
    }

    /// Caller's V -> solver's.
    pub fn design(&self) -> Multiplier {
        Multiplier::pow2(-self.design)
    }

    /// The caller's ridge in the solver's units: the penalty ridge |u|^2
    /// over the objective's 2^(weight + 2 value) is ridge 2^-(weight +
    /// 2 design) |u_s|^2; with weight-sum ridges the sums carry 2^weight.
    pub fn ridge(&self, ridge: f64, by_weight_sums: bool) -> f64 {
        if ridge == 0.0 {
            return 0.0;
        }
        let weight = if by_weight_sums { 0 } else { self.data.weight };
        times_pow2(ridge, -(weight + 2 * self.design)).min(MAX_SCALED_RIDGE)
    }

    /// Solver's solution -> caller's.
    pub fn solution_out(&self) -> Multiplier {
        Multiplier::pow2(self.data.value - self.design)
    }

    /// Solver's row offset -> caller's: its column of ones stays 1 (not
    /// scaled as V), so the offset scales as M.
    pub fn offset_out(&self) -> Multiplier {
        Multiplier::pow2(self.data.value)
    }
}

/// sum_d x(d) y(d) over d < len, as a double whenever the sum is one: the
/// terms are summed with x and y each brought near 1 by a power of two and
/// the sum is scaled back, so no partial sum overflows where the total
/// does not (offsets near the top of the double range, `Model::predict`).
/// Bit for bit the plain sum in the same order when no product or partial
/// sum comes near either end of the range. Flops: 4 len.
pub fn dot_without_overflow(len: usize, x: impl Fn(usize) -> f64, y: impl Fn(usize) -> f64) -> f64 {
    let largest = |f: &dyn Fn(usize) -> f64| (0..len).map(|d| f(d).abs()).fold(0.0, f64::max);
    let e = |a: f64| {
        if a > 0.0 && a.is_finite() {
            exponent(a)
        } else {
            0
        }
    };
    let (ex, ey) = (e(largest(&x)), e(largest(&y)));
    let (sx, sy) = (Multiplier::pow2(-ex), Multiplier::pow2(-ey));
    let sum: f64 = (0..len).map(|d| sx.apply(x(d)) * sy.apply(y(d))).sum();
    times_pow2(sum, ex + ey)
}

/// The mean of x(0), ..., x(len - 1), summed with the values brought near 1 by a power of
/// two, so that no partial sum overflows where the mean does not (the
/// offsets' gauge of data near the largest double). Bit for bit the plain
/// sum / len in the same order away from either end of the range.
pub fn mean_without_overflow(len: usize, x: impl Fn(usize) -> f64) -> f64 {
    let largest = (0..len).map(|i| x(i).abs()).fold(0.0, f64::max);
    let e = if largest > 0.0 && largest.is_finite() {
        exponent(largest)
    } else {
        0
    };
    let down = Multiplier::pow2(-e);
    let sum: f64 = (0..len).map(|i| down.apply(x(i))).sum();
    times_pow2(sum / len.max(1) as f64, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_cover_the_double_range() {
        assert_eq!(exponent(1.0), 0);
        assert_eq!(exponent(3.9), 1);
        assert_eq!(exponent(f64::MAX), 1023);
        assert_eq!(exponent(f64::MIN_POSITIVE), -1022);
        assert_eq!(exponent(4.9e-324), -1074);
        assert_eq!(even_exponent(4.9e-324), -1074);
        assert_eq!(even_exponent(1e300), 996);
        assert_eq!(even_exponent(0.75), 0);
        for x in [4.9e-324, 1e-310, 1e-200, 1e-20, 1e40, 1e300, f64::MAX] {
            let scaled = times_pow2(x, -even_exponent(x));
            assert!((1.0..4.0).contains(&scaled), "{x:e} -> {scaled}");
        }
    }

    #[test]
    fn multipliers_are_exact_and_reach_beyond_one_double() {
        assert_eq!(times_pow2(4.9e-324, 1074), 1.0);
        assert_eq!(times_pow2(1.0, -1074), 4.9e-324);
        assert_eq!(times_pow2(3.0, 1000), 3.0 * 2f64.powi(1000));
        assert!(Multiplier::pow2(0).is_one());
        assert_eq!(Multiplier::pow2(2000).apply_saturating(1.0), f64::MAX);
    }

    #[test]
    fn dot_without_overflow_sums_past_the_largest_double() {
        // a + b + u v with a + b beyond f64::MAX and the total within it.
        let x = [1e308, 1.0, 1e154];
        let y = [1.0, 1e308, -0.75e154];
        let plain: f64 = (0..3).map(|d| x[d] * y[d]).sum();
        assert!(plain.is_infinite());
        let d = dot_without_overflow(3, |d| x[d], |d| y[d]);
        assert!((d - 1.25e308).abs() <= 1e-15 * 1.25e308, "{d:e}");
        // Ordinary values: the plain sum, bit for bit.
        let (a, b) = ([0.3, -1.7, 2.5e-3], [11.0, 0.125, -7.0]);
        let plain: f64 = (0..3).map(|d| a[d] * b[d]).sum();
        assert_eq!(dot_without_overflow(3, |d| a[d], |d| b[d]), plain);
    }

    #[test]
    fn the_scaled_objective_maps_back() {
        let s = Scale::for_largest(1e300, 1e-200);
        let f = 2.5;
        let back = s.objective_out(f);
        let expected = times_pow2(f, 996 - 2 * 666);
        assert_eq!(back, expected);
        assert_eq!(s.factors_in().apply(s.factors_out().apply(0.3)), 0.3);
    }
}
