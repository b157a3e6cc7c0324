//! Call sequences on one model: fit twice (dense and CSR, valid and not),
//! wlra_set_factors with other shapes, get_factors / get_info before any
//! fit and with hostile buffers, options between fits, a progress callback
//! that cancels at a fuzzed iteration, destroy and create again. After
//! every call: the results are those of the last fit that succeeded or was
//! cancelled, bit for bit (a failed call changes nothing), and get_factors
//! writes nothing outside the matrix it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::c_void;
use std::ptr;
use wlra::ffi::*;
use wlra::vocabulary::*;
use wlra_fuzz::*;

const SENTINEL: f64 = -7.25e-77;

struct State {
    model: Model,
    /// Shape of the factors the model holds (from its last kept fit).
    shape: (usize, usize),
    results: Results,
}

impl State {
    fn new(rank: usize, progress: &Progress) -> Option<State> {
        let model = Model::create(rank)?;
        model.set_option(WLRA_OPTION_THREADS, 1.0);
        model.set_option(WLRA_OPTION_MAX_ITERATIONS, 3.0);
        let results = model.results(1, 1);
        let state = State {
            model,
            shape: (1, 1),
            results,
        };
        state.set_progress(Some(progress));
        progress.model.set(Some(state.model.raw));
        Some(state)
    }

    fn set_progress(&self, progress: Option<&Progress>) {
        let (callback, user_data): (wlra_progress_fn, *mut c_void) = match progress {
            Some(p) => (Some(on_progress), (p as *const Progress).cast_mut().cast()),
            None => (None, ptr::null_mut()),
        };
        // SAFETY: a live handle; user_data outlives the model (the target
        // drops the model first).
        let status = unsafe { wlra_set_progress(self.model.raw, callback, user_data) };
        check_status("wlra_set_progress", status);
    }

    /// After a fit: the results it must leave, given its status.
    fn after_fit(&mut self, call: &str, status: i32, shape: (usize, usize), progress: &Progress) {
        let kept = status == WLRA_OK || status == WLRA_ERROR_CANCELLED;
        let shape = if kept { shape } else { self.shape };
        let after = self.model.results(shape.0, shape.1);
        check_fit_outcome(call, status, &self.results, &after);
        if status == WLRA_ERROR_CANCELLED {
            let iterations = after.info[0].map(f64::from_bits);
            if progress.cancel_at.get() == 0 || iterations.is_err() {
                violated!("{call} cancelled without asking ({iterations:?})");
            }
        }
        if progress.bad_iteration.get() {
            violated!("the progress callback saw iteration 0");
        }
        if let Some((reentrant, code)) = progress.not_busy.take() {
            violated!("{reentrant} from the progress callback of {call} returned {code}, not BUSY");
        }
        self.shape = shape;
        self.results = after;
    }

