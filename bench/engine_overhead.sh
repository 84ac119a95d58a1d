#!/usr/bin/env bash
# The experiment engine's own overhead per `experiment run`: everything but
# the candidate's build, its work tasks and the sealed evaluation, with a
# 500 MB untracked frozen data folder. Target: at most 100 ms.
#
#   bench/engine_overhead.sh              # 10 runs
#   RUNS=20 MB=500 bench/engine_overhead.sh
#   KEEP_TMP=1 bench/engine_overhead.sh   # leave the temporary repository
#
# What it does, in a temporary directory:
#   1. a standalone copy of bench/gluers_project (DAG `bench`, 2 work tasks and
#      1 evaluation task) in a fresh git repository, depending on this
#      checkout's crates/gluers, with the workspace's dev profiles and
#      Cargo.lock; built once before the first commit (cargo trims the lock);
#   2. MB files of 1 MiB of random bytes under data/frozen/ (ignored by
#      .gitignore, so untracked: the engine hashes them at init and keeps a
#      stat cache);
#   3. `experiment init bench --goal x --freeze data/frozen`;
#   4. RUNS times: a one-line config edit, `experiment run -m ...`, then
#      `experiment discard`;
#   5. one more run after `touch`ing every frozen file (stat cache
#      invalidated: the whole folder is hashed again).
# Each run appends a line to experiment_run.log:
#   [gluers experiment] timings: open ..., engine overhead X ms, total Y ms
# The script collects those lines and prints the distribution; the first
# run after init is reported separately. Results also go to
# bench/results/engine_overhead.txt.
#
# The engine is this checkout's `gluers` binary (package gluers-cli), built
# first. Cargo: CARGO_TARGET_DIR is honoured (sharing it with the workspace
# reuses compiled dependencies); otherwise the copy builds into its own target/.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
RUNS="${RUNS:-10}"
MB="${MB:-500}"
RES="$BENCH_DIR/results"
mkdir -p "$RES"
OUT="$RES/engine_overhead.txt"

export GIT_AUTHOR_NAME="gluers bench" GIT_AUTHOR_EMAIL="bench@example.invalid"
export GIT_COMMITTER_NAME="gluers bench" GIT_COMMITTER_EMAIL="bench@example.invalid"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GLUERS_STORAGE_ROOT

