#!/usr/bin/env bash
# The public Rust surface against docs/rust-api.txt and docs/api.md (issue 26,
# acceptance 5): rustdoc's JSON output (nightly) lists every public path, and
# scripts/public-api.py compares it with the committed list and checks that
# docs/api.md names every type, function and method in it.
#
#   bash scripts/public-api.sh           check (exit 1 on a difference)
#   bash scripts/public-api.sh --bless   rewrite docs/rust-api.txt after a meant change
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly --version >/dev/null 2>&1; then
    # rustdoc's JSON output is unstable: it needs the nightly toolchain.
    echo "public-api: installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
out=target/rustdoc-json
echo "public-api: cargo +nightly rustdoc --lib (JSON output, into $out)"
cargo +nightly rustdoc --lib --quiet --target-dir "$out" -- -Zunstable-options --output-format json -A warnings
json=$out/doc/wlra.json
if [ "${1:-}" = "--bless" ]; then
    {
        echo "# The public Rust surface (scripts/public-api.sh): kind and path, one per line."
        python3 scripts/public-api.py "$json"
    } >docs/rust-api.txt
    echo "public-api: wrote docs/rust-api.txt ($(grep -vc '^#' docs/rust-api.txt) items)"
else
    python3 scripts/public-api.py "$json" --check docs/rust-api.txt docs/api.md
fi
