#!/usr/bin/env bash
# Strong and weak scaling of the distributed fit (docs/mpi.md):
#   bash benches/mpi/run.sh
# mpirun -np 1, 2 and 4 (--oversubscribe) on this machine, one thread per
# rank; seconds per iteration (the slowest rank's), and the bytes per
# half-step summed over the ranks next to the model's 8 (P - 1) n k and
# 8 (P - 1) m k.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 RAYON_NUM_THREADS=1

cores=$(nproc)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores"
lscpu | grep -E '^(L1d|L2|L3) cache' | sed 's/  */ /g'
echo "load before: $(uptime | sed 's/.*load/load/')"
echo "command: bash benches/mpi/run.sh ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"

# target/release/libwlra.so is the default build again afterwards.
trap 'cargo build --release --lib --quiet' EXIT
cargo build --release --features mpi --quiet
out=target/mpi-bench
lib=$out/lib
mkdir -p "$lib"
cp target/release/libwlra.so "$lib/libwlra.so.1"
ln -sf libwlra.so.1 "$lib/libwlra.so"
mpicc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude benches/mpi/bench_mpi.c \
    -L"$lib" -lwlra -lm -Wl,-rpath,"$PWD/$lib" -o "$out/bench_mpi"

run() {
    local np=$1
    shift
    local note=""
    [ "$np" -gt "$cores" ] && note="  [oversubscribed: $np ranks on $cores cores]"
    local line
    # Waiting ranks yield the core (the machine may be shared or oversubscribed).
    line=$(timeout 600 mpirun --oversubscribe --mca mpi_yield_when_idle 1 -np "$np" "$out/bench_mpi" "$@")
    echo "$line$note"
}

iters=${ITERATIONS:-5}
echo "-- strong scaling (fixed problem)"
for np in 1 2 4; do run "$np" dense 2000 1500 16 "$iters"; done
for np in 1 2 4; do run "$np" csr 20000 5000 16 "$iters"; done
echo "-- weak scaling (rows per rank fixed)"
for np in 1 2 4; do run "$np" dense $((1000 * np)) 1500 16 "$iters"; done
for np in 1 2 4; do run "$np" csr $((10000 * np)) 5000 16 "$iters"; done
echo "load after: $(uptime | sed 's/.*load/load/')"
