#!/usr/bin/env bash
# Implicit-feedback benchmark (issues 7 and 29): wlra against the Python
# package `implicit`, installed from PyPI into a venv of its own
# (target/implicit-venv), both measured by benches/implicit/compare.py in one
# run. Arguments go to compare.py:
#     bash benches/implicit/run.sh                      # the 20,000 x 8,000 problem
#     bash benches/implicit/run.sh --size movielens     # 138,000 x 27,000, 20M entries
#     bash benches/implicit/run.sh --size both          # both, one run
#     bash benches/implicit/run.sh --smoke              # seconds; asserts (scripts/test.sh runs it)
#
# wlra is installed the way bindings/run-tests.sh installs it: pip on
# bindings/python in place, whose rust/ links resolve to this repository
# (a copy elsewhere would leave them dangling), with cargo building libwlra
# into this repository's target/ (or CARGO_TARGET_DIR); pip's build/ and
# egg-info go afterwards. `implicit` must come as a wheel: a source build
# would need a C++ toolchain and minutes, so none is tried, and a Python
# without an `implicit` wheel fails here, loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
# The library inside the installed package is what is measured, never an
# override from the environment.
unset WLRA_LIBRARY WLRA_PREFIX
venv=$repo/target/implicit-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py=$venv/bin/python
start=$SECONDS
"$py" -m pip install --quiet --upgrade pip
if ! "$py" -m pip install --quiet --only-binary=:all: implicit numpy scipy threadpoolctl; then
    echo "benches/implicit/run.sh: no wheel of implicit (or numpy, scipy, threadpoolctl) for" \
        "$("$py" --version) on $(uname -m) could be installed from PyPI; see pip's message above" >&2
    exit 1
fi
clean_python_tree() { rm -rf "$repo/bindings/python/build" "$repo/bindings/python"/*.egg-info; }
trap clean_python_tree EXIT
"$py" -m pip install --quiet --force-reinstall --no-deps "$repo/bindings/python"
clean_python_tree
echo "# venv $venv ($("$py" --version), implicit $("$py" -c 'import importlib.metadata as m; print(m.version("implicit"))')," \
    "wlra $("$py" -c 'import wlra; print(wlra.library_version())')): $((SECONDS - start)) s"
# implicit's ALS runs its own threads: keep OpenBLAS to one, as it asks.
OPENBLAS_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 "$py" "$repo/benches/implicit/compare.py" "$@"
