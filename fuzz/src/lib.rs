//! What the four fuzz targets share: reading choices out of the fuzzer's
//! bytes, building (possibly hostile) arguments for the C ABI, and the
//! invariants every target checks after every call:
//!
//! - no crash (libFuzzer and AddressSanitizer watch for that; libfuzzer-sys's
//!   panic hook aborts on any panic, even one the boundary would catch);
//! - every returned status is in `STATUSES`, and never `WLRA_ERROR_INTERNAL`
//!   (documented, but by definition a bug: a panic caught at the boundary);
//! - after `WLRA_OK` the factors and the objective are finite;
//! - a failed call leaves the earlier results (factors, info) bit-identical.
//!
//! Inputs stay small (dimensions <= 16, rank <= 4, a few iterations) so one
//! execution takes well under a millisecond.

use std::cell::Cell;
use std::ffi::c_void;
use std::ptr;
use wlra::ffi::*;
use wlra::vocabulary::*;

/// Every status code the C ABI documents (include/wlra.h). The one place to
/// extend when a code is added.
pub const STATUSES: &[i32] = &[
    WLRA_OK,
    WLRA_ERROR_NULL_POINTER,
    WLRA_ERROR_INVALID_ARGUMENT,
    WLRA_ERROR_NON_FINITE_INPUT,
    WLRA_ERROR_NEGATIVE_WEIGHT,
    WLRA_ERROR_NOT_FITTED,
    WLRA_ERROR_CANCELLED,
    WLRA_ERROR_OUT_OF_MEMORY,
    WLRA_ERROR_NUMERICAL,
    WLRA_ERROR_INTERNAL,
    WLRA_ERROR_BUSY,
];

/// Every WLRA_INFO_* item.
pub const INFO_ITEMS: std::ops::RangeInclusive<i32> = 1..=11;

pub const MAX_DIM: usize = 16;
pub const MAX_RANK: usize = 4;

/// The largest n_cols the CSR target passes: `wlra_fit_csr` allocates V
/// (n_cols x rank) and the column pattern (n_cols + 1) and reports
/// OUT_OF_MEMORY when it cannot, but libFuzzer stops the run at its own
/// malloc limit before the allocator can fail. A budget, not a known issue.
pub const CSR_MAX_N_COLS: usize = 1 << 20;

/// A rule of the API (issue 15 rows 8 to 10): with entries or weights past
/// 1e100 the true objective can exceed the largest double; the fit then
/// returns WLRA_OK with finite factors and wlra_get_info(WLRA_INFO_OBJECTIVE)
/// is WLRA_ERROR_NUMERICAL. The fuzzers had found OK with NaN or Inf there
/// before the scaling:
/// - dense 16 x 14, rank 2, unit weights, M zero but one entry -5.5e303;
/// - CSR 1 x 7, rank 1, row_ptr {0, 2}, col_idx {0, 1}, values {-3, 4.75},
///   m_default = -1e300, w_default = 1e40.
pub const OBJECTIVE_MAY_OVERFLOW_PAST: f64 = 1e100;

/// The fuzzer's bytes read as a stream of choices; past the end every read
/// gives 0, so any input is a complete program.
pub struct Bytes<'a> {
    data: &'a [u8],
}

