#!/usr/bin/env bash
# Side-by-side benchmark: Gluepy 1.6.0 (Python) vs gluers (Rust).
#
#   bench/run.sh                      # everything
#   BENCHES="tiny rss" bench/run.sh   # a subset: tiny compare forecast rss
#
# (a) tiny:     the 2-task + 1-eval DAG `bench`, end to end, as a process
# (b) compare:  `dag bench --compare F ...` over COMPARE_N run folders
# (c) forecast: the forecast pipeline (Gluepy + pandas vs gluers)
# rss:          peak RSS of (a), with /usr/bin/time -v
#
# Results go to bench/results/ (gitignored): hyperfine JSON/Markdown per
# benchmark, rss.tsv, env.txt, and summary.md (also printed).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"

# ---- gluers commands (override from the environment) -------------------------
# Binary of the tiny DAG project; run with cwd bench/gluers_project as
#   $GLUERS_BENCH_BIN dag bench
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
GLUERS_BENCH_BIN="${GLUERS_BENCH_BIN:-$TARGET_DIR/release/gluers-bench}"
GLUERS_BENCH_DIR="${GLUERS_BENCH_DIR:-$BENCH_DIR/gluers_project}"
# Binary of examples/forecast; run with cwd examples/forecast as
#   $GLUERS_FORECAST_BIN dag forecast
GLUERS_FORECAST_BIN="${GLUERS_FORECAST_BIN:-$TARGET_DIR/release/forecast}"
GLUERS_FORECAST_DIR="${GLUERS_FORECAST_DIR:-$REPO/examples/forecast}"
# How gluers is given the compare folders: "repeat" = Gluepy's form
# (--compare F1 --compare F2 ...), "all" = bare --compare (every run of the DAG).
GLUERS_COMPARE_STYLE="${GLUERS_COMPARE_STYLE:-repeat}"
# gluers reads its storage root from this variable (see crates/gluers settings).
GLUERS_STORAGE_ENV="${GLUERS_STORAGE_ENV:-GLUERS_STORAGE_ROOT}"

# ---- knobs ------------------------------------------------------------------
BENCHES="${BENCHES:-tiny compare forecast rss}"
RUNS_TINY="${RUNS_TINY:-30}"
RUNS_COMPARE="${RUNS_COMPARE:-10}"
RUNS_FORECAST="${RUNS_FORECAST:-10}"
RUNS_RSS="${RUNS_RSS:-10}"
WARMUP="${WARMUP:-3}"
COMPARE_N="${COMPARE_N:-10000}"

RES="$BENCH_DIR/results"
STORE="$RES/store"
VENV_PY="$BENCH_DIR/.venv/bin/python"

say() { printf '\n== %s\n' "$*" >&2; }
want() { [[ " $BENCHES " == *" $1 "* ]]; }

# ---- dependencies -------------------------------------------------------------
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
    say "building the gluers binaries (release)"
    (cd "$REPO" && cargo build --release --quiet -p gluers-bench -p forecast)
fi
mkdir -p "$RES" "$STORE"

# Python as a user runs it: bytecode caching on (this environment may set
# PYTHONDONTWRITEBYTECODE), caches kept out of the source tree.
GLUEPY_ENV=(-u PYTHONDONTWRITEBYTECODE "PYTHONPYCACHEPREFIX=$RES/pycache")

