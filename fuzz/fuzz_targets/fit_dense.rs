//! `wlra_fit` on a fresh model: shapes (0, 1..16, huge), leading dimensions
//! (too small, padded, huge), both layouts and invalid ones, rank 0..4,
//! options, and values including NaN, Inf, negative weights, subnormals and
//! huge magnitudes. See fuzz/src/lib.rs for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wlra::vocabulary::*;
use wlra_fuzz::*;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes::new(data);
    let rank = b.below(MAX_RANK + 1);
    let Some(model) = Model::create(rank) else {
        return;
    };
    model.set_fit_options(&mut b);
    let Some(problem) = DenseInput::build(&mut b) else {
        return;
    };
    let before = model.results(1, 1);
    if !before.not_fitted {
        violated!("a fresh model has results");
    }
    let status = problem.fit(&model);
    let (n_rows, n_cols) = kept_shape(status, (problem.n_rows, problem.n_cols));
    let after = model.results(n_rows, n_cols);
    check_fit_outcome("wlra_fit", status, &before, &after);
    if status == WLRA_OK && (problem.n_rows < rank || problem.n_cols < rank) {
        violated!(
            "wlra_fit accepted rank {rank} for {} x {}",
            problem.n_rows,
            problem.n_cols
        );
    }
});