thread_local! {
    /// Whether this execution has produced a value past
    /// `OBJECTIVE_MAY_OVERFLOW_PAST` (reset by `Bytes::new`).
    static HUGE_INPUT: Cell<bool> = const { Cell::new(false) };
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        HUGE_INPUT.with(|h| h.set(false));
        Bytes { data }
    }

    pub fn note(x: f64) -> f64 {
        if x.abs() > OBJECTIVE_MAY_OVERFLOW_PAST {
            HUGE_INPUT.with(|h| h.set(true));
        }
        x
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, _| (acc << 8) | u64::from(self.u8()))
    }

    /// 0..n (n <= 256).
    pub fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn layout(&mut self) -> i32 {
        match self.below(16) {
            0 => [0, 100, 103, -1, i32::MAX][self.below(5)],
            b if b % 2 == 0 => WLRA_ROW_MAJOR,
            _ => WLRA_COL_MAJOR,
        }
    }

    /// A value with the doubles that break numerics overrepresented: NaN,
    /// infinities, negative and signed zero, subnormals, huge and tiny.
    pub fn special(&mut self) -> f64 {
        const SPECIAL: [f64; 20] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            1e-300,
            1e300,
            -1e300,
            f64::MAX,
            f64::MIN,
            1e40,
            1e-200,
            1e150,
            0.5,
            2.0,
        ];
        Self::note(SPECIAL[self.below(SPECIAL.len())])
    }

    /// A matrix entry or weight: mostly ordinary (so fits run), sometimes
    /// special, sometimes any bit pattern.
    pub fn value(&mut self, profile: u8) -> f64 {
        match profile % 4 {
            // ordinary values in [-8, 8) in steps of 1/16
            0 | 1 => (f64::from(self.u8()) - 128.0) / 16.0,
            2 => {
                if self.chance(4) {
                    self.special()
                } else {
                    (f64::from(self.u8()) - 128.0) / 16.0
                }
            }
            _ => {
                if self.chance(2) {
                    self.special()
                } else {
                    Self::note(f64::from_bits(self.u64()))
                }
            }
        }
    }

    /// A dimension: mostly 1..=MAX_DIM, sometimes 0, rarely a huge value
    /// that must be refused before anything is read.
    pub fn dim(&mut self) -> usize {
        match self.below(32) {
            0 => 0,
            1 => HUGE[self.below(HUGE.len())],
            _ => 1 + self.below(MAX_DIM),
        }
    }

    /// A leading dimension for a matrix whose inner size is `inner`.
    pub fn ld(&mut self, inner: usize) -> usize {
        match self.below(16) {
            0 => inner.saturating_sub(1),
            1 => 0,
            2 => HUGE[self.below(HUGE.len())],
            3..=5 => inner.saturating_add(1 + self.below(3)),
            _ => inner,
        }
    }
}

/// Sizes at or near the edges of size_t and of addressable memory.
pub const HUGE: [usize; 6] = [
    usize::MAX,
    usize::MAX / 2,
    usize::MAX / 8 + 1,
    1 << 62,
    1 << 61,
    1 << 40,
];

/// Elements a (rows x cols, ld, layout) matrix spans, as the contract
/// defines it: `Err(())` when the library must refuse it without reading
/// (ld too small, or a span that overflows or cannot be addressed).
pub fn span(rows: usize, cols: usize, ld: usize, layout: i32) -> Result<usize, ()> {
    let (outer, inner) = if layout == WLRA_COL_MAJOR {
        (cols, rows)
    } else {
        (rows, cols)
    };
    if layout != WLRA_ROW_MAJOR && layout != WLRA_COL_MAJOR {
        return Err(());
    }
    if rows == 0 || cols == 0 || ld < inner {
        return Err(());
    }
    (outer - 1)
        .checked_mul(ld)
        .and_then(|s| s.checked_add(inner))
        .filter(|s| s.checked_mul(8).is_some_and(|b| b <= isize::MAX as usize))
        .ok_or(())
}

/// Buffers bigger than this are never built: a matrix that spans more is
/// valid but not small, and the call is skipped.
pub const MAX_SPAN: usize = 4 * MAX_DIM * MAX_DIM;

/// A caller's matrix argument: its buffer is exactly as long as the
/// contract requires (so AddressSanitizer sees a read one past it), or one
/// element when the library must refuse the shape without reading.
#[derive(Debug)]
pub struct MatrixInput {
    pub data: Vec<f64>,
    pub ld: usize,
    pub null: bool,
    /// The library must refuse this argument (shape, ld, layout or NULL).
    pub refused: bool,
}

impl MatrixInput {
    /// None: valid but too big to build (the caller skips the call).
    pub fn build(
        b: &mut Bytes<'_>,
        rows: usize,
        cols: usize,
        layout: i32,
        profile: u8,
    ) -> Option<MatrixInput> {
        let inner = if layout == WLRA_COL_MAJOR { rows } else { cols };
        let ld = b.ld(inner);
        let null = b.chance(32);
        Self::with_ld(b, rows, cols, layout, profile, ld, null)
    }