    /// After a call that must not change results.
    fn unchanged(&self, call: &str, status: i32) {
        if self.model.results(self.shape.0, self.shape.1) != self.results {
            violated!("{call} (status {status}) changed the results");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let progress = Box::new(Progress::default());
    let Some(mut state) = State::new(1 + b.below(MAX_RANK), &progress) else {
        return;
    };
    for _ in 0..1 + b.below(10) {
        match b.below(9) {
            0 | 1 => {
                progress.arm(if b.chance(3) { 1 + b.below(3) } else { 0 });
                let Some(problem) = DenseInput::build(&mut b) else {
                    continue;
                };
                let status = problem.fit(&state.model);
                state.after_fit(
                    "wlra_fit",
                    status,
                    (problem.n_rows, problem.n_cols),
                    &progress,
                );
            }
            2 => {
                progress.arm(if b.chance(3) { 1 + b.below(3) } else { 0 });
                let Some(problem) = CsrInput::build(&mut b) else {
                    continue;
                };
                let status = problem.fit(&state.model);
                state.after_fit(
                    "wlra_fit_csr",
                    status,
                    (problem.n_rows, problem.n_cols),
                    &progress,
                );
            }
            3 => {
                // Starting factors, of this model's shape or of any other.
                let (n_rows, n_cols, layout) = if b.chance(2) {
                    (state.shape.0, state.shape.1, WLRA_ROW_MAJOR)
                } else {
                    (b.dim(), b.dim(), b.layout())
                };
                let k = state.model.rank;
                let profile = b.u8();
                let u = MatrixInput::build(&mut b, n_rows, k, layout, profile);
                let v = MatrixInput::build(&mut b, n_cols, k, layout, profile);
                let (Some(u), Some(v)) = (u, v) else { continue };
                // SAFETY: buffers span what shape, ld and layout say, or the
                // shape is refused before reading.
                let status = unsafe {
                    wlra_set_factors(
                        state.model.raw,
                        n_rows,
                        n_cols,
                        u.ptr(),
                        u.ld,
                        v.ptr(),
                        v.ld,
                        layout,
                    )
                };
                check_status("wlra_set_factors", status);
                if status == WLRA_OK && (u.refused || v.refused) {
                    violated!("wlra_set_factors accepted an argument it must refuse");
                }
                state.unchanged("wlra_set_factors", status);
                if b.chance(2) {
                    state
                        .model
                        .set_option(WLRA_OPTION_INIT, WLRA_INIT_GIVEN as f64);
                }
            }
            4 => {
                // get_factors into hostile buffers: NULLs, padding, layouts.
                let (n_rows, n_cols) = state.shape;
                let k = state.model.rank;
                let layout = b.layout();
                let (ld_u, ld_v) = if layout == WLRA_COL_MAJOR {
                    (b.ld(n_rows), b.ld(n_cols))
                } else {
                    (b.ld(k), b.ld(k))
                };
                let su = span(n_rows, k, ld_u, layout);
                let sv = span(n_cols, k, ld_v, layout);
                let len = |s: Result<usize, ()>| s.map_or(1, |s| s.min(MAX_SPAN + 1));
                if matches!(su, Ok(s) if s > MAX_SPAN) || matches!(sv, Ok(s) if s > MAX_SPAN) {
                    continue;
                }
                let mut u = vec![SENTINEL; len(su)];
                let mut v = vec![SENTINEL; len(sv)];
                let u_ptr = if b.chance(4) {
                    ptr::null_mut()
                } else {
                    u.as_mut_ptr()
                };
                let v_ptr = if b.chance(4) {
                    ptr::null_mut()
                } else {
                    v.as_mut_ptr()
                };
                // SAFETY: each buffer spans what the fitted shape, ld and
                // layout say, or that shape is refused before writing.
                let status =
                    unsafe { wlra_get_factors(state.model.raw, u_ptr, ld_u, v_ptr, ld_v, layout) };
                check_status("wlra_get_factors", status);
                let refused =
                    (!u_ptr.is_null() && su.is_err()) || (!v_ptr.is_null() && sv.is_err());
                if status == WLRA_OK && refused {
                    violated!("wlra_get_factors accepted a destination it must refuse");
                }
                if status != WLRA_OK
                    && u.iter()
                        .chain(&v)
                        .any(|x| x.to_bits() != SENTINEL.to_bits())
                {
                    violated!("a failed wlra_get_factors wrote to a buffer");
                }
                if status == WLRA_OK {
                    let (fu, fv) = state.results.factors.clone().expect("fitted");
                    for (buf, ptr_, ld, rows, canon) in
                        [(&u, u_ptr, ld_u, n_rows, fu), (&v, v_ptr, ld_v, n_cols, fv)]
                    {
                        for (p, x) in buf.iter().enumerate() {
                            // a NULL destination is not written, whatever its ld
                            let ld = if ptr_.is_null() { usize::MAX } else { ld };
                            let (outer, inner) = (p / ld, p % ld);
                            let (i, j) = if layout == WLRA_COL_MAJOR {
                                (inner, outer)
                            } else {
                                (outer, inner)
                            };
                            let inside = !ptr_.is_null() && i < rows && j < k;
                            let expected = if inside {
                                f64::from_bits(canon[i * k + j])
                            } else {
                                SENTINEL
                            };
                            if x.to_bits() != expected.to_bits() {
                                violated!("get_factors wrote {x} at {p}, expected {expected}");
                            }
                        }
                    }
                }
                state.unchanged("wlra_get_factors", status);
            }
            5 => {
                let item = match b.below(4) {
                    0 => b.u64() as i32,
                    _ => b.below(12) as i32,
                };
                let mut out = SENTINEL;
                // SAFETY: a live handle and one writable double.
                let status = unsafe { wlra_get_info(state.model.raw, item, &mut out) };
                check_status("wlra_get_info", status);
                if status != WLRA_OK && out.to_bits() != SENTINEL.to_bits() {
                    violated!("a failed wlra_get_info wrote {out}");
                }
                state.unchanged("wlra_get_info", status);
            }
            6 => {
                // Every id, and one unknown at either end.
                let option = b.below(option_count() + 2) as i32;
                let value = fit_safe(option, &mut b);
                let status = state.model.set_option(option, value);
                state.unchanged("wlra_set_option", status);
            }
            7 => {
                let remove = b.chance(4);
                state.set_progress(if remove { None } else { Some(&progress) });
                state.unchanged("wlra_set_progress", WLRA_OK);
            }
            _ => {
                // destroy, and a new model (maybe of another rank)
                let rank = 1 + b.below(MAX_RANK);
                drop(state);
                let Some(fresh) = State::new(rank, &progress) else {
                    return;
                };
                state = fresh;
                if !state.results.not_fitted {
                    violated!("a new model has results");
                }
            }
        }
    }
    drop(state);
});
