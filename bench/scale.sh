#!/usr/bin/env bash
# The forecast pipeline as its data grows: gluers (examples/forecast, release),
# gluers with polars (bench/forecast_polars) and Gluepy 1.6.0 + pandas
# (bench/gluepy_forecast), on the input at 1x, 10x and 100x.
#
#   bench/scale.sh                        # SIZES="1 10 100"
#   SIZES="100" RUNS=3 bench/scale.sh     # one size, fewer runs
#   POLARS=0 bench/scale.sh               # without the polars variant
#
# The inputs are made by bench/scale/gen_inputs.py: the input repeated with
# timestamps shifted back by whole years, so the last 28 days and the metrics
# stay the same at every size (checked: every side must print the 1x metrics).
# Wall time: hyperfine, RUNS runs after WARMUP, the median reported; the run
# folders are removed before each run. Peak memory: /usr/bin/time -v, maximum
# resident set size of the whole process, RUNS_RSS runs, the median.
#
# Results in bench/results/scale/: hyperfine JSON per size, rss.tsv, env.txt,
# summary.md (also printed).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
GLUERS_BIN="${GLUERS_FORECAST_BIN:-$TARGET_DIR/release/forecast}"
# The polars variant is its own workspace: its own target folder.
POLARS_TARGET_DIR="${POLARS_TARGET_DIR:-$TARGET_DIR/forecast-polars}"
POLARS_BIN="$POLARS_TARGET_DIR/release/forecast-polars"
POLARS="${POLARS:-1}"
SIZES="${SIZES:-1 10 100}"
RUNS="${RUNS:-5}"
RUNS_RSS="${RUNS_RSS:-5}"
WARMUP="${WARMUP:-1}"
RES="$BENCH_DIR/results/scale"
VENV_PY="$BENCH_DIR/.venv/bin/python"

say() { printf '\n== %s\n' "$*" >&2; }

need_apt=()
command -v hyperfine >/dev/null 2>&1 || need_apt+=(hyperfine)
[ -x /usr/bin/time ] || need_apt+=(time)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y "${need_apt[@]}" >/dev/null || {
        $SUDO apt-get update >/dev/null && $SUDO apt-get install -y "${need_apt[@]}" >/dev/null
    }
fi
"$BENCH_DIR/setup-gluepy.sh" >/dev/null
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    say "building the forecast example (release)"
    (cd "$REPO" && cargo build --release --quiet -p forecast)
    if [ "$POLARS" = 1 ]; then
        say "building the polars variant (release; the first build takes minutes)"
        (cd "$BENCH_DIR/forecast_polars" && CARGO_TARGET_DIR="$POLARS_TARGET_DIR" cargo build --release --quiet)
    fi
fi
mkdir -p "$RES"
GLUEPY_ENV=(-u PYTHONDONTWRITEBYTECODE "PYTHONPYCACHEPREFIX=$RES/pycache")

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm), $(nproc) cpus"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "gluepy: $("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("gluepy"))'), pandas $("$VENV_PY" -c 'import pandas; print(pandas.__version__)')"
    echo "hyperfine: $(hyperfine --version); runs $RUNS (+$WARMUP warmup), rss runs $RUNS_RSS"
} > "$RES/env.txt"
: > "$RES/rss.tsv"
: > "$RES/sizes.tsv"

