//! Builds the C programs under tests/c with the `cc` crate against the
//! cdylib cargo just built, runs them, and fails on any failed check.

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/deps: `cargo test` writes the fresh cdylib there (it
/// does not copy it up to target/<profile>, which may hold a stale one).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().to_path_buf()
}

fn compile_and_run(source: &str) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = library_dir();
    assert!(
        lib_dir.join("libwlra.so").exists(),
        "no libwlra.so in {}",
        lib_dir.display()
    );
    // The cdylib's SONAME is libwlra.so.<major> (build.rs); an install lays
    // that link down, here it goes next to the fresh library.
    let soname = lib_dir.join(format!("libwlra.so.{}", env!("CARGO_PKG_VERSION_MAJOR")));
    if std::fs::read_link(&soname).is_err() {
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink("libwlra.so", &soname).unwrap();
    }
    let out_dir = lib_dir.parent().unwrap().join("c-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(source.trim_end_matches(".c"));
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let compiler = cc::Build::new()
        .target(&target)
        .host(&target)
        .opt_level(1)
        .cargo_metadata(false)
        .get_compiler();
    let status = compiler
        .to_command()
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c").join(source))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(&lib_dir)
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lwlra", "-lm"])
        .status()
        .expect("could not run the C compiler");
    assert!(status.success(), "compiling tests/c/{source} failed");
    // cargo puts target/<profile> on LD_LIBRARY_PATH, which outranks the
    // rpath and may hold a stale libwlra.so: point it at the fresh one.
    let output = Command::new(&exe)
        .env("LD_LIBRARY_PATH", &lib_dir)
        .output()
        .unwrap();
    print!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "tests/c/{source} reported failures"
    );
}

#[test]
fn c_api_every_function_and_status() {
    compile_and_run("api_test.c");
}
