#!/usr/bin/env bash
# Every test of the project, from a fresh machine: system packages, the Rust
# and C tests, packaging consumers, and the language bindings.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings

echo "== Rust and C tests (cargo test)"
cargo test --no-fail-fast

for suite in tests/consumers/run.sh bindings/run-tests.sh; do
    if [ -f "$suite" ]; then
        echo "== $suite"
        bash "$suite"
    fi
done
echo "== all test suites passed"