    /// As `build`, for an argument that may be NULL (a NULL W is all ones).
    pub fn build_optional(
        b: &mut Bytes<'_>,
        rows: usize,
        cols: usize,
        layout: i32,
        profile: u8,
    ) -> Option<MatrixInput> {
        let inner = if layout == WLRA_COL_MAJOR { rows } else { cols };
        let ld = b.ld(inner);
        Self::with_ld(b, rows, cols, layout, profile, ld, false)
    }

    fn with_ld(
        b: &mut Bytes<'_>,
        rows: usize,
        cols: usize,
        layout: i32,
        profile: u8,
        ld: usize,
        null: bool,
    ) -> Option<MatrixInput> {
        let (len, refused) = match span(rows, cols, ld, layout) {
            Ok(s) if s > MAX_SPAN => return None,
            Ok(s) => (s, null),
            Err(()) => (1, true),
        };
        let data = (0..len).map(|_| b.value(profile)).collect();
        Some(MatrixInput {
            data,
            ld,
            null,
            refused,
        })
    }

    pub fn ptr(&self) -> *const f64 {
        if self.null {
            ptr::null()
        } else {
            self.data.as_ptr()
        }
    }
}

/// Fail the fuzz run (libFuzzer records the input) with what broke.
#[macro_export]
macro_rules! violated {
    ($($arg:tt)*) => {
        panic!("invariant violated: {}", format!($($arg)*))
    };
}

/// With WLRA_FUZZ_TRACE set, every call is printed to stderr: how a
/// crashing input is turned into a reproducer
/// (`WLRA_FUZZ_TRACE=1 cargo +nightly fuzz run TARGET artifacts/TARGET/crash-...`).
pub fn trace(what: std::fmt::Arguments<'_>) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("WLRA_FUZZ_TRACE").is_some()) {
        eprintln!("trace: {what}");
    }
}

/// The status invariant, for every call.
pub fn check_status(call: &str, status: i32) {
    if !STATUSES.contains(&status) {
        violated!("{call} returned {status}, not a documented status");
    }
    if status == WLRA_ERROR_INTERNAL {
        violated!("{call} returned WLRA_ERROR_INTERNAL: {}", last_error());
    }
}

pub fn last_error() -> String {
    // SAFETY: NULL asks for the thread's message, which is never NULL.
    let text = unsafe { std::ffi::CStr::from_ptr(wlra_last_error(ptr::null())) };
    text.to_string_lossy().into_owned()
}

/// A model owned by a target; destroyed on drop.
pub struct Model {
    pub raw: *mut wlra_model,
    pub rank: usize,
}

impl Model {
    /// Create with `rank`; None when the library refused it (checked).
    pub fn create(rank: usize) -> Option<Model> {
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is writable storage for one pointer.
        let status = unsafe { wlra_create(rank, &mut raw) };
        trace(format_args!("wlra_create({rank}) = {status}"));
        check_status("wlra_create", status);
        if status != WLRA_OK {
            if !raw.is_null() {
                violated!("a failed wlra_create handed out a model");
            }
            return None;
        }
        Some(Model { raw, rank })
    }

    pub fn set_option(&self, option: i32, value: f64) -> i32 {
        // SAFETY: a live handle.
        let status = unsafe { wlra_set_option(self.raw, option, value) };
        trace(format_args!(
            "wlra_set_option({option}, {value:e}) = {status}"
        ));
        check_status("wlra_set_option", status);
        status
    }

    /// Options a fit reads, set from the fuzzer's bytes but bounded so one
    /// fit stays fast (not a known issue: a fuzz run's time budget).
    pub fn set_fit_options(&self, b: &mut Bytes<'_>) {
        self.set_option(WLRA_OPTION_THREADS, 1.0);
        self.set_option(WLRA_OPTION_MAX_ITERATIONS, b.below(6) as f64);
        for _ in 0..b.below(5) {
            let option = 1 + b.below(option_count()) as i32;
            let value = fit_safe(option, b);
            if std::env::var_os("WLRA_FUZZ_SHOW").is_some() {
                eprintln!("option {option} = {value:e}");
            }
            self.set_option(option, value);
        }
    }

    /// Every option's value, for the bit-identical checks.
    pub fn options(&self) -> Vec<u64> {
        option_ids()
            .map(|option| {
                let mut value = f64::NAN;
                // SAFETY: a live handle and one writable double.
                let status = unsafe { wlra_get_option(self.raw, option, &mut value) };
                if status != WLRA_OK {
                    violated!("wlra_get_option({option}) failed with {status}");
                }
                value.to_bits()
            })
            .collect()
    }