have_gluers() { # $1 = binary, $2 = project dir, $3 = what
    if [ ! -x "$1" ]; then
        echo "SKIP gluers $3: binary '$1' not found or not executable (build it, or set the variable at the top of bench/run.sh)" >&2
        return 1
    fi
    if [ ! -d "$2" ]; then
        echo "SKIP gluers $3: project folder '$2' does not exist" >&2
        return 1
    fi
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm), $(nproc) cpus"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "python: $("$VENV_PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "gluepy: $("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("gluepy"))'), pandas $("$VENV_PY" -c 'import pandas; print(pandas.__version__)')"
    echo "hyperfine: $(hyperfine --version)"
    echo "GLUERS_BENCH_BIN=$GLUERS_BENCH_BIN"
    echo "GLUERS_FORECAST_BIN=$GLUERS_FORECAST_BIN"
} > "$RES/env.txt"

# hyperfine -N (no shell) with `env -C DIR VAR=... CMD`: same small exec
# overhead on both sides, no shell start-up to correct for.
gluepy_tiny=(env -C "$BENCH_DIR/gluepy_project" "${GLUEPY_ENV[@]}"
    GLUEPY_SETTINGS_MODULE=configs.settings_bench "GLUEPY_BENCH_STORAGE_ROOT=$STORE/gluepy-tiny"
    "$VENV_PY" manage.py dag bench)
gluers_tiny=(env -C "$GLUERS_BENCH_DIR" "$GLUERS_STORAGE_ENV=$STORE/gluers-tiny"
    "$GLUERS_BENCH_BIN" dag bench --format gluepy)
gluepy_forecast=(env -C "$BENCH_DIR/gluepy_forecast" "${GLUEPY_ENV[@]}"
    GLUEPY_SETTINGS_MODULE=configs.settings_bench "GLUEPY_BENCH_STORAGE_ROOT=$STORE/gluepy-forecast"
    "$VENV_PY" manage.py dag forecast)
gluers_forecast=(env -C "$GLUERS_FORECAST_DIR" "$GLUERS_STORAGE_ENV=$STORE/gluers-forecast"
    "$GLUERS_FORECAST_BIN" dag forecast)

# Print the metric lines of one run (a sanity check before timing).
show_metrics() { # $1 = name, rest = command
    local name="$1"; shift
    local out
    if ! out="$("$@" 2>"$RES/$name.stderr")"; then
        echo "FAILED: $name (stderr in $RES/$name.stderr)" >&2
        return 1
    fi
    printf '%s\n' "$out" | grep '^metric:' | sed "s/^/  $name: /" >&2 || true
}

hf() { # $1 = result name, $2 = runs, rest = hyperfine command strings
    local name="$1" runs="$2"; shift 2
    hyperfine -N --warmup "$WARMUP" --runs "$runs" \
        --export-json "$RES/$name.json" --export-markdown "$RES/$name.md" "$@"
}

q() { printf '%q ' "$@"; } # quote a command for hyperfine's word splitting

# ---- (a) tiny DAG ----------------------------------------------------------------
if want tiny; then
    say "(a) tiny DAG: 2 work tasks + 1 eval task, end to end"
    rm -rf "$STORE/gluepy-tiny" "$STORE/gluers-tiny"
    cmds=(-n gluepy "$(q "${gluepy_tiny[@]}")")
    show_metrics gluepy-tiny "${gluepy_tiny[@]}"
    if have_gluers "$GLUERS_BENCH_BIN" "$GLUERS_BENCH_DIR" "tiny DAG"; then
        show_metrics gluers-tiny "${gluers_tiny[@]}" && cmds+=(-n gluers "$(q "${gluers_tiny[@]}")")
    fi
    hf tiny "$RUNS_TINY" "${cmds[@]}"
    rm -rf "$STORE/gluepy-tiny" "$STORE/gluers-tiny"
fi

# ---- (b) --compare over COMPARE_N folders ------------------------------------------
if want compare; then
    say "(b) --compare over $COMPARE_N run folders"
    CROOT="$STORE/compare"
    if [ "$(cat "$CROOT/.count" 2>/dev/null || true)" != "$COMPARE_N" ]; then
        python3 "$BENCH_DIR/gen_runs.py" "$CROOT" -n "$COMPARE_N" --clean --list "$CROOT/folders.txt"
        echo "$COMPARE_N" > "$CROOT/.count"
    fi
    gluepy_compare=(env -C "$BENCH_DIR/gluepy_project" "${GLUEPY_ENV[@]}"
        GLUEPY_SETTINGS_MODULE=configs.settings_bench "GLUEPY_BENCH_STORAGE_ROOT=$CROOT"
        "$VENV_PY" manage.py dag bench)
    gluers_compare=(env -C "$GLUERS_BENCH_DIR" "$GLUERS_STORAGE_ENV=$CROOT" "$GLUERS_BENCH_BIN" dag bench --format gluepy)
    # 2 x COMPARE_N arguments do not fit in one hyperfine command string:
    # small wrapper scripts build the argument list (same cost both sides).
    cat > "$RES/compare-gluepy.sh" <<EOF
#!/usr/bin/env bash
args=(); while IFS= read -r f; do args+=(--compare "\$f"); done < "$CROOT/folders.txt"
exec $(q "${gluepy_compare[@]}") "\${args[@]}"
EOF
    if [ "$GLUERS_COMPARE_STYLE" = all ]; then
        gluers_compare_args='--compare'
    else
        gluers_compare_args='"${args[@]}"'
    fi
    cat > "$RES/compare-gluers.sh" <<EOF
#!/usr/bin/env bash
args=(); while IFS= read -r f; do args+=(--compare "\$f"); done < "$CROOT/folders.txt"
exec $(q "${gluers_compare[@]}") $gluers_compare_args
EOF
    chmod +x "$RES/compare-gluepy.sh" "$RES/compare-gluers.sh"
    cmds=(-n gluepy "$RES/compare-gluepy.sh")
    "$RES/compare-gluepy.sh" > "$RES/compare-gluepy.out" 2>/dev/null
    echo "  gluepy: $(($(wc -l < "$RES/compare-gluepy.out") - 1)) rows" >&2
    if have_gluers "$GLUERS_BENCH_BIN" "$GLUERS_BENCH_DIR" "--compare"; then
        if "$RES/compare-gluers.sh" > "$RES/compare-gluers.out" 2>"$RES/compare-gluers.stderr"; then
            echo "  gluers: $(($(wc -l < "$RES/compare-gluers.out") - 1)) rows" >&2
            if cmp -s "$RES/compare-gluepy.out" "$RES/compare-gluers.out"; then
                echo "  outputs: byte-identical" >&2
            elif [ "$(sort "$RES/compare-gluepy.out" | md5sum)" = "$(sort "$RES/compare-gluers.out" | md5sum)" ]; then
                echo "  outputs: same rows, different order" >&2
            else
                echo "  outputs DIFFER (see $RES/compare-*.out)" >&2
            fi
            cmds+=(-n gluers "$RES/compare-gluers.sh")
            # The wrapper's own cost (building 20,000 arguments in bash), and
            # gluers' discovery mode (no folder list: every run of the DAG).
            sed 's|^exec .*|exit 0|' "$RES/compare-gluers.sh" > "$RES/compare-args-only.sh"
            chmod +x "$RES/compare-args-only.sh"
            cmds+=(-n "argument list only" "$RES/compare-args-only.sh")
            cmds+=(-n "gluers, every run (no list)" "$(q "${gluers_compare[@]}") --compare")
        else
            echo "  gluers --compare FAILED (see $RES/compare-gluers.stderr)" >&2
        fi
    fi
    hf compare "$RUNS_COMPARE" "${cmds[@]}"
fi

# ---- (c) forecast pipeline ----------------------------------------------------------
if want forecast; then
    say "(c) forecast pipeline on vic_elec_2014 (train, to_forecast, holdout actuals)"
    rm -rf "$STORE/gluepy-forecast" "$STORE/gluers-forecast"
    mkdir -p "$STORE/gluers-forecast"
    cp -R "$GLUERS_FORECAST_DIR/data/input" "$GLUERS_FORECAST_DIR/data/holdout" "$STORE/gluers-forecast/"
    cmds=(-n gluepy "$(q "${gluepy_forecast[@]}")")
    show_metrics gluepy-forecast "${gluepy_forecast[@]}"
    if have_gluers "$GLUERS_FORECAST_BIN" "$GLUERS_FORECAST_DIR" "forecast"; then
        show_metrics gluers-forecast "${gluers_forecast[@]}" && cmds+=(-n gluers "$(q "${gluers_forecast[@]}")")
    fi
    hf forecast "$RUNS_FORECAST" "${cmds[@]}"
    rm -rf "$STORE/gluepy-forecast" "$STORE/gluers-forecast"
    mkdir -p "$STORE/gluers-forecast"
    cp -R "$GLUERS_FORECAST_DIR/data/input" "$GLUERS_FORECAST_DIR/data/holdout" "$STORE/gluers-forecast/"
fi

# ---- peak RSS of (a) ------------------------------------------------------------------
if want rss; then
    say "peak RSS of (a), $RUNS_RSS runs each, /usr/bin/time -v"
    : > "$RES/rss.tsv"
    rss_of() { # $1 = name, rest = command
        local name="$1"; shift
        for _ in $(seq "$RUNS_RSS"); do
            /usr/bin/time -v "$@" >/dev/null 2>"$RES/rss.tmp" || { echo "FAILED: $name" >&2; return 1; }
            printf '%s\t%s\n' "$name" "$(awk -F': ' '/Maximum resident set size/ {print $2}' "$RES/rss.tmp")" >> "$RES/rss.tsv"
        done
    }
    rss_of gluepy "${gluepy_tiny[@]}"
    if have_gluers "$GLUERS_BENCH_BIN" "$GLUERS_BENCH_DIR" "RSS"; then
        rss_of gluers "${gluers_tiny[@]}" || true
    fi
    rm -f "$RES/rss.tmp"
    rm -rf "$STORE/gluepy-tiny" "$STORE/gluers-tiny"
fi

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RES/env.txt"

# ---- summary ----------------------------------------------------------------------------
COMPARE_N="$COMPARE_N" python3 - "$RES" <<'PY' | tee "$RES/summary.md"
import json, os, statistics, sys

res = sys.argv[1]
titles = {
    "tiny": "(a) tiny DAG, end to end",
    "compare": f"(b) --compare, {int(os.environ.get('COMPARE_N', '10000')):,} folders",
    "forecast": "(c) forecast pipeline",
}

def fmt(sec, unit_of=None):
    ref = sec if unit_of is None else unit_of
    return f"{sec * 1000:.1f} ms" if ref < 1 else f"{sec:.3f} s"

rows = []
for key, title in titles.items():
    path = os.path.join(res, f"{key}.json")
    if not os.path.exists(path):
        continue
    data = {r["command"]: r for r in json.load(open(path))["results"]}
    cells = []
    for side in ("gluepy", "gluers"):
        r = data.get(side)
        cells.append(f"{fmt(r['mean'])} ± {fmt(r['stddev'] or 0, r['mean'])} (min {fmt(r['min'], r['mean'])})"
                     if r else "skipped")
    if "gluepy" in data and "gluers" in data:
        ratio = f"{data['gluepy']['mean'] / data['gluers']['mean']:.1f}x"
    else:
        ratio = "n/a"
    rows.append((title, *cells, ratio))

rss = {}
path = os.path.join(res, "rss.tsv")
if os.path.exists(path):
    for line in open(path):
        name, kb = line.split()
        rss.setdefault(name, []).append(int(kb))
if rss:
    cells = []
    for side in ("gluepy", "gluers"):
        v = rss.get(side)
        cells.append(f"{statistics.median(v) / 1024:.1f} MiB (max {max(v) / 1024:.1f})" if v else "skipped")
    ratio = (f"{statistics.median(rss['gluepy']) / statistics.median(rss['gluers']):.1f}x"
             if "gluepy" in rss and "gluers" in rss else "n/a")
    rows.append(("peak RSS of (a), median", *cells, ratio))

env = open(os.path.join(res, "env.txt")).read().strip().splitlines()
print("# gluepy vs gluers\n")
for line in env:
    print(f"- {line}")
print()
print("| benchmark | Gluepy 1.6.0 | gluers | gluepy/gluers |")
print("| --- | --- | --- | --- |")
for row in rows:
    print("| " + " | ".join(row) + " |")
PY
