#!/usr/bin/env bash
# The defaults before and after: this tree's library against the one built
# from an earlier revision, on the dense 4000 x 4000 fit (dense.c, the same
# program linked against each) and the implicit-feedback profile (each
# revision's own `cargo bench --bench implicit_profile`, 10 iterations),
# alternating the two five times (dense) and twice (implicit) in one run.
# Issue 25's acceptance 6: neither may be slower with the defaults.
#
#     bash benches/before_after/run.sh            # against c2740ca, before issue 25's AUTO work
#     bash benches/before_after/run.sh <revision>
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:-c2740ca}
out=target/before_after
before_tree=$out/tree-$rev
mkdir -p "$out/before" "$out/after"
lscpu | grep -E '^(Model name|L2|L3)' | sed 's/^/# /'
echo "# before: $rev ($(git log --format=%cs -1 "$rev")), after: $(git rev-parse --short HEAD) plus the working tree"
if [ ! -d "$before_tree" ]; then git worktree add -f --detach "$before_tree" "$rev" > /dev/null; fi
(cd "$before_tree" && CARGO_TARGET_DIR="$PWD/../before-target" cargo build --release -q &&
    CARGO_TARGET_DIR="$PWD/../before-target" cargo bench --bench implicit_profile --no-run -q 2> /dev/null)
cargo build --release -q
cargo bench --bench implicit_profile --no-run -q 2> /dev/null
cp "$out/before-target/release/libwlra.so" "$out/before/libwlra.so.1"
cp target/release/libwlra.so "$out/after/libwlra.so.1"
cc -O2 -Iinclude benches/before_after/dense.c -L"$out/after" -l:libwlra.so.1 -lm -o "$out/dense"
echo "## dense 4000 x 4000, k = 16, defaults: seconds per fit"
for _ in 1 2 3 4 5; do
    for side in before after; do
        printf '%-6s ' "$side"
        LD_LIBRARY_PATH="$out/$side" "$out/dense" 1
    done
done | tee "$out/dense.txt"
for side in before after; do
    grep "^$side" "$out/dense.txt" | awk '{print $4}' | sort -n | awk -v s="$side" \
        '{a[NR]=$1} END {printf "%s: median %.3f s\n", s, a[int((NR+1)/2)]}'
done
echo "## implicit feedback (benches/implicit_profile.rs), defaults: seconds for 10 iterations"
bench() { ls -t "$1"/release/deps/implicit_profile-* | grep -v '\.d$' | head -1; }
for _ in 1 2; do
    printf 'before '; (cd "$before_tree" && "$(bench ../before-target)" | grep -E '^ +10 ')
    printf 'after  '; "$(bench target)" | grep -E '^ +10 '
done
