#!/usr/bin/env bash
# A queue of 8 candidates on the forecast example, evaluated one at a time
# (`run --queued --jobs 1`) and then two at a time (`--jobs 2`, first with
# the copy of the engine's target folder into the new slot, then warm):
# wall time of each batch, and a check that the three batches log the same
# metrics for the same commits, in the same order.
#
#   bench/experiment_batch.sh          # results in bench/results/experiment_batch.txt
#
# In a temporary folder: a standalone copy of examples/forecast in a fresh
# git repository (as bench/experiment_run.sh), `experiment init forecast`,
# then 8 candidates, each a one-line edit of src/tasks/train.rs (a rebuild
# of the crate and a relink per candidate), queued with `experiment queue`.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
RES="$BENCH_DIR/results"
mkdir -p "$RES"
OUT="$RES/experiment_batch.txt"

NAME=experiment-batch
# shellcheck source=bench/lib/forecast_project.sh
source "$BENCH_DIR/lib/forecast_project.sh"


N=8
SHORTS=()
for i in $(seq 1 "$N"); do
    printf '\n/// Bench edit %s.\nconst _BENCH_EDIT: usize = %s;\n' "$i" "$i" >>src/tasks/train.rs
    out=$("$GLUERS" experiment queue -m "bench candidate $i")
    SHORTS+=("$(echo "$out" | awk '/^queued/ {print $2}')")
done

batch() { # jobs label
    local start end
    start=$(date +%s.%N)
    "$GLUERS" experiment run --queued --jobs "$1" >"$TMP/batch-$2.out" || { cat "$TMP/batch-$2.out" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l >"$TMP/secs-$2"
    local first
    first=$(awk '/^batch of/ {split($6, r, "[.][.]"); print r[1]}' "$TMP/batch-$2.out")
    for id in $(seq "$first" $((first + N - 1))); do
        "$GLUERS" experiment discard "$id" >/dev/null
    done
    for s in "${SHORTS[@]}"; do "$GLUERS" experiment queue "$s" >/dev/null; done
}

say "batch of $N, --jobs 1"
batch 1 seq
say "batch of $N, --jobs 2 (first: the new slot's target folder is copied)"
batch 2 par-first
say "batch of $N, --jobs 2 (warm)"
batch 2 par-warm
"$GLUERS" experiment verify >/dev/null

python3 - "$TMP" "$N" "$INIT_S" experiment_log.tsv <<'PY' | tee "$OUT"
import sys
tmp, n, init_s, log = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rows = [l.rstrip("\n").split("\t") for l in open(log)][2:]  # header, baseline
batches = [rows[i * n:(i + 1) * n] for i in range(3)]
key = lambda b: [(r[3], r[5], r[6]) for r in b]  # metrics, description, commit
same = key(batches[0]) == key(batches[1]) == key(batches[2])
secs = {l: float(open(f"{tmp}/secs-{l}").read()) for l in ("seq", "par-first", "par-warm")}
print(f"queue of {n} one-line edits of the forecast example (build, work tasks, sealed evaluation each)")
print(f"init (sealed build of the dependencies, baseline): {init_s:.1f} s")
print(f"--jobs 1                                  {secs['seq']:7.1f} s  ({secs['seq'] / n:.2f} s per candidate)")
print(f"--jobs 2, first (copies the target folder) {secs['par-first']:6.1f} s")
print(f"--jobs 2, warm                             {secs['par-warm']:6.1f} s  (speed-up {secs['seq'] / secs['par-warm']:.2f}x)")
print(f"rows, commits and metrics identical across the three batches: {'yes' if same else 'NO'}")
sys.exit(0 if same else 1)
PY
