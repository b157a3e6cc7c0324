//! Builds the C programs under tests/c with the `cc` crate against the
//! cdylib cargo just built, runs them, and fails on any failed check.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// target/<profile>/deps: `cargo test` writes the fresh cdylib there (it
/// does not copy it up to target/<profile>, which may hold a stale one).
fn library_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().to_path_buf()
}

/// Compile tests/c/<source> against the fresh library; the executable.
fn compile(source: &str) -> PathBuf {
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
        // Another test may lay the same link down at the same time.
        match std::os::unix::fs::symlink("libwlra.so", &soname) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => panic!("{e}"),
            _ => {}
        }
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
    exe
}

/// Run a compiled C test program with `args`; fail on any failed check.
fn run(exe: &PathBuf, args: &[&str]) {
    let lib_dir = library_dir();
    // cargo puts target/<profile> on LD_LIBRARY_PATH, which outranks the
    // rpath and may hold a stale libwlra.so: point it at the fresh one.
    let mut child = Command::new(exe)
        .args(args)
        .env("LD_LIBRARY_PATH", &lib_dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Read while it runs, so a long report cannot fill the pipe and stall it.
    let mut pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        text
    });
    // A hang (as two fits on one model did) fails the test instead of
    // stalling the run; the bound is far above what any case takes.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{} {args:?} hung (killed after 300 s)", exe.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    print!("{}", reader.join().unwrap());
    assert!(
        status.success(),
        "{} {args:?} reported failures (exit status {status})",
        exe.display()
    );
}

#[test]
fn c_api_every_function_and_status() {
    run(&compile("api_test.c"), &[]);
}

/// tests/c/reliability_test.c, compiled once for the cases below (each a
/// row of docs/reliability.md).
fn reliability_case(case: &str) {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    run(EXE.get_or_init(|| compile("reliability_test.c")), &[case]);
}

#[test]
fn progress_callback_removing_itself_is_busy() {
    reliability_case("progress_callback_removing_itself_is_busy");
}

#[test]
fn progress_callback_changing_threads_and_refitting_is_busy() {
    reliability_case("progress_callback_changing_threads_and_refitting_is_busy");
}

#[test]
fn progress_callback_fitting_or_setting_options_is_busy() {
    reliability_case("progress_callback_fitting_or_setting_options_is_busy");
}

#[test]
fn fit_csr_with_size_max_dims_is_invalid_argument() {
    reliability_case("fit_csr_with_size_max_dims_is_invalid_argument");
}
