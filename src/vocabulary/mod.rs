//! The C vocabulary: every WLRA_* value of the C ABI, defined here once
//! (cbindgen copies them into include/wlra.h), with the option table and
//! the conversion between errors and status codes. The ground floor of the
//! crate: it imports only `error`, and every layer above takes its values
//! from here.

// In the order include/wlra.h shows them (rustfmt would sort one block).
pub mod version;

pub mod status;

pub mod layout;

pub mod options;

pub mod choices;

pub mod info;

/// cbindgen:ignore
pub(crate) mod option_table;

/// cbindgen:ignore
#[cfg(feature = "mpi")]
pub mod comm;

pub use choices::*;
pub use info::*;
pub use layout::*;
pub use options::*;
pub use status::*;
pub use version::*;
