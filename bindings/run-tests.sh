#!/usr/bin/env bash
# Tests of the Python and R packages (issues 6, 7 and 16), from a fresh
# machine with the packages of scripts/install-deps.sh: each package is
# installed the way its users install it, with cargo building libwlra and no
# WLRA_* environment variable, and its suite runs against what was
# installed. The Julia binding is not run (no Julia toolchain here); its
# source is checked instead.
#
#   Julia: scripts/check-julia-abi.py: every ccall of Wlra.jl against the
#     prototypes of include/wlra.h, every constant against its #define,
#     with its self-test (every one-change edit of a ccall type or a
#     constant is caught); then the check on a copy of Wlra.jl with one
#     ccall argument type, and on one with one constant, changed must fail.
#   Python: a fresh venv (numpy, scipy, pandas, pytest, build from PyPI);
#     `pip install bindings/python`; the wheel holds wlra/libwlra.so without
#     debug sections; the sdist holds the crate's sources and a wheel builds
#     from it; pytest.
#   R: `R CMD INSTALL bindings/r`; the testthat suite; `R CMD build` and
#     `R CMD check --no-manual` of the tarball: 0 errors, 0 warnings.
#
# The cargo builds from the repository share target/ (the packages build on
# the resolved Cargo.toml); the builds from the sdist and the R tarball,
# which hold their own copy of the crate, share target/package-builds
# through CARGO_TARGET_DIR, cargo's own variable. The C reference programs
# the suites compare with link against the repository's release library.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wlra-bindings.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "run-tests.sh: $*" >&2; exit 1; }

echo "== Julia binding against include/wlra.h"
julia_source=$repo/bindings/julia/src/Wlra.jl
# --self-test: and each one-change edit of a ccall type or a constant's
# number, made in memory, makes the check fail.
python3 "$repo/scripts/check-julia-abi.py" --self-test --julia "$julia_source"
# expect_drift_caught WHAT SED_SCRIPT EXPECTED: the check on a copy of Wlra.jl
# edited by SED_SCRIPT must fail, saying EXPECTED.
expect_drift_caught() {
    sed "$2" "$julia_source" >"$tmp/Wlra.jl"
    ! cmp -s "$julia_source" "$tmp/Wlra.jl" || fail "self-test ($1): the edit '$2' changed nothing in Wlra.jl"
    local out
    if out=$(python3 "$repo/scripts/check-julia-abi.py" --julia "$tmp/Wlra.jl" 2>&1); then
        fail "self-test ($1): the check passed a Wlra.jl with $1: $out"
    fi
    grep -qF "$3" <<<"$out" || { echo "$out"; fail "self-test ($1): the check failed without saying '$3'"; }
    echo "self-test, $1: the check fails as it should:"
    sed 's/^/    /' <<<"$out"
}
expect_drift_caught "wlra_set_option's value passed as Cfloat" \
    's/(Ptr{Cvoid}, Int32, Cdouble), model, option, value/(Ptr{Cvoid}, Int32, Cfloat), model, option, value/' \
    "ccall of wlra_set_option, argument 3 is Cfloat; wlra.h has \`double value\`"
expect_drift_caught "the seed option numbered 4" 's/:seed => 3,/:seed => 4,/' \
    "OPTIONS has seed = 4; include/wlra.h has WLRA_OPTION_SEED 3"

. "$repo/scripts/release-lib.sh"
reference_library=$WLRA_LIBRARY
unset WLRA_LIBRARY WLRA_PREFIX
export WLRA_REPO=$repo
package_builds=$repo/target/package-builds

# debug_sections FILE: the names of FILE's .debug_* sections, if any.
debug_sections() { readelf -S -W "$1" | sed -n 's/.*\(\.debug_[a-z_]*\).*/\1/p' | sort -u | paste -sd' '; }

echo "== Python package"
python3 -m venv "$tmp/venv"
py=$tmp/venv/bin/python
start=$SECONDS
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet numpy pytest scipy pandas build scikit-learn
echo "venv with test packages: $((SECONDS - start)) s"

