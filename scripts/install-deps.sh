#!/usr/bin/env bash
# System packages the tests need (Debian; run as root). Idempotent.
set -euo pipefail
packages=(build-essential pkg-config cmake r-base-dev r-cran-testthat r-cran-matrix)
packages+=(python3-venv unzip)  # issue 16, bindings/run-tests.sh: the fresh venv for pip install, unzip -l of the wheel
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
