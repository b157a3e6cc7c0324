//! The version macros of the header. cbindgen cannot read Cargo.toml, so the
//! numbers stand here once and a unit test holds them to Cargo's version.

/// Major version: programs built against 1.x run on any 1.y.
pub const WLRA_VERSION_MAJOR: u32 = 1;
/// Minor version: new functions and enum values.
pub const WLRA_VERSION_MINOR: u32 = 5;
/// Patch version: fixes only.
pub const WLRA_VERSION_PATCH: u32 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_macros_match_cargo_version() {
        let cargo = [
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR"),
            env!("CARGO_PKG_VERSION_PATCH"),
        ];
        let ours =
            [WLRA_VERSION_MAJOR, WLRA_VERSION_MINOR, WLRA_VERSION_PATCH].map(|v| v.to_string());
        assert_eq!(ours, cargo.map(String::from));
    }
}
