#!/usr/bin/env bash
# Implicit-feedback benchmark (issue 7): wlra against the Python package
# `implicit`, installed from PyPI into a venv of its own (target/implicit-venv),
# both measured by benches/implicit/compare.py in one run.
#     bash benches/implicit/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. "$repo/scripts/release-lib.sh"
venv=$repo/target/implicit-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet implicit numpy scipy threadpoolctl
pysrc=$(mktemp -d "${TMPDIR:-/tmp}/wlra-py.XXXXXX")
trap 'rm -rf "$pysrc"' EXIT
cp -r "$repo/bindings/python/." "$pysrc/"
rm -rf "$pysrc/build" "$pysrc"/*.egg-info
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$pysrc"
# implicit's ALS runs its own threads: keep OpenBLAS to one, as it asks.
OPENBLAS_NUM_THREADS=1 "$venv/bin/python" "$repo/benches/implicit/compare.py"
