#!/usr/bin/env bash
# Dense benchmark against NumPy (issue acceptance 4): wlra's fit (solver
# AUTO) against exact weighted ALS written in NumPy (batched Khatri-Rao Grams
# and np.linalg.solve), on a planted n = m = 3000 problem at k = 16 and 64,
# same start, threads and iterations, both measured by
# benches/versus_numpy/compare.py in one process. numpy and threadpoolctl
# come from PyPI into a venv of its own (target/numpy-venv). Arguments go to
# compare.py (--n, --m, --ranks, --iterations, --noise, --seed, --ridge,
# --threads, --solver; --help lists them).
#     bash benches/versus_numpy/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
unset WLRA_LIBRARY WLRA_PREFIX
. "$repo/scripts/release-lib.sh"
venv=$repo/target/numpy-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet numpy threadpoolctl
# Installed from the tree itself: a copy elsewhere loses the rust/ links
# (setup.py reads rust/Cargo.toml), as benches/implicit/run.sh does it.
clean_python_tree() { rm -rf "$repo/bindings/python/build" "$repo/bindings/python"/*.egg-info; }
trap clean_python_tree EXIT
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$repo/bindings/python"
clean_python_tree
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which older OpenBLAS builds on this
# kind of machine need, slow a current numpy's OpenBLAS: unset for this
# command only. Threads: compare.py gives both libraries --threads (default
# all cores), numpy's BLAS through threadpoolctl.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" "$repo/benches/versus_numpy/compare.py" "$@"