    /// The model's results as bits, read through the public API: factors
    /// (canonical row-major copy) and every info item, or the status that
    /// refused them.
    pub fn results(&self, n_rows: usize, n_cols: usize) -> Results {
        let k = self.rank;
        let (mut u, mut v) = (vec![0.0; n_rows * k], vec![0.0; n_cols * k]);
        // SAFETY: buffers of n_rows x k and n_cols x k, row-major, ld = k.
        let status = unsafe {
            wlra_get_factors(
                self.raw,
                u.as_mut_ptr(),
                k,
                v.as_mut_ptr(),
                k,
                WLRA_ROW_MAJOR,
            )
        };
        check_status("wlra_get_factors", status);
        let factors = (status == WLRA_OK).then(|| {
            if let Some(x) = u.iter().chain(&v).find(|x| !x.is_finite()) {
                violated!("get_factors returned {x}");
            }
            (bits(&u), bits(&v))
        });
        let info = INFO_ITEMS
            .map(|item| {
                let mut value = 0.0;
                // SAFETY: a live handle and one writable double.
                let status = unsafe { wlra_get_info(self.raw, item, &mut value) };
                check_status("wlra_get_info", status);
                if status == WLRA_OK {
                    Ok(value.to_bits())
                } else {
                    Err(status)
                }
            })
            .collect();
        let (mut a, mut b) = (vec![0.0; n_rows], vec![0.0; n_cols]);
        // SAFETY: n_rows and n_cols writable doubles.
        let offsets_status = unsafe { wlra_get_offsets(self.raw, a.as_mut_ptr(), b.as_mut_ptr()) };
        check_status("wlra_get_offsets", offsets_status);
        let offsets = (offsets_status == WLRA_OK).then(|| {
            if let Some(x) = a.iter().chain(&b).find(|x| !x.is_finite()) {
                violated!("get_offsets returned {x}");
            }
            (bits(&a), bits(&b))
        });
        if offsets.is_some() != factors.is_some() {
            violated!("get_factors returned {status}, get_offsets {offsets_status}");
        }
        Results {
            not_fitted: status == WLRA_ERROR_NOT_FITTED,
            factors,
            offsets,
            info,
        }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: created by wlra_create, destroyed once.
        unsafe { wlra_destroy(self.raw) };
    }
}

/// What `Model::results` read.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Results {
    pub not_fitted: bool,
    pub factors: Option<(Vec<u64>, Vec<u64>)>,
    /// Row and column offsets (zeros for a side not fitted).
    pub offsets: Option<(Vec<u64>, Vec<u64>)>,
    pub info: Vec<Result<u64, i32>>,
}

impl Results {
    /// The checks after a fit that returned OK.
    pub fn check_fitted(&self, call: &str) {
        if self.factors.is_none() {
            violated!("{call} returned OK but get_factors failed");
        }
        let objective = self.info[(WLRA_INFO_OBJECTIVE - 1) as usize];
        let may_overflow = HUGE_INPUT.with(|h| h.get());
        // An objective past the largest double is WLRA_ERROR_NUMERICAL
        // from wlra_get_info (the factors stay valid), never a wrong number.
        match objective {
            Ok(bits) if f64::from_bits(bits).is_finite() => {}
            Err(WLRA_ERROR_NUMERICAL) if may_overflow => {}
            other => violated!("{call} returned OK with objective {other:?}"),
        }
    }
}

fn bits(x: &[f64]) -> Vec<u64> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// What option `option` accepts, as the library says (wlra_option_info):
/// (min, max, default), None for an unknown id. The fuzzers read the
/// bounds here instead of typing them again.
pub fn option_bounds(option: i32) -> Option<(f64, f64, f64)> {
    let (mut min, mut max, mut default) = (f64::NAN, f64::NAN, f64::NAN);
    // SAFETY: three writable doubles; the name is not wanted.
    let status =
        unsafe { wlra_option_info(option, ptr::null_mut(), &mut min, &mut max, &mut default) };
    check_status("wlra_option_info", status);
    (status == WLRA_OK).then_some((min, max, default))
}

