#!/usr/bin/env bash
# Every test of the project, from a fresh machine: system packages, the Rust
# and C tests, packaging consumers, and the language bindings. Each suite runs
# even when an earlier one failed; the last line says what passed and failed,
# and the exit status is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# One clean build per run: incremental caches would only add 1.4 GB of disk.
# The run needs about 3 GB under target/ and fuzz/target/ at its peak
# (README.md, "Disk"); what it used is printed at the end.
export CARGO_INCREMENTAL=0
echo "== disk free before the run: $(df -h --output=avail . | tail -1 | tr -d ' ')"

passed=()
failed=()
# drop WHAT FIND...: delete what the find command lists (disk for the
# suites after it), and say how much.
drop() {
    local what=$1
    shift
    local paths
    mapfile -t paths < <("$@" 2>/dev/null)
    [ ${#paths[@]} -gt 0 ] || return 0
    local size
    size=$(du -csh "${paths[@]}" 2>/dev/null | tail -1 | cut -f1)
    rm -rf "${paths[@]}"
    echo "== disk: dropped $what ($size)"
}
# suite NAME COMMAND...: run one suite, record its verdict, never stop.
suite() {
    local name=$1
    shift
    echo "== $name"
    local start=$SECONDS
    if "$@"; then
        passed+=("$name")
        echo "== $name: passed ($((SECONDS - start)) s)"
    else
        failed+=("$name")
        echo "== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

suite "system packages" bash scripts/install-deps.sh
suite "cargo fmt" cargo fmt --all -- --check
suite "cargo clippy" cargo clippy --all-targets -- -D warnings
suite "Rust and C tests" cargo test --no-fail-fast
# No later suite runs the test executables (1.3 GB: each links wlra and
# faer whole); the libraries and rlibs stay, so later builds reuse them.
# A later `cargo test` relinks them.
drop "the test executables" find target/debug/deps -maxdepth 1 -type f -executable ! -name '*.*'
suite "public Rust API" bash scripts/public-api.sh
# Reliability (docs/reliability.md): bounded fuzzing (FUZZ_SECONDS per
# target), the C programs under the sanitizers (against the fuzz build's
# ASan-instrumented library) and valgrind, the soak and panic containment.
suite "fuzz (bounded)" bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
suite "C tests under ASan+UBSan" bash scripts/c-checks.sh asan
# The fuzz build (1.4 GB) served the fuzzers and the ASan library; nothing
# after this reads it.
drop "the fuzz build" find fuzz/target -mindepth 1 -maxdepth 1
suite "C tests under valgrind" bash scripts/c-checks.sh valgrind
suite "soak and panic containment" bash scripts/c-checks.sh soak
suite "packaging consumers" bash tests/consumers/run.sh
suite "MPI" bash tests/mpi/run.sh
suite "bindings" bash bindings/run-tests.sh
# benches/implicit/run.sh end to end on a 600 x 300 problem, with assertions
# (issue 29): a venv with `implicit` from PyPI (target/implicit-venv, kept
# between runs) and wlra pip-installed in place, whose cargo build finds the
# release library the bindings suite built.
suite "implicit benchmark (smoke)" bash benches/implicit/run.sh --smoke
# benches/versus_numpy/run.sh end to end on a small problem (issue 29: it had
# broken silently): numpy from PyPI into target/numpy-venv, the binding from
# the tree; exits 1 unless wlra's and NumPy's objectives agree.
suite "NumPy benchmark (smoke)" bash benches/versus_numpy/run.sh --n 300 --m 240 --ranks 4,16 \
    --iterations 3 --check

echo
echo "== disk used: $(du -sh target fuzz/target 2>/dev/null | awk '{printf "%s %s  ", $2, $1}')free $(df -h --output=avail . | tail -1 | tr -d ' ')"
echo "== summary"
for s in "${passed[@]}"; do echo "passed: $s"; done
for s in "${failed[@]+"${failed[@]}"}"; do echo "FAILED: $s"; done
echo "suites: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
