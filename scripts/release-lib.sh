# Sourced by scripts that load libwlra from the build tree (bindings tests,
# benches/movielens, benches/versus_numpy): builds the release library and
# exports WLRA_LIBRARY.
# Expects $repo (the repository root).
echo "== cargo build --release"
cargo build --release
# libwlra.so carries the SONAME libwlra.so.1, which cargo's target/release
# lacks: link and load through a directory holding both names (what
# scripts/install.sh lays out under PREFIX/lib).
libdir=$repo/target/bindings-lib
mkdir -p "$libdir"
ln -sfn "$repo/target/release/libwlra.so" "$libdir/libwlra.so"
ln -sfn "$repo/target/release/libwlra.so" "$libdir/libwlra.so.1"
export WLRA_LIBRARY=$libdir/libwlra.so