/// The number of WLRA_OPTION_* ids: they run from 1 without gaps.
pub fn option_count() -> usize {
    static COUNT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COUNT.get_or_init(|| (1..).take_while(|&id| option_bounds(id).is_some()).count())
}

/// Every WLRA_OPTION_* id.
pub fn option_ids() -> std::ops::RangeInclusive<i32> {
    1..=option_count() as i32
}

/// A value at or just beyond an end of some option's range (or its
/// default): where a refusal must start. Noted like every fuzzed value: a
/// ridge of DBL_MAX may take the objective past the largest double.
pub fn edge_value(b: &mut Bytes<'_>) -> f64 {
    let Some((min, max, default)) = option_bounds(1 + b.below(option_count()) as i32) else {
        violated!("wlra_option_info refused an id below the count");
    };
    let (below, above) = (min.next_down(), max.next_up());
    let edges = [
        min,
        max,
        default,
        below,
        above,
        min - 1.0,
        max + 1.0,
        min + 0.5,
    ];
    Bytes::note(edges[b.below(edges.len())])
}

/// A value for `option` that keeps a fit small: iteration, restart, thread,
/// sketch and fold counts bounded from their least value; an option among a
/// few whole values gets each of them or one beyond either end (to be
/// refused); everything else as fuzzed (invalid values are welcome: they
/// must be refused and change nothing).
pub fn fit_safe(option: i32, b: &mut Bytes<'_>) -> f64 {
    let Some((min, max, _)) = option_bounds(option) else {
        return b.value(2);
    };
    match option {
        WLRA_OPTION_MAX_ITERATIONS => min + b.below(6) as f64,
        WLRA_OPTION_THREADS => min + b.below(3) as f64,
        WLRA_OPTION_RESTARTS => min + b.below(4) as f64,
        WLRA_OPTION_SKETCH_SIZE_FACTOR => min + b.below(8) as f64 / 2.0,
        WLRA_OPTION_FOLDS => min + b.below(4) as f64,
        WLRA_OPTION_HELD_OUT_FOLD => min + b.below(3) as f64,
        _ if min.fract() == 0.0 && max - min <= 8.0 => {
            min - 1.0 + b.below((max - min) as usize + 3) as f64
        }
        _ => b.value(2),
    }
}

/// A dense problem: shapes, layout, leading dimensions, values (NaN, Inf,
/// negative weights, subnormal, huge) from the fuzzer's bytes.
#[derive(Debug)]
pub struct DenseInput {
    pub n_rows: usize,
    pub n_cols: usize,
    pub layout: i32,
    pub m: MatrixInput,
    pub w: Option<MatrixInput>,
}

impl DenseInput {
    pub fn build(b: &mut Bytes<'_>) -> Option<DenseInput> {
        let (n_rows, n_cols, layout) = (b.dim(), b.dim(), b.layout());
        let profile = b.u8();
        let m = MatrixInput::build(b, n_rows, n_cols, layout, profile)?;
        let w = if b.chance(4) {
            None
        } else {
            let w_profile = b.u8();
            let mut w = MatrixInput::build_optional(b, n_rows, n_cols, layout, w_profile)?;
            if w_profile % 4 < 2 {
                // mostly non-negative weights, with some zeros: rows with
                // fewer than rank weights must still get finite factors
                for x in &mut w.data {
                    *x = if *x < -4.0 { 0.0 } else { x.abs() };
                }
            }
            Some(w)
        };
        Some(DenseInput {
            n_rows,
            n_cols,
            layout,
            m,
            w,
        })
    }

    /// True when the contract says this call must fail before reading.
    pub fn refused(&self) -> bool {
        self.m.refused || self.w.as_ref().is_some_and(|w| w.refused)
    }

    pub fn fit(&self, model: &Model) -> i32 {
        let (w_ptr, ld_w) = match &self.w {
            Some(w) => (w.ptr(), w.ld),
            None => (ptr::null(), 0),
        };
        // SAFETY: every buffer spans what its shape, ld and layout say, or
        // the shape is one the library must refuse before reading.
        let status = unsafe {
            wlra_fit(
                model.raw,
                self.n_rows,
                self.n_cols,
                self.m.ptr(),
                self.m.ld,
                w_ptr,
                ld_w,
                self.layout,
            )
        };
        trace(format_args!("wlra_fit({self:?}) = {status}"));
        check_status("wlra_fit", status);
        if self.refused() && status == WLRA_OK {
            violated!("wlra_fit accepted an argument it must refuse");
        }
        status
    }
}

