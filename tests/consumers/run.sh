#!/usr/bin/env bash
# Packaging checks, as a C or C++ user meets wlra: install it with
# scripts/install.sh into a temporary prefix, then build and run against it
#   - a C++ program found by CMake, linked with wlra::wlra and wlra::wlra_static (ctest),
#   - a C program built from pkg-config flags alone, dynamically and statically,
# and check what the ELF files and the header promise (SONAME resolution, exported
# symbols, no debug sections, a strict C99 / C++11 compile of wlra.h). One PASS or FAIL line per check,
# and last "packaging: N passed, M failed"; exits non-zero on any failure.
# WLRA_KEEP_TMP=1 keeps the temporary directory for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/consumers

for tool in cargo cmake ctest pkg-config cc c++ readelf nm ldd; do
    command -v "$tool" >/dev/null || {
        echo "run.sh: '$tool' not found; run bash scripts/install-deps.sh" >&2
        exit 1
    }
done

work=$(mktemp -d)
if [ "${WLRA_KEEP_TMP:-0}" = 1 ]; then
    echo "keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc=${CC:-cc}
cxx=${CXX:-c++}

pkgid=$(cargo pkgid)
version=${pkgid##*[#@]}
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
so=$prefix/lib/libwlra.so.$version

passed=0
failed=0
exec 3>&1
note() { echo "    $*" >&3; }
die() {
    echo "$*" >&2
    exit 1
}

# check NAME FUNCTION: run FUNCTION in a subshell under `set -e` (not inside an
# `if`, where bash would switch -e off), its output going to a log shown on failure.
check() {
    local name=$1 fn=$2 rc
    echo "== $name"
    set +e
    (
        set -e
        "$fn"
    ) >"$work/$fn.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name (exit $rc); the end of its output:"
        tail -n 40 "$work/$fn.log" | sed 's/^/    | /'
    fi
}

summary() {
    echo "packaging: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# Names, kinds and link targets under the prefix, plus checksums of the text files.
snapshot() {
    (cd "$prefix" && find . -printf '%p %y %l\n' | sort &&
        md5sum include/wlra.h lib/cmake/wlra/*.cmake lib/pkgconfig/wlra.pc)
}

install_layout() {
    bash scripts/install.sh --prefix "$prefix"
    local f
    for f in include/wlra.h "lib/libwlra.so.$version" lib/libwlra.a \
        lib/cmake/wlra/wlraConfig.cmake lib/cmake/wlra/wlraConfigVersion.cmake \
        lib/pkgconfig/wlra.pc; do
        [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ] || die "missing $f"
    done
    [ "$(readlink "$prefix/lib/libwlra.so.$major")" = "libwlra.so.$version" ] ||
        die "lib/libwlra.so.$major is not a link to libwlra.so.$version"
    [ "$(readlink "$prefix/lib/libwlra.so")" = "libwlra.so.$major" ] ||
        die "lib/libwlra.so is not a link to libwlra.so.$major"
    cmp include/wlra.h "$prefix/include/wlra.h"
    # wlra_mpi.h comes only with a library built with `--features mpi`.
    [ ! -e "$prefix/include/wlra_mpi.h" ] || die "a build without mpi installed include/wlra_mpi.h"
    local soname
    soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
    [ "$soname" = "libwlra.so.$major" ] || die "SONAME is '$soname', not libwlra.so.$major"
    note "$(cd "$prefix" && find . -type f -o -type l | sort | tr '\n' ' ')"
    note "lib/libwlra.so -> $(readlink "$prefix/lib/libwlra.so") -> $(readlink "$prefix/lib/libwlra.so.$major"), SONAME $soname"
}

install_again() {
    snapshot >"$work/before"
    bash scripts/install.sh --prefix "$prefix"
    snapshot >"$work/after"
    diff "$work/before" "$work/after" || die "a second install changed the layout"
    note "second install over the same prefix: same files, links and contents"
}

cmake_consumers() {
    cmake -S "$here/cmake" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_BUILD_TYPE=Release
    cmake --build "$work/cmake" -j 2
    (cd "$work/cmake" && ctest --output-on-failure -V) >"$work/ctest.out"
    cat "$work/ctest.out"
    while read -r line; do note "$line"; done < <(grep -E 'relative error|tests passed' "$work/ctest.out")
}

pkgconfig_dynamic() {
    [ "$(pkg-config --modversion wlra)" = "$version" ] || die "pkg-config --modversion is not $version"
    local flags libdir
    flags=$(pkg-config --cflags --libs wlra)
    libdir=$(pkg-config --variable=libdir wlra)
    note "pkg-config --cflags --libs wlra: $flags"
    # shellcheck disable=SC2086 # pkg-config output is a list of flags
    "$cc" -std=c99 -Wall -Wextra -Werror -I tests/c "$here/pkgconfig/main.c" \
        -o "$work/c_dynamic" $flags -Wl,-rpath,"$libdir" -lm
    note "$("$work/c_dynamic")"
}

pkgconfig_static() {
    note "pkg-config --static --libs wlra: $(pkg-config --static --libs wlra)"
    # As the README shows: -l:libwlra.a makes the linker take the
    # archive although libwlra.so sits beside it, then Libs.private follows.
    # shellcheck disable=SC2046 # pkg-config output is a list of flags
    "$cc" -std=c99 -Wall -Wextra -Werror -I tests/c "$here/pkgconfig/main.c" \
        -o "$work/c_static" $(pkg-config --cflags wlra) -L"$(pkg-config --variable=libdir wlra)" \
        -l:libwlra.a $(pkg-config --static --libs-only-l wlra | sed 's/-lwlra //') -lm
    note "$("$work/c_static")"
}

# (a) Shared consumers record libwlra.so.<major> and the loader finds it under
# the prefix; static consumers do not depend on libwlra at all. (Output goes
# to variables before any grep: `cmd | grep -q` can fail on SIGPIPE under pipefail.)
dynamic_linking() {
    local exe needed resolved
    for exe in cmake/consumer_shared c_dynamic; do
        needed=$(readelf -d "$work/$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        [ "$(grep wlra <<<"$needed")" = "libwlra.so.$major" ] ||
            die "$exe: NEEDED entries are not libwlra.so.$major:" $needed
        resolved=$(ldd "$work/$exe")
        resolved=$(grep libwlra <<<"$resolved") || die "$exe: ldd shows no libwlra"
        grep -q "^\s*libwlra\.so\.$major => $prefix/lib/libwlra\.so\.$major (" <<<"$resolved" ||
            die "$exe: $resolved"
        note "ldd $exe: $(sed 's/^\s*//' <<<"$resolved")"
    done
    for exe in cmake/consumer_static c_static; do
        [ -x "$work/$exe" ] || die "$exe was not built"
        needed=$(readelf -d "$work/$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        resolved=$(ldd "$work/$exe")
        if grep wlra <<<"$needed$resolved"; then
            die "$exe depends on libwlra dynamically"
        fi
        note "ldd $exe: no libwlra; needs" $needed
    done
}

# (b) The shared library exports the C ABI's functions and nothing else: no
# Rust-mangled (_ZN, _R) symbols, no data, and exactly the functions wlra.h declares.
exported_symbols() {
    nm -D --defined-only "$so" >"$work/nm.out"
    cat "$work/nm.out"
    local stray
    stray=$(awk '$2 != "T" || $3 !~ /^wlra_[a-z0-9_]+$/' "$work/nm.out")
    [ -z "$stray" ] || die "exported besides wlra_* functions:
$stray"
    awk '{print $3}' "$work/nm.out" | sort -u >"$work/exported"
    grep -oE '\bwlra_[a-z0-9_]+\(' "$prefix/include/wlra.h" | tr -d '(' | sort -u >"$work/declared"
    diff "$work/declared" "$work/exported" ||
        die "exports differ from wlra.h's functions (< declared only, > exported only)"
    note "nm -D --defined-only: $(wc -l <"$work/exported") symbols, all type T wlra_*, same as wlra.h declares"
    note "$(tr '\n' ' ' <"$work/exported")"
}

# (d) The installed libraries carry no debug info (Cargo.toml's release
# profile strips libwlra.so; install.sh strips libwlra.a): no .debug_*
# section in the shared library or in any member of the archive.
no_debug_info() {
    local lib sections
    for lib in "$so" "$prefix/lib/libwlra.a"; do
        sections=$(readelf -S -W "$lib" | sed -n 's/.*\(\.debug_[a-z_]*\).*/\1/p' | sort -u | tr '\n' ' ')
        [ -z "$sections" ] || die "$lib has debug sections: $sections"
        note "$(basename "$lib"): $(stat -c %s "$lib") bytes, no .debug_* sections"
    done
}

# (c) wlra.h compiles cleanly as strict C99 and C++11, and its version macros
# agree with wlra_version() of the installed library.
header_program() {
    local compiler=$1 exe=$2
    shift 2
    "$compiler" "$@" -Wall -Wextra -pedantic -Werror -I "$prefix/include" \
        "$here/header/version_check.c" -o "$work/$exe" \
        -L "$prefix/lib" -lwlra -Wl,-rpath,"$prefix/lib"
    note "$exe ($*): $("$work/$exe")"
}
header_c99() { header_program "$cc" header_c99 -std=c99; }
header_cxx11() { header_program "$cxx" header_cxx11 -x c++ -std=c++11; }

# The version file takes X.Y only for X = our major and X.Y <= our version.
version_file() {
    local wanted range="$major.0...<$((major + 1)).0"
    cmake -S "$here/cmake" -B "$work/cmake-range" -DCMAKE_PREFIX_PATH="$prefix" \
        -DWLRA_REQUIRED_VERSION="$range"
    note "find_package(wlra $range REQUIRED) accepted"
    for wanted in "$((major + 1)).0" "$((major - 1)).9" "$major.$((minor + 1))"; do
        if cmake -S "$here/cmake" -B "$work/cmake-$wanted" -DCMAKE_PREFIX_PATH="$prefix" \
            -DWLRA_REQUIRED_VERSION="$wanted" >"$work/cmake-$wanted.log" 2>&1; then
            die "find_package(wlra $wanted) accepted version $version"
        fi
        grep -q 'considered but not accepted' "$work/cmake-$wanted.log" ||
            die "find_package(wlra $wanted) failed for another reason: $(cat "$work/cmake-$wanted.log")"
        note "find_package(wlra $wanted REQUIRED) refused ($version installed)"
    done
}

# The CMake package works from wherever the installed tree is moved.
relocatable() {
    cp -a "$prefix" "$work/moved"
    if grep -rn "$prefix" "$work/moved/lib/cmake"; then
        die "the CMake package names the install prefix"
    fi
    cmake -S "$here/cmake" -B "$work/cmake-moved" -DCMAKE_PREFIX_PATH="$work/moved"
    cmake --build "$work/cmake-moved" --target consumer_shared
    local resolved
    resolved=$(ldd "$work/cmake-moved/consumer_shared")
    grep -q "=> $work/moved/lib/libwlra\.so\.$major (" <<<"$resolved" ||
        die "consumer of the moved tree does not load its library: $resolved"
    "$work/cmake-moved/consumer_shared"
    note "prefix copied elsewhere: found, linked and run from the copy"
}

check "install.sh --prefix lays out headers, libraries, CMake and pkg-config files" install_layout
if [ "$failed" -ne 0 ]; then
    summary
    exit 1
fi
check "install.sh is idempotent" install_again
check "CMake C++ consumer, wlra::wlra and wlra::wlra_static, run by ctest" cmake_consumers
check "pkg-config C consumer, dynamic" pkgconfig_dynamic
check "pkg-config C consumer, static (libwlra.a + Libs.private)" pkgconfig_static
check "(a) ldd: shared consumers load libwlra.so.$major by SONAME, static ones need no libwlra" dynamic_linking
check "(b) exported symbols: only the wlra_* functions of wlra.h" exported_symbols
check "(d) installed libwlra.so and libwlra.a have no debug sections" no_debug_info
check "(c) strict header compile, C99" header_c99
check "(c) strict header compile, C++11 (extern \"C\")" header_cxx11
check "CMake version file takes $major.x up to $version, refuses other majors" version_file
check "CMake package is relocatable" relocatable
summary
