//! `wlra_fit_csr` on a fresh model: well-formed and malformed patterns
//! (row_ptr not starting at 0, decreasing, too large to address; columns out
//! of range, negative, repeated), NULL arrays, values and defaults including
//! NaN, Inf, negative weights, subnormals and huge magnitudes. See
//! fuzz/src/lib.rs for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wlra_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let rank = b.below(MAX_RANK + 1);
    let Some(model) = Model::create(rank) else {
        return;
    };
    model.set_fit_options(&mut b);
    let Some(problem) = CsrInput::build(&mut b) else {
        return;
    };
    if std::env::var_os("WLRA_FUZZ_SHOW").is_some() {
        eprintln!("rank {rank}: {problem:?}");
    }
    let before = model.results(1, 1);
    let status = problem.fit(&model);
    let (n_rows, n_cols) = kept_shape(status, (problem.n_rows, problem.n_cols));
    let after = model.results(n_rows, n_cols);
    check_fit_outcome("wlra_fit_csr", status, &before, &after);
});
