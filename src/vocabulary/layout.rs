//! The storage layout of every dense matrix argument (values as in CBLAS).

/// Rows stored one after another (CBLAS value).
pub const WLRA_ROW_MAJOR: i32 = 101;
/// Columns stored one after another (CBLAS value).
pub const WLRA_COL_MAJOR: i32 = 102;
