//! The checked-in include/wlra.h is exactly what cbindgen generates from the
//! source. WLRA_BLESS=1 rewrites it instead of comparing.

use std::path::PathBuf;

#[test]
fn checked_in_header_matches_cbindgen_output() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&root)
        .with_config(config)
        .generate()
        .expect("cbindgen failed")
        .write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    // Every name the header defines is in the library's namespace: a
    // stray `pub const` elsewhere in the crate must not leak into C.
    for line in generated.lines().filter(|l| l.starts_with("#define ")) {
        let name = line.split_whitespace().nth(1).unwrap_or("");
        assert!(
            name.starts_with("WLRA_"),
            "the header defines {name}, outside the WLRA_ namespace"
        );
    }
    let path = root.join("include/wlra.h");
    if std::env::var_os("WLRA_BLESS").is_some() {
        std::fs::create_dir_all(root.join("include")).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/wlra.h differs from cbindgen's output; regenerate it with\n  WLRA_BLESS=1 cargo test --test header"
    );
}
