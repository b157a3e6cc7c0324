#!/usr/bin/env bash
# MovieLens 100k, 5-fold cross-validated RMSE (issue 17, acceptance 3).
# The ratings are not redistributable: they are fetched here, at benchmark
# time, from the recbole 1.2.1 wheel on PyPI (recbole/dataset_example/
# ml-100k/ml-100k.inter) into target/movielens/, never committed.
#     bash benches/movielens/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
. "$repo/scripts/release-lib.sh"
data=$repo/target/movielens
mkdir -p "$data"
venv=$repo/target/movielens-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet numpy scipy
if [ ! -f "$data/ml-100k.inter" ]; then
    "$venv/bin/python" -m pip download --quiet --no-deps recbole==1.2.1 -d "$data"
    unzip -o -j -q "$data"/recbole-1.2.1-*.whl 'recbole/dataset_example/ml-100k/ml-100k.inter' -d "$data"
fi
pysrc=$(mktemp -d "${TMPDIR:-/tmp}/wlra-py.XXXXXX")
trap 'rm -rf "$pysrc"' EXIT
cp -rL "$repo/bindings/python/." "$pysrc/"
rm -rf "$pysrc/build" "$pysrc"/*.egg-info
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps "$pysrc"
"$venv/bin/python" "$repo/benches/movielens/cv.py" "$data/ml-100k.inter"
