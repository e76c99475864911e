#!/usr/bin/env bash
# Runs the cargo-fuzz (libFuzzer) targets under fuzz/ for SECONDS each (default 60): one TARGET,
# or all of them in turn.
#   bash scripts/fuzz.sh [TARGET] [SECONDS]
#
# cargo-fuzz builds with `-Zsanitizer=address` and other unstable flags, which need a nightly
# compiler. The project pins no nightly: the stable toolchain runs them with RUSTC_BOOTSTRAP=1,
# which unlocks nightly-only flags on a stable rustc (fine for a fuzzing build that ships
# nowhere; the ordinary build never sets it). fuzz/ is its own cargo project, excluded from the
# workspace, so `cargo build`/`cargo test` never see these flags.
#
# Seeds are read from fuzz/corpus/TARGET/ (committed) and never written: what libFuzzer finds
# goes to fuzz/corpus-run/TARGET/ (ignored by git). A crashing input lands in
# fuzz/artifacts/TARGET/; once the bug is fixed, commit it there and the ordinary test suite
# (crates/uca/tests/fuzz_corpus.rs) replays it from then on. CARGO_TARGET_DIR is honored.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-60}

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

all=$(cargo fuzz list)
if [ "$target" = all ]; then
    targets=$all
elif grep -qx -- "$target" <<<"$all"; then
    targets=$target
else
    echo "unknown fuzz target '$target'; the targets are:" $all >&2
    exit 2
fi

for t in $targets; do
    mkdir -p "fuzz/corpus-run/$t"
    echo "== $t: ${seconds}s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "fuzz/corpus-run/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -max_len=8192
done
