#!/usr/bin/env bash
# scikit-learn's digits from Python with the defaults (issue 25, acceptance
# item 1): benches/digits/digits.py in a venv of its own (target/digits-venv,
# numpy and scikit-learn from PyPI), with the package installed the way its
# users install it (`pip install bindings/python`: cargo builds libwlra).
#     bash benches/digits/run.sh [--cap SECONDS] [--full] [pca het nan masks cv rank3]
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
venv=$repo/target/digits-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet numpy scikit-learn
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$repo/bindings/python"
# pip builds in the source tree (build/, wlra.egg-info); those go afterwards.
rm -rf "$repo/bindings/python/build" "$repo/bindings/python"/*.egg-info
unset WLRA_LIBRARY WLRA_PREFIX
cd "$repo/target"  # away from bindings/python: the installed package is what runs
"$venv/bin/python" "$repo/benches/digits/digits.py" "$@"