# pip builds in the source tree (build/, wlra.egg-info); those go afterwards.
clean_python_tree() { rm -rf "$repo/bindings/python/build" "$repo/bindings/python"/*.egg-info; }
start=$SECONDS
"$py" -m pip install --quiet "$repo/bindings/python"
clean_python_tree
echo "pip install bindings/python: $((SECONDS - start)) s"

start=$SECONDS
"$py" -m pip wheel --quiet --no-deps -w "$tmp/wheel" "$repo/bindings/python"
clean_python_tree
wheel=$(ls "$tmp"/wheel/wlra-*.whl)
echo "pip wheel: $((SECONDS - start)) s: $(basename "$wheel"), $(stat -c %s "$wheel") bytes"
# (Listings go to variables before any grep: `cmd | grep -q` can fail on
# SIGPIPE under pipefail.)
listing=$(unzip -l "$wheel")
echo "$listing"
grep -q ' wlra/libwlra\.so$' <<<"$listing" || fail "the wheel holds no wlra/libwlra.so"
installed=$("$py" -c 'import os, wlra; print(os.path.join(os.path.dirname(wlra.__file__), "libwlra.so"))')
[ -f "$installed" ] || fail "pip install put no library at $installed"
echo "installed $installed: $(stat -c %s "$installed") bytes"
sections=$(debug_sections "$installed")
[ -z "$sections" ] || fail "$installed has debug sections: $sections"
(cd "$tmp" && "$py" -c '
import numpy as np, wlra
M = np.outer(np.arange(1.0, 6.0), np.arange(1.0, 4.0))
fit = wlra.fit(M, rank=1)
assert fit.objective < 1e-20, fit
print("fit with no environment variable:", fit)
')

start=$SECONDS
"$py" -m build --sdist --outdir "$tmp/sdist" "$repo/bindings/python" >"$tmp/sdist.log" 2>&1 || { cat "$tmp/sdist.log"; fail "python -m build --sdist failed"; }
clean_python_tree
sdist=$(ls "$tmp"/sdist/wlra-*.tar.gz)
tar tzf "$sdist" >"$tmp/sdist.txt"
for f in Cargo.toml Cargo.lock build.rs cbindgen.toml LICENSE src/lib.rs include/wlra.h \
    vendor/README.md vendor/private-gemm-x86/Cargo.toml vendor/private-gemm-x86/src/lib.rs; do
    grep -qx "wlra-[0-9.]*/rust/$f" "$tmp/sdist.txt" || fail "the sdist lacks rust/$f"
done
CARGO_TARGET_DIR=$package_builds "$py" -m pip wheel --quiet --no-deps -w "$tmp/sdist-wheel" "$sdist"
listing=$(unzip -l "$tmp"/sdist-wheel/wlra-*.whl)
grep -q ' wlra/libwlra\.so$' <<<"$listing" || fail "the wheel built from the sdist holds no library"
echo "sdist $(basename "$sdist") ($(wc -l <"$tmp/sdist.txt") files) and a wheel from it: $((SECONDS - start)) s"

# Run from outside the source tree so the installed package is what is tested.
(cd "$tmp" && PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -p no:cacheprovider -q -rs -s "$repo/bindings/python/tests")

echo "== R package"
rlib=$tmp/rlib
mkdir -p "$rlib"
start=$SECONDS
R CMD INSTALL --no-multiarch --preclean -l "$rlib" "$repo/bindings/r"
echo "R CMD INSTALL bindings/r: $((SECONDS - start)) s"
# Again over the tree the first install left built: cargo runs and the
# package's library is relinked (never a stale object); --clean then
# removes what the build left in the source tree.
out=$(R CMD INSTALL --no-multiarch --clean -l "$rlib" "$repo/bindings/r" 2>&1) || { echo "$out"; fail "R CMD INSTALL again failed"; }
grep -q '^wlra: cargo build' <<<"$out" && grep -q -- '-o wlra\.so ' <<<"$out" ||
    { echo "$out"; fail "a reinstall did not run cargo and relink wlra.so"; }
echo "R CMD INSTALL again over the built tree: cargo ran, wlra.so relinked"
R_LIBS="$rlib" WLRA_LIBRARY=$reference_library Rscript "$repo/bindings/r/tests/run.R"

start=$SECONDS
(cd "$tmp" && R CMD build --no-manual "$repo/bindings/r")
tarball=$(ls "$tmp"/wlra_*.tar.gz)
tar tzf "$tarball" >"$tmp/tarball.txt"
for f in Cargo.toml Cargo.lock build.rs LICENSE src/lib.rs include/wlra.h vendor/private-gemm-x86/Cargo.toml; do
    grep -qx "wlra/src/rust/$f" "$tmp/tarball.txt" || fail "the R tarball lacks src/rust/$f"
done
echo "R CMD build: $((SECONDS - start)) s: $(basename "$tarball"), $(stat -c %s "$tarball") bytes, $(wc -l <"$tmp/tarball.txt") files"
start=$SECONDS
(cd "$tmp" && CARGO_TARGET_DIR=$package_builds _R_CHECK_FORCE_SUGGESTS_=false \
    R CMD check --no-manual "$tarball") | tee "$tmp/check.log" || true
echo "R CMD check: $((SECONDS - start)) s"
status=$(grep '^Status:' "$tmp/check.log" || true)
[ -n "$status" ] || fail "R CMD check gave no status line"
notes=$(sed -n 's/^Status:.* \([0-9]*\) NOTEs\{0,1\}.*/\1/p' "$tmp/check.log")
echo "R CMD check: $status (NOTEs: ${notes:-0})"
if grep -q '^Status:.*\(ERROR\|WARNING\)' "$tmp/check.log"; then
    cat "$tmp"/wlra.Rcheck/00install.out 2>/dev/null | tail -40 || true
    fail "R CMD check: $status"
fi
