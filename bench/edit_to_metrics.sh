#!/usr/bin/env bash
# Experiment-loop throughput on examples/forecast (gluers) vs bench/gluepy_forecast (Gluepy + pandas):
#   edit:   touch a work-task source, then `cargo manage dag forecast` (incremental build + run)
#   run:    the pipeline alone, already built
# Needs hyperfine (apt-get install hyperfine) and bench/setup-gluepy.sh.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
RUNS="${RUNS:-10}"
RES="$BENCH_DIR/results"
mkdir -p "$RES"
"$BENCH_DIR/setup-gluepy.sh" >/dev/null
cd "$REPO/examples/forecast"
cargo manage dag forecast -q >/dev/null   # build once
BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/forecast"
hyperfine --warmup 1 --runs "$RUNS" --export-markdown "$RES/edit_to_metrics.md" \
  --prepare 'touch src/tasks/predict.rs' -n 'gluers: edit -> metrics (cargo manage dag forecast)' 'cargo manage dag forecast -q' \
  -n 'gluers: run only (dev profile binary)' "$BIN dag forecast -q" \
  -n 'gluepy+pandas: run' "cd $BENCH_DIR/gluepy_forecast && $BENCH_DIR/.venv/bin/python manage.py dag forecast"
rm -rf data/runs
cat "$RES/edit_to_metrics.md"