/// A CSR problem: well-formed or malformed patterns, values and defaults.
#[derive(Debug)]
pub struct CsrInput {
    pub n_rows: usize,
    pub n_cols: usize,
    pub row_ptr: Vec<i64>,
    pub col_idx: Vec<i64>,
    pub m_values: Vec<f64>,
    pub w_values: Option<Vec<f64>>,
    pub m_default: f64,
    pub w_default: f64,
    pub null_row_ptr: bool,
    pub null_col_idx: bool,
}

impl CsrInput {
    /// None: a shape past `CSR_MAX_N_COLS`.
    pub fn build(b: &mut Bytes<'_>) -> Option<CsrInput> {
        let n_rows = match b.below(32) {
            0 => 0,
            _ => 1 + b.below(MAX_DIM),
        };
        let n_cols = match b.below(32) {
            0 => 0,
            1 => [1000, 4096, usize::MAX, 1 << 40][b.below(4)],
            _ => 1 + b.below(MAX_DIM),
        };
        if n_cols > CSR_MAX_N_COLS {
            return None;
        }
        // A well-formed pattern: rows of up to 5 strictly increasing columns.
        let mut row_ptr = vec![0i64];
        let mut col_idx = Vec::new();
        for _ in 0..n_rows {
            let mut j = b.below(4) as u64;
            for _ in 0..b.below(6) {
                if j >= n_cols as u64 {
                    break;
                }
                col_idx.push(j as i64);
                j += 1 + b.below(4) as u64;
            }
            row_ptr.push(col_idx.len() as i64);
        }
        let nnz = col_idx.len();
        // Malformed variants: each is refused by the contract before the
        // library reads past the arrays built here.
        match b.below(12) {
            0 => row_ptr[0] = [1, -1, i64::MIN][b.below(3)],
            1 if n_rows > 0 => {
                let i = 1 + b.below(n_rows);
                row_ptr[i] = row_ptr[i - 1] - 1 - b.below(2) as i64;
            }
            2 if n_rows > 0 => {
                // row_ptr[n_rows] too large to address: refused unread
                row_ptr[n_rows] = [i64::MAX, i64::MAX / 8 + 1][b.below(2)];
            }
            3 if nnz > 0 => {
                // a column out of range, negative, repeated or decreasing
                let p = b.below(nnz);
                col_idx[p] = match b.below(4) {
                    0 => n_cols as i64,
                    1 => -1 - b.below(2) as i64,
                    2 => i64::MAX,
                    _ => col_idx[p.saturating_sub(1)],
                };
            }
            _ => {}
        }
        let profile = b.u8();
        let m_values = (0..nnz).map(|_| b.value(profile)).collect();
        let w_values = if b.chance(3) {
            None
        } else {
            let w_profile = b.u8();
            let mut w: Vec<f64> = (0..nnz)
                .map(|_| b.value(w_profile))
                .collect();
            if w_profile % 4 < 2 {
                w.iter_mut().for_each(|x| *x = x.abs());
            }
            Some(w)
        };
        let (m_default, w_default) = match b.below(4) {
            0 => (b.special(), b.special()),
            1 => (0.0, 0.0),
            _ => (b.value(0), b.value(0).abs() / 8.0),
        };
                Some(CsrInput {
            n_rows,
            n_cols,
            row_ptr,
            col_idx,
            m_values,
            w_values,
            m_default,
            w_default,
            null_row_ptr: b.chance(64),
            null_col_idx: b.chance(64),
        })
    }

    pub fn fit(&self, model: &Model) -> i32 {
        let or_null = |v: &Vec<f64>| {
            if v.is_empty() {
                ptr::null()
            } else {
                v.as_ptr()
            }
        };
        let row_ptr = if self.null_row_ptr {
            ptr::null()
        } else {
            self.row_ptr.as_ptr()
        };
        let col_idx = if self.null_col_idx {
            ptr::null()
        } else {
            self.col_idx.as_ptr()
        };
        // SAFETY: row_ptr has n_rows + 1 entries; a well-formed row_ptr's
        // last entry is the length of the other arrays, and a malformed one
        // is refused before they are read.
        let status = unsafe {
            wlra_fit_csr(
                model.raw,
                self.n_rows,
                self.n_cols,
                row_ptr,
                col_idx,
                or_null(&self.m_values),
                self.w_values.as_ref().map_or(ptr::null(), |w| w.as_ptr()),
                self.m_default,
                self.w_default,
            )
        };
        trace(format_args!("wlra_fit_csr({self:?}) = {status}"));
        check_status("wlra_fit_csr", status);
        status
    }
}

