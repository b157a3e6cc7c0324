#!/usr/bin/env bash
# Tests of the Python and R bindings (issues 6 and 7), from a fresh machine
# with the packages of scripts/install-deps.sh (r-cran-matrix for the sparse
# tests): builds libwlra, a Python venv under target/py-venv (numpy, pytest,
# scipy from PyPI), installs both bindings and runs their suites. The Julia
# binding is not run: no Julia toolchain here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

. "$repo/scripts/release-lib.sh"
export WLRA_INCLUDE=$repo/include
export WLRA_REPO=$repo
unset WLRA_PREFIX

echo "== Python binding"
venv=$repo/target/py-venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet numpy pytest scipy
# Install from a copy: pip's in-tree build would leave build/ and *.egg-info
# in the source tree.
pysrc=$(mktemp -d "${TMPDIR:-/tmp}/wlra-py.XXXXXX")
rlib=$(mktemp -d "${TMPDIR:-/tmp}/wlra-rlib.XXXXXX")
trap 'rm -rf "$pysrc" "$rlib"' EXIT
cp -r "$repo/bindings/python/." "$pysrc/"
rm -rf "$pysrc/build" "$pysrc"/*.egg-info
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$pysrc"
# Run from outside the source tree so the installed package is what is tested.
(cd "$repo/target" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs -s "$repo/bindings/python/tests")

echo "== R binding"
R CMD INSTALL --no-multiarch --preclean --clean -l "$rlib" "$repo/bindings/r"
R_LIBS="$rlib" Rscript "$repo/bindings/r/tests/run.R"
