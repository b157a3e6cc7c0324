#!/usr/bin/env bash
# System packages the tests need (Debian; run as root). Idempotent.
set -euo pipefail
# clang and valgrind: the C tests under ASan+UBSan and under memcheck
# (scripts/c-checks.sh).
packages=(build-essential pkg-config cmake r-base-dev r-cran-testthat r-cran-matrix clang valgrind)
packages+=(python3-venv unzip)  # issue 16, bindings/run-tests.sh: the fresh venv for pip install, unzip -l of the wheel
packages+=(libopenmpi-dev openmpi-bin libclang-dev)  # issue 18, tests/mpi/run.sh: the feature `mpi` (mpicc, mpirun; libclang for the mpi crate's bindgen)
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
# clang's sanitizer runtimes are only recommended by clang, and their
# package is named for clang's major version (libclang-rt-14-dev on Debian 12).
clang_major=$(clang -dumpversion | cut -d. -f1)
if ! dpkg -s "libclang-rt-$clang_major-dev" >/dev/null 2>&1; then
    echo "installing: libclang-rt-$clang_major-dev"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "libclang-rt-$clang_major-dev"
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