say() { printf '== %s\n' "$*" >&2; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/gluers-engine-overhead.XXXXXX")"
cleanup() {
    if [ -n "${KEEP_TMP:-}" ]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
# The engine's state (exports, target folder, sealed copies) stays in the
# temporary folder too.
export GLUERS_STATE_DIR="$TMP/state"
PROJ="$TMP/proj"
mkdir -p "$PROJ"

say "building the gluers binary"
(cd "$REPO" && cargo build --quiet -p gluers-cli)
GLUERS="${CARGO_TARGET_DIR:-$REPO/target}/debug/gluers"

# ---- 1. the project ------------------------------------------------------------
say "project in $PROJ"
cp -r "$BENCH_DIR/gluers_project/src" "$BENCH_DIR/gluers_project/configs" "$PROJ/"
{
    cat <<EOF
[package]
name = "gluers-bench"
description = "Standalone copy of bench/gluers_project for bench/engine_overhead.sh."
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
gluers = { path = "$REPO/crates/gluers" }
serde = { version = "1", features = ["derive"] }
serde_json = { version = "1", features = ["preserve_order"] }

[workspace]

EOF
    # The workspace's [profile.dev] and [profile.dev.package."*"] sections.
    awk '/^\[/ { on = ($0 ~ /^\[profile\.dev[].]/) } on' "$REPO/Cargo.toml"
} >"$PROJ/Cargo.toml"
cp "$REPO/Cargo.lock" "$PROJ/Cargo.lock"
cat >"$PROJ/.gitignore" <<'EOF'
/target/
/data/frozen/
EOF
cd "$PROJ"
say "building it once (cargo trims the copied Cargo.lock)"
cargo build --quiet
git init --quiet -b main
git add --all
git commit --quiet -m "bench project"

# ---- 2. the frozen data ----------------------------------------------------------
say "writing $MB MiB of random data to data/frozen/ ($MB files)"
mkdir -p data/frozen
head -c "$((MB * 1048576))" /dev/urandom | split -b 1048576 -d -a 4 - data/frozen/part-
sync

# ---- 3. init -----------------------------------------------------------------------
say "experiment init (hashes the frozen folder, builds the sealed evaluator, runs the baseline)"
t0=$(date +%s.%N)
"$GLUERS" experiment init bench --goal x --freeze data/frozen >"$TMP/init.out"
t1=$(date +%s.%N)
INIT_S=$(echo "$t1 - $t0" | bc -l)

# ---- 4. the runs -------------------------------------------------------------------
timings_line() { grep '\[gluers experiment\] timings:' experiment_run.log | tail -n 1; }
LINES="$TMP/timings.txt"
: >"$LINES"
one_run() { # $1 label, $2 description
    local start end
    start=$(date +%s.%N)
    "$GLUERS" experiment run -m "$2" >"$TMP/run.out" || {
        cat "$TMP/run.out" >&2
        exit 1
    }
    end=$(date +%s.%N)
    printf '%s\t%s\t%s\n' "$1" "$(echo "($end - $start) * 1000" | bc -l)" "$(timings_line)" >>"$LINES"
    "$GLUERS" experiment discard >/dev/null
}
for i in $(seq 1 "$RUNS"); do
    say "run $i/$RUNS"
    sed -i "s/^  repeat: .*/  repeat: $((i + 3))/" configs/context.yaml
    one_run "run$i" "repeat $((i + 3))"
done
say "run after touching every frozen file (stat cache invalidated)"
sed -i "s/^  repeat: .*/  repeat: 2/" configs/context.yaml
touch data/frozen/*
one_run "touched" "repeat 2 after touch"

# ---- 5. the figures -----------------------------------------------------------------
python3 - "$LINES" "$RUNS" "$MB" "$INIT_S" <<'EOF' | tee "$OUT"
import re, statistics, sys
path, runs, mb, init_s = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
rows = []
for line in open(path):
    label, wall, text = line.rstrip("\n").split("\t", 2)
    phases = {k.strip(): float(v) for k, v in re.findall(r"([a-z ]+?) ([0-9.]+) ms", text.split("timings:", 1)[1])}
    rows.append((label, float(wall), phases))
names = list(rows[0][2].keys())
print(f"engine overhead per `experiment run`, {mb} MiB untracked frozen folder ({mb} files), {runs} runs")
print(f"init (hash + sealed build + baseline, wall clock): {init_s:.1f} s")
print()
print("run       " + "".join(f"{n:>17}" for n in names) + f"{'command wall':>15}")
for label, wall, p in rows:
    print(f"{label:<10}" + "".join(f"{p[n]:>14.1f} ms" for n in names) + f"{wall:>12.0f} ms")
print()
first = rows[0]
warm = rows[1:runs]
def dist(n, rs):
    v = [r[2][n] for r in rs]
    return f"median {statistics.median(v):.1f} ms, min {min(v):.1f} ms, max {max(v):.1f} ms"
print(f"first run after init:          engine overhead {first[2]['engine overhead']:.1f} ms")
if warm:
    print(f"runs 2..{runs} (stat cache warm):  engine overhead {dist('engine overhead', warm)}")
    for n in names:
        if n not in ("engine overhead",):
            print(f"  {n:<16} {dist(n, warm)}")
allr = rows[:runs]
print(f"all {runs} runs:                   engine overhead {dist('engine overhead', allr)}")
t = rows[-1]
print(f"after touching every frozen file: engine overhead {t[2]['engine overhead']:.1f} ms "
      f"(frozen check {t[2]['frozen check']:.1f} ms: {mb} MiB hashed again)")
print()
print("command wall = the whole `gluers experiment run` (the engine binary's start, build,")
print("work tasks, evaluation).")
EOF