BASE_METRICS=""
for n in $SIZES; do
    say "${n}x"
    IN="$RES/in$n"
    python3 "$BENCH_DIR/scale/gen_inputs.py" "$IN" -n "$n"
    GLUERS_STORE="$IN/gluers"
    GLUEPY_STORE="$IN/gluepy-store"
    rows=$(($(wc -l < "$IN/gluepy/vic_elec_2014.csv") - 1))
    bytes=$(stat -c %s "$IN/gluepy/vic_elec_2014.csv")
    printf '%s\t%s\t%s\n' "$n" "$rows" "$bytes" >> "$RES/sizes.tsv"

    gluers=(env -C "$REPO/examples/forecast" "GLUERS_STORAGE_ROOT=$GLUERS_STORE" "$GLUERS_BIN" dag forecast)
    polars=(env -C "$REPO/examples/forecast" "GLUERS_STORAGE_ROOT=$GLUERS_STORE" "$POLARS_BIN" dag forecast)
    gluepy=(env -C "$BENCH_DIR/gluepy_forecast" "${GLUEPY_ENV[@]}"
        GLUEPY_SETTINGS_MODULE=configs.settings_bench "GLUEPY_BENCH_STORAGE_ROOT=$GLUEPY_STORE"
        "$VENV_PY" manage.py dag forecast --local-patch "$IN/gluepy/patch.yaml")
    sides=(gluers gluepy)
    [ "$POLARS" = 1 ] && sides=(gluers polars gluepy)

    cmds=()
    for side in "${sides[@]}"; do
        declare -n cmd="$side"
        out="$("${cmd[@]}" 2>"$RES/$side-$n.stderr")" || { echo "FAILED: $side ${n}x (see $RES/$side-$n.stderr)" >&2; exit 1; }
        metrics="$(printf '%s\n' "$out" | grep '^metric:' | tr '\n' ' ')"
        echo "  $side: $metrics" >&2
        # Both gluers binaries run the example's evaluation: the same metrics,
        # to the last digit, at every size. (Gluepy sums with numpy, so its
        # last digits differ; it is shown, not checked.)
        if [ "$side" != gluepy ]; then
            [ -n "$BASE_METRICS" ] || BASE_METRICS="$metrics"
            [ "$metrics" = "$BASE_METRICS" ] || { echo "METRICS DIFFER: $side ${n}x" >&2; exit 1; }
        fi
        cmds+=(-n "$side" "$(printf '%q ' "${cmd[@]}")")
        unset -n cmd
    done
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
        --prepare "rm -rf $GLUERS_STORE/runs $GLUEPY_STORE" \
        --export-json "$RES/time-$n.json" "${cmds[@]}"

    for side in "${sides[@]}"; do
        declare -n cmd="$side"
        for _ in $(seq "$RUNS_RSS"); do
            rm -rf "$GLUERS_STORE/runs" "$GLUEPY_STORE"
            /usr/bin/time -v "${cmd[@]}" >/dev/null 2>"$RES/rss.tmp"
            printf '%s\t%s\t%s\n' "$n" "$side" "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RES/rss.tmp")" >> "$RES/rss.tsv"
        done
        unset -n cmd
    done
    rm -rf "$GLUERS_STORE/runs" "$GLUEPY_STORE" "$RES/rss.tmp"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RES/env.txt"

python3 - "$RES" <<'PY' | tee "$RES/summary.md"
import json, os, statistics, sys
res = sys.argv[1]
rss = {}
for line in open(os.path.join(res, "rss.tsv")):
    n, side, kb = line.split()
    rss.setdefault((n, side), []).append(int(kb))
sizes = [l.split() for l in open(os.path.join(res, "sizes.tsv"))]

def t(sec):
    return f"{sec * 1000:.0f} ms" if sec < 1 else f"{sec:.2f} s"

print("# The forecast pipeline at 1x, 10x, 100x\n")
for line in open(os.path.join(res, "env.txt")).read().strip().splitlines():
    print(f"- {line}")
print()
print("| input | rows | file | gluers | gluers + polars | Gluepy + pandas | Gluepy / gluers | peak memory: gluers | polars | Gluepy | gluers / input file |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for n, rows, size in sizes:
    times = {r["command"]: r for r in json.load(open(os.path.join(res, f"time-{n}.json")))["results"]}
    med = {k: v["median"] for k, v in times.items()}
    mem = {side: statistics.median(v) / 1024 for (m, side), v in rss.items() if m == n}
    mb = int(size) / 1e6
    cell = lambda side: t(med[side]) if side in med else "—"
    mcell = lambda side: f"{mem[side]:.1f} MiB" if side in mem else "—"
    ratio = f"{med['gluepy'] / med['gluers']:.1f}x" if "gluepy" in med else "—"
    print(f"| {n}x | {int(rows):,} | {mb:.1f} MB | {cell('gluers')} | {cell('polars')} | {cell('gluepy')} | {ratio} "
          f"| {mcell('gluers')} | {mcell('polars')} | {mcell('gluepy')} | {mem['gluers'] * 1.048576 / mb:.2f}x |")
PY
