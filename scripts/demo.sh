#!/usr/bin/env bash
# The main job: build the library, build the C demo against it, run it.
set -euo pipefail
cd "$(dirname "$0")/.."
# A first build compiles the dependencies (faer, rayon): 3 to 5 minutes on
# two cores, so say so first and let cargo show each crate as it goes
# (never --quiet). Later builds take seconds.
echo "demo.sh: building libwlra with cargo (release); a first build compiles the dependencies," \
    "about 3 to 5 minutes on 2 cores, and cargo lists each crate as it compiles it" >&2
cargo build --release
mkdir -p target/demo
# The library's SONAME is libwlra.so.<major>; scripts/install.sh makes that
# link in an install prefix, here it is made next to the build.
major=$(sed -n 's/^#define WLRA_VERSION_MAJOR \([0-9]*\)/\1/p' include/wlra.h)
ln -sf libwlra.so "target/release/libwlra.so.$major"
cc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude examples/demo.c -o target/demo/demo \
    -Ltarget/release -Wl,-rpath,"$PWD/target/release" -lwlra -lm
exec target/demo/demo
