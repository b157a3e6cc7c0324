//! WLRA_INIT_WARM: the start a fit takes from the model's last fit.

use crate::init::Factors;
use crate::offsets::Offsets;
use crate::options::{InitChoice, Options};

/// WLRA_INIT_WARM for a problem of `shape`: options that start from the
/// last fit's factors (`Given`) when their shape and offsets match, else
/// from the SVD; (None, None) when the init is not Warm. `last`: the last
/// fit's factors and the offsets they carry.
pub(crate) fn resolve_warm<'f>(
    options: &Options,
    last: Option<(&'f Factors, Offsets)>,
    shape: (usize, usize),
) -> (Option<Options>, Option<&'f Factors>) {
    if options.init != InitChoice::Warm {
        return (None, None);
    }
    // The last fit's offsets must be this one's: its factors carry them.
    let last = last
        .filter(|(_, offsets)| *offsets == options.offsets)
        .map(|(factors, _)| factors)
        .filter(|f| (f.u.nrows(), f.v.nrows()) == shape);
    let init = if last.is_some() {
        InitChoice::Given
    } else {
        InitChoice::Svd
    };
    (
        Some(Options {
            init,
            ..options.clone()
        }),
        last,
    )
}
