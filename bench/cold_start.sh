#!/usr/bin/env bash
# Cold start of a new project: `gluers new` to the first metrics, with an
# empty target folder, then a second new project sharing that target folder
# (CARGO_TARGET_DIR), which builds only its own crate.
#
#   bench/cold_start.sh        # prints both times; results in bench/results/cold_start.txt
#
# Uses this checkout's `gluers` (built first) and a fresh temporary target
# folder, so the first figure is a true cold build of every dependency.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
(cd "$REPO" && cargo build --quiet -p gluers-cli)
GLUERS="${CARGO_TARGET_DIR:-$REPO/target}/debug/gluers"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export CARGO_TARGET_DIR="$WORK/shared-target"
mkdir -p "$BENCH_DIR/results"
OUT="$BENCH_DIR/results/cold_start.txt"

time_first_metrics() {
    local name=$1 start end
    start=$(date +%s.%N)
    "$GLUERS" new "$name" --path "$WORK" >/dev/null
    # The workspace's lock: the same dependency versions a user resolves today.
    cp "$REPO/Cargo.lock" "$WORK/$name/Cargo.lock"
    (cd "$WORK/$name" && cargo manage dag sample 2>/dev/null | grep -q '^metric:mae=')
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

first=$(time_first_metrics cold_one)
second=$(time_first_metrics cold_two)
{
    echo "date: $(date -u +%FT%TZ)  cores: $(nproc)  load: $(cut -d' ' -f1 /proc/loadavg)"
    echo "first project, cold target folder:   ${first} s to the first metrics"
    echo "second project, same target folder:  ${second} s to the first metrics"
} | tee "$OUT"
