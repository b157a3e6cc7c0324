//! Gives the shared library the SONAME `libwlra.so.<major>`, so programs
//! linked against 1.x load any later 1.y (the ABI promise of docs/api.md) and
//! scripts/install.sh can lay out libwlra.so.1.5.0 with its symlinks.
//! The major version comes from Cargo.toml, never typed here.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // `-soname` is an ELF linker flag; macOS (install_name) and Windows
    // (DLL names) have their own schemes and get nothing here.
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    if family == "unix" && os != "macos" && os != "ios" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libwlra.so.{major}");
    }
}
