#!/usr/bin/env bash
# Install wlra for C and C++ programs:
#
#     scripts/install.sh --prefix DIR [--features mpi]
#
# Builds the library in release mode (with the cargo features given) and
# lays out, under DIR:
#     include/wlra.h
#     include/wlra_mpi.h   only when the library has the distributed fits (--features mpi)
#     lib/libwlra.so.X.Y.Z (SONAME libwlra.so.X), symlinks libwlra.so.X, libwlra.so
#     lib/libwlra.a
#     lib/cmake/wlra/wlraConfig.cmake, wlraConfigVersion.cmake  (find_package(wlra))
#     lib/pkgconfig/wlra.pc                                     (pkg-config wlra)
# Running it again over the same prefix replaces these files (and removes a
# wlra_mpi.h the new library does not implement). The version is read from
# Cargo.toml; the templates live in cmake/. See README.md, "Using wlra from C/C++".
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

prefix=""
features=""
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; prefix=$2; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --features) [ $# -ge 2 ] || { usage >&2; exit 2; }; features=$2; shift 2 ;;
        --features=*) features=${1#--features=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; usage >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
cargo=${CARGO:-cargo}
manifest=$root/Cargo.toml

# The one place the version lives: Cargo.toml. `cargo pkgid` prints
# path+file:///...#1.2.3 (or #wlra@1.2.3).
pkgid=$("$cargo" pkgid --manifest-path "$manifest")
version=${pkgid##*[#@]}
if ! [[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "install.sh: cannot use version '$version' from $pkgid" >&2
    exit 1
fi
major=${BASH_REMATCH[1]}

# The header's macros are generated from the same numbers; refuse a stale one.
header=$root/include/wlra.h
header_version=$(for part in MAJOR MINOR PATCH; do
    sed -n "s/^#define WLRA_VERSION_$part \([0-9]*\)$/\1/p" "$header"
done | paste -sd.)
if [ "$header_version" != "$version" ]; then
    echo "install.sh: include/wlra.h says version '$header_version', Cargo.toml $version;" \
        "regenerate it with WLRA_BLESS=1 cargo test --test header" >&2
    exit 1
fi

# One release build gives libwlra.so (SONAME from build.rs) and libwlra.a, and
# rustc's list of the system libraries a static link of libwlra.a needs.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "install.sh: building wlra $version (release${features:+, features $features}); a first build" \
    "compiles the dependencies, about 3 to 5 minutes on 2 cores" >&2
"$cargo" rustc --manifest-path "$manifest" --release --lib ${features:+--features "$features"} \
    -- --print native-static-libs 2>&1 | tee "$log" >&2
native_libs=$(sed -n 's/^note: native-static-libs: //p' "$log" | tail -n 1)
if [ -z "$native_libs" ]; then
    echo "install.sh: rustc did not print native-static-libs" >&2
    exit 1
fi
target_dir=$("$cargo" metadata --manifest-path "$manifest" --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
built=$target_dir/release

# CMake spells the same libraries as a list: pthread is Threads::Threads, and
# libc is always linked by the compiler driver.
cmake_libs=()
for flag in $native_libs; do
    case $flag in
        -lpthread) cmake_libs+=(Threads::Threads) ;;
        -lc) ;;
        -l*) cmake_libs+=("${flag#-l}") ;;
        *) cmake_libs+=("$flag") ;;
    esac
done
cmake_libs=$(IFS=';'; echo "${cmake_libs[*]}")

pointer_bits=$("${RUSTC:-rustc}" --print cfg | sed -n 's/^target_pointer_width="\([0-9]*\)"$/\1/p')

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
lib=$prefix/lib

# Fill @NAME@ placeholders of a template in cmake/; fail on any left over.
render() {
    local template=$root/cmake/$1 dest=$2 script=() name value
    shift 2
    while [ $# -gt 0 ]; do
        name=$1 value=$(printf '%s' "$2" | sed 's/[\\|&]/\\&/g')
        script+=(-e "s|@$name@|$value|g")
        shift 2
    done
    sed "${script[@]}" "$template" >"$dest.tmp"
    if grep -n '@[A-Z_]*@' "$dest.tmp" >&2; then
        echo "install.sh: unfilled placeholder in cmake/$(basename "$template")" >&2
        rm -f "$dest.tmp"
        exit 1
    fi
    mv -f "$dest.tmp" "$dest"
}

# wlra_mpi.h declares the distributed fits, which only a library built with
# the `mpi` feature defines: installed with such a library (each function it
# declares checked against the library's symbols), removed otherwise, so a
# prefix never offers functions its library lacks.
mpi_header=$root/include/wlra_mpi.h
mpi_functions=$(sed -n 's/^wlra_status \(wlra_[a-z_]*\)(.*/\1/p' "$mpi_header")
[ -n "$mpi_functions" ] || { echo "install.sh: found no functions in $mpi_header" >&2; exit 1; }
exported=$(nm -D --defined-only "$built/libwlra.so" | awk '{print $NF}')
with_mpi=0
grep -qx wlra_fit_mpi <<<"$exported" && with_mpi=1
if [ "$with_mpi" = 1 ]; then
    for f in $mpi_functions; do
        grep -qx "$f" <<<"$exported" ||
            { echo "install.sh: libwlra.so has wlra_fit_mpi but not $f, which wlra_mpi.h declares" >&2; exit 1; }
    done
fi

install -d "$prefix/include" "$lib/cmake/wlra" "$lib/pkgconfig"
install -m 644 "$header" "$prefix/include/wlra.h"
if [ "$with_mpi" = 1 ]; then
    install -m 644 "$mpi_header" "$prefix/include/wlra_mpi.h"
else
    rm -f "$prefix/include/wlra_mpi.h"
fi
install -m 755 "$built/libwlra.so" "$lib/libwlra.so.$version"
ln -sfn "libwlra.so.$version" "$lib/libwlra.so.$major"
ln -sfn "libwlra.so.$major" "$lib/libwlra.so"
install -m 644 "$built/libwlra.a" "$lib/libwlra.a"
# The release profile strips libwlra.so (Cargo.toml); cargo does not strip
# static libraries, whose standard-library members carry debug info.
"${STRIP:-strip}" --strip-debug "$lib/libwlra.a"
render wlraConfig.cmake.in "$lib/cmake/wlra/wlraConfig.cmake" \
    WLRA_VERSION "$version" WLRA_VERSION_MAJOR "$major" \
    WLRA_STATIC_LINK_LIBRARIES "$cmake_libs"
render wlraConfigVersion.cmake.in "$lib/cmake/wlra/wlraConfigVersion.cmake" \
    WLRA_VERSION "$version" WLRA_VERSION_MAJOR "$major" \
    WLRA_SIZEOF_VOID_P "$((pointer_bits / 8))"
render wlra.pc.in "$lib/pkgconfig/wlra.pc" \
    WLRA_PREFIX "$prefix" WLRA_VERSION "$version" \
    WLRA_NATIVE_STATIC_LIBS "$native_libs"

# Under a prefix whose lib/ the system loader searches (/usr/local, /usr),
# refresh its cache so that programs and the bindings find libwlra.so.1
# without LD_LIBRARY_PATH.
if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null && ldconfig -v -N 2>/dev/null | grep -q "^$lib:"; then
    ldconfig
fi

echo "install.sh: installed wlra $version under $prefix$([ "$with_mpi" = 0 ] || echo ", with wlra_mpi.h")"
