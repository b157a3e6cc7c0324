#!/usr/bin/env bash
# The C programs under tests/c, run against the library as a C host links it
# (target/debug/libwlra.so, built here with `cargo build --lib`):
#
#   scripts/c-checks.sh asan      every program built with clang
#                                 -fsanitize=address,undefined, leak checking on
#   scripts/c-checks.sh valgrind  every program under valgrind memcheck
#   scripts/c-checks.sh soak      10,000 create/fit/destroy cycles, RSS flat,
#                                 and the panic-containment program
#
# Each prints what it ran and its reports; any report or failed check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: scripts/c-checks.sh asan|valgrind|soak}

# The dev profile: `cargo test` has built its dependencies already (the
# Rust and C tests suite), so this is one link, not a second full build.
cargo build --lib --quiet
lib_dir=$PWD/target/debug
# The cdylib's SONAME is libwlra.so.<major> (build.rs); an install lays that
# link down, here it goes next to the fresh library (as tests/c_api.rs does).
ln -sfn libwlra.so "$lib_dir/libwlra.so.1"
out=$PWD/target/c-checks/$mode
mkdir -p "$out"

# Every program in tests/c, and what each runs: the soak does fewer cycles
# under the slow tools (its leak check there is valgrind's and ASan's own).
programs=(api_test panic_containment soak)
args_for() {
    case "$1:$mode" in
        soak:asan) echo "1000 --no-rss-bound" ;;
        soak:valgrind) echo "100 --no-rss-bound" ;;
        *) echo "" ;;
    esac
}

compile() { # compile NAME COMPILER FLAGS...
    local name=$1 cc=$2
    shift 2
    "$cc" -std=c99 -Wall -Wextra -Werror -pedantic -g "$@" -I include \
        "tests/c/$name.c" -o "$out/$name" \
        -L "$lib_dir" -Wl,-rpath,"$lib_dir" -lwlra -lm
}

failed=0
run() { # run NAME COMMAND...: one program, its last lines, its verdict
    local name=$1
    shift
    local log=$out/$name.log start=$SECONDS
    if "$@" >"$log" 2>&1; then
        echo "$mode: $name: passed ($((SECONDS - start)) s): $(grep -E 'passed, [0-9]+ failed' "$log" | tail -1)"
        grep -E '^(soak|panic containment):|ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable' "$log" |
            sed "s/^/$mode: $name: /" || true
    else
        failed=$((failed + 1))
        echo "$mode: $name: FAILED ($((SECONDS - start)) s); its output's end:"
        tail -60 "$log"
    fi
}

case "$mode" in
asan)
    # The library itself instrumented when it can be: the fuzz build
    # (scripts/fuzz.sh, nightly -Zsanitizer=address) leaves a cdylib of wlra
    # built with ASan, so linking against it costs no second build. Without
    # nightly and cargo-fuzz, the shipped library: ASan still intercepts its
    # malloc and free (double and bad frees, leaks) but not its own loads
    # and stores.
    if rustup toolchain list 2>/dev/null | grep -q '^nightly' && cargo fuzz --version >/dev/null 2>&1 &&
        (cd fuzz && cargo +nightly fuzz build --codegen-units 16 >/dev/null 2>&1); then
        lib_dir=$PWD/fuzz/target/x86_64-unknown-linux-gnu/release/deps
        ln -sfn libwlra.so "$lib_dir/libwlra.so.1"
        echo "asan: libwlra.so built with -Zsanitizer=address (the fuzz build), $lib_dir"
    else
        echo "asan: libwlra.so not instrumented (no nightly or cargo-fuzz): ASan checks its heap only"
    fi
    flags=(-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
    for p in "${programs[@]}"; do
        compile "$p" clang "${flags[@]}"
        # shellcheck disable=SC2046
        run "$p" env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1 \
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$out/$p" $(args_for "$p")
    done
    ;;
valgrind)
    # Errors of every kind, and leaks definitely or indirectly lost, fail
    # the run. Suppressions: none. "Still reachable" is not an error: at
    # exit it is the thread-local state of threads that are still alive
    # (the std runtime's, and the pool threads of a destroyed model that
    # have not yet run their exit handlers), nothing a caller could free.
    for p in "${programs[@]}"; do
        compile "$p" cc -O1
        # shellcheck disable=SC2046
        run "$p" valgrind --error-exitcode=1 --leak-check=full \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect,possible \
            --fair-sched=yes "$out/$p" $(args_for "$p")
    done
    ;;
soak)
    for p in soak panic_containment; do
        compile "$p" cc -O2
        run "$p" "$out/$p"
    done
    ;;
*)
    echo "unknown mode $mode (asan, valgrind or soak)" >&2
    exit 2
    ;;
esac
[ "$failed" -eq 0 ]
