#!/usr/bin/env bash
# Bounded fuzzing of the C ABI: each cargo-fuzz target under fuzz/ runs for
# SECONDS (default 60) from the checked-in corpus, under AddressSanitizer with
# debug assertions. Prints per target the executions, the corpus size and
# "0 crashes", or fails with the crashing input's path.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# FUZZ_SEED (default 1) fixes libFuzzer's mutation stream, so the test
# command explores the same inputs each run (up to the time bound);
# FUZZ_SEED=0 lets libFuzzer pick one. Longer runs: docs/reliability.md. New inputs go to a scratch corpus under
# fuzz/target/, never into the checked-in fuzz/corpus/. Needs a nightly
# toolchain; without one it says so and exits 0 (passed with a skip).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fit_dense fit_csr options sequence)

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: SKIPPED: no nightly toolchain (cargo-fuzz needs -Zsanitizer);"
    echo "fuzz: 'rustup toolchain install nightly' enables this suite"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked --quiet
fi

# 16 codegen units: the build takes about half as long, the run is barely
# slower. Debug assertions and overflow checks are on (cargo-fuzz's default).
start=$SECONDS
mkdir -p target
if ! cargo +nightly fuzz build --codegen-units 16 >target/build.log 2>&1; then
    tail -40 target/build.log
    echo "fuzz: the build failed"
    exit 1
fi
echo "fuzz: built the targets ($((SECONDS - start)) s)"

failed=0
for t in "${targets[@]}"; do
    scratch=target/corpus-run/$t
    rm -rf "$scratch"
    mkdir -p "$scratch" "artifacts/$t" "corpus/$t"
    log=target/fuzz-$t.log
    # -timeout: one input running 10 s is a hang, a finding like a crash.
    # -rss_limit_mb: the targets keep inputs small; 1 GiB is a leak or a
    # runaway allocation. -max_len: the targets read < 2 KiB of choices.
    # -detect_leaks=1, and LeakSanitizer at exit: wlra_destroy joins the
    # model's pool threads (src/thread_pool.rs), so no thread-local buffer
    # outlives the model that a leak check could catch mid-exit.
    if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} cargo +nightly fuzz run --codegen-units 16 "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=1024 -max_len=2048 -detect_leaks=1 \
        -print_final_stats=1 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        corpus=$(grep -Eo 'corp: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
        echo "fuzz: $t: ${execs:-?} executions in ${seconds} s, corpus ${corpus:-?} inputs, 0 crashes"
    else
        failed=$((failed + 1))
        echo "fuzz: $t: CRASH or invariant violation; the log's end:"
        tail -40 "$log"
        echo "fuzz: reproduce with: cd fuzz && cargo +nightly fuzz run $t artifacts/$t/<file>"
    fi
done
echo "fuzz: ${#targets[@]} targets, $failed with crashes"
[ "$failed" -eq 0 ]
