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

export GIT_AUTHOR_NAME="gluers bench" GIT_AUTHOR_EMAIL="bench@example.invalid"
export GIT_COMMITTER_NAME="gluers bench" GIT_COMMITTER_EMAIL="bench@example.invalid"
unset GLUERS_STORAGE_ROOT
say() { printf '== %s\n' "$*" >&2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/gluers-experiment-run.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
export GLUERS_STATE_DIR="$TMP/state"
PROJ="$TMP/forecast"

say "building the gluers binary"
(cd "$REPO" && cargo build --quiet -p gluers-cli)
GLUERS="${CARGO_TARGET_DIR:-$REPO/target}/debug/gluers"

say "project in $PROJ"
mkdir -p "$PROJ/data"
cp -r "$REPO/examples/forecast/src" "$REPO/examples/forecast/configs" "$REPO/examples/forecast/.cargo" "$PROJ/"
cp -r "$REPO/examples/forecast/data/input" "$REPO/examples/forecast/data/holdout" "$REPO/examples/forecast/data/final" "$PROJ/data/"
{
    cat <<TOML
[package]
name = "forecast-bench"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
anyhow = "1"
clap = { version = "4.5", features = ["derive"] }
gluers = { path = "$REPO/crates/gluers" }
serde = { version = "1", features = ["derive"] }
serde_json = "1"

TOML
    awk '/^\[/ { on = ($0 ~ /^\[profile\.dev[].]/) } on' "$REPO/Cargo.toml"
} >"$PROJ/Cargo.toml"
sed -i 's/--package forecast //' "$PROJ/.cargo/config.toml"
cp "$REPO/Cargo.lock" "$PROJ/Cargo.lock"
printf '/target/\n/data/runs/\n' >"$PROJ/.gitignore"
cd "$PROJ"
cargo metadata --format-version 1 >/dev/null   # trims the copied lock file
git init --quiet -b main
git add --all
git commit --quiet -m "forecast example"

say "experiment init (first build of the dependencies into the engine's target folder)"
t0=$(date +%s.%N)
"$GLUERS" experiment init forecast --goal "lower forecast_mape" >"$TMP/init.out"
t1=$(date +%s.%N)
INIT_S=$(echo "$t1 - $t0" | bc -l)

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