/// The progress callback's record; `cancel_at` = 0 never cancels. Cells:
/// the model holds a pointer to it while the target changes `cancel_at`.
/// With `model` set, the callback also calls the library on the model it
/// is called from, which must answer WLRA_ERROR_BUSY and change nothing.
#[derive(Default)]
pub struct Progress {
    pub calls: Cell<usize>,
    pub cancel_at: Cell<usize>,
    pub bad_iteration: Cell<bool>,
    pub model: Cell<Option<*mut wlra_model>>,
    /// (call, status) of a re-entrant call that was not refused as BUSY.
    pub not_busy: Cell<Option<(&'static str, i32)>>,
}

impl Progress {
    /// Before a fit: cancel after `cancel_at` iterations (0: never).
    pub fn arm(&self, cancel_at: usize) {
        self.calls.set(0);
        self.cancel_at.set(cancel_at);
    }
}

/// The calls the callback makes on its own model mid-fit, each of which
/// must be refused with WLRA_ERROR_BUSY: a setter, a fit, removing the
/// callback itself. Which one depends on the call count.
///
/// # Safety
/// `model` is the live handle whose fit is calling back.
unsafe fn reenter(model: *mut wlra_model, call: usize) -> (&'static str, i32) {
    let m = [1.0, 2.0, 3.0, 4.0];
    // SAFETY: a live handle (the caller's contract); `m` is a 2 x 2 matrix.
    unsafe {
        match call % 3 {
            0 => (
                "wlra_set_option",
                wlra_set_option(model, WLRA_OPTION_SEED, 1.0),
            ),
            1 => (
                "wlra_fit",
                wlra_fit(model, 2, 2, m.as_ptr(), 2, ptr::null(), 0, WLRA_ROW_MAJOR),
            ),
            _ => (
                "wlra_set_progress",
                wlra_set_progress(model, None, ptr::null_mut()),
            ),
        }
    }
}

/// The progress callback the targets install.
///
/// # Safety
/// `user_data` points to a live `Progress`.
pub unsafe extern "C" fn on_progress(user_data: *mut c_void, iteration: usize, _: f64) -> i32 {
    // SAFETY: the target passes a Box<Progress> that outlives the model.
    let p = unsafe { &*user_data.cast::<Progress>() };
    p.calls.set(p.calls.get() + 1);
    if iteration == 0 {
        p.bad_iteration.set(true);
    }
    if let Some(model) = p.model.get() {
        // SAFETY: the model whose fit calls back is live.
        let (call, status) = unsafe { reenter(model, p.calls.get()) };
        if status != WLRA_ERROR_BUSY {
            p.not_busy.set(Some((call, status)));
        }
    }
    let cancel_at = p.cancel_at.get();
    i32::from(cancel_at != 0 && p.calls.get() >= cancel_at)
}

/// The shape of the factors a model holds after a fit of `shape` on a fresh
/// model returned `status` (none, read as 1 x 1, unless it kept factors).
pub fn kept_shape(status: i32, shape: (usize, usize)) -> (usize, usize) {
    if status == WLRA_OK || status == WLRA_ERROR_CANCELLED {
        shape
    } else {
        (1, 1)
    }
}

/// The checks after any fit call: what the results must be given the
/// status, against the results before it.
pub fn check_fit_outcome(call: &str, status: i32, before: &Results, after: &Results) {
    match status {
        WLRA_OK => after.check_fitted(call),
        WLRA_ERROR_CANCELLED => {
            if after.factors.is_none() {
                violated!("{call} cancelled but kept no factors");
            }
        }
        _ => {
            if before != after {
                violated!(
                    "{call} failed with {status} ({}) but changed the results",
                    last_error()
                );
            }
        }
    }
}
