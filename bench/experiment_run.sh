#!/usr/bin/env bash
# Wall time of `gluers experiment run` after a one-file edit of the forecast
# example (what an agent waits for in the loop): export, frozen check,
# sandboxed incremental build, work tasks, sealed evaluation. Target: <= 4 s.
#
#   bench/experiment_run.sh            # 8 runs
#   RUNS=12 bench/experiment_run.sh
#
# In a temporary folder: a standalone copy of examples/forecast in a fresh
# git repository (depending on this checkout's crates/gluers), `experiment
# init forecast` (its first build of the dependencies into the engine's own
# target folder is reported apart), then RUNS times: add a line to
# src/tasks/train.rs, `gluers experiment run`, `gluers experiment discard`.
# Prints the median and range of the wall time and of each phase the engine
# reports in experiment_run.log; results go to bench/results/experiment_run.txt.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
RUNS="${RUNS:-8}"
RES="$BENCH_DIR/results"
mkdir -p "$RES"
OUT="$RES/experiment_run.txt"

NAME=experiment-run
# shellcheck source=bench/lib/forecast_project.sh
source "$BENCH_DIR/lib/forecast_project.sh"

LINES="$TMP/lines.txt"
: >"$LINES"
for i in $(seq 1 "$RUNS"); do
    say "run $i/$RUNS"
    # A code edit: the crate is compiled again and the binary linked again.
    printf '\n/// Bench edit %s.\nconst _BENCH_EDIT: usize = %s;\n' "$i" "$i" >>src/tasks/train.rs
    start=$(date +%s.%N)
    "$GLUERS" experiment run -m "bench edit $i" >"$TMP/run.out" || { cat "$TMP/run.out" >&2; exit 1; }
    end=$(date +%s.%N)
    printf '%s\t%s\n' "$(echo "($end - $start) * 1000" | bc -l)" \
        "$(grep '\[gluers experiment\] timings:' experiment_run.log | tail -n 1)" >>"$LINES"
    "$GLUERS" experiment discard >/dev/null
done

python3 - "$LINES" "$RUNS" "$INIT_S" <<'PY' | tee "$OUT"
import re, statistics, sys
path, runs, init_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rows = []
for line in open(path):
    wall, text = line.rstrip("\n").split("\t", 1)
    phases = {k.strip(): float(v) for k, v in re.findall(r"([a-z ]+?) ([0-9.]+) ms", text.split("timings:", 1)[1])}
    rows.append((float(wall), phases))
def dist(v):
    return f"median {statistics.median(v):8.1f} ms   min {min(v):8.1f}   max {max(v):8.1f}"
print(f"`gluers experiment run` after a one-line edit of the forecast example, {runs} runs")
print(f"init (sealed build of the dependencies, baseline): {init_s:.1f} s")
print(f"{'wall clock':<18}{dist([w for w, _ in rows])}")
for name in rows[0][1]:
    print(f"{name:<18}{dist([p[name] for _, p in rows])}")
PY
