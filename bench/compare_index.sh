#!/usr/bin/env bash
# `dag LABEL --compare` over COMPARE_N runs: gluers from its index, gluers
# rebuilding the index, gluers with the folders listed, and Gluepy 1.6.0
# (which needs the folders listed).
#
#   bench/compare_index.sh               # COMPARE_N=10000, RUNS=20
#
# The runs are made by bench/gen_runs.py (metrics.json, context.yaml and a
# gluers run.json in each folder). Outputs are checked byte for byte against
# Gluepy's. Results in bench/results/compare/ (hyperfine JSON and Markdown,
# env.txt).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="${GLUERS_BENCH_BIN:-$TARGET_DIR/release/gluers-bench}"
COMPARE_N="${COMPARE_N:-10000}"
RUNS="${RUNS:-20}"
RES="$BENCH_DIR/results/compare"
ROOT="$RES/store"
VENV_PY="$BENCH_DIR/.venv/bin/python"

command -v hyperfine >/dev/null 2>&1 || {
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y hyperfine >/dev/null
}
"$BENCH_DIR/setup-gluepy.sh" >/dev/null
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$REPO" && cargo build --release --quiet -p gluers-bench)
fi
mkdir -p "$RES"
if [ "$(cat "$ROOT/.count" 2>/dev/null || true)" != "$COMPARE_N" ]; then
    python3 "$BENCH_DIR/gen_runs.py" "$ROOT" -n "$COMPARE_N" --clean --list "$ROOT/folders.txt"
    echo "$COMPARE_N" > "$ROOT/.count"
fi
INDEX="$ROOT/runs/.gluers/index.tsv"

gluers=(env -C "$BENCH_DIR/gluers_project" "GLUERS_STORAGE_ROOT=$ROOT" "$BIN" dag bench --format gluepy --compare)
gluepy=(env -C "$BENCH_DIR/gluepy_project" -u PYTHONDONTWRITEBYTECODE "PYTHONPYCACHEPREFIX=$RES/pycache"
    GLUEPY_SETTINGS_MODULE=configs.settings_bench "GLUEPY_BENCH_STORAGE_ROOT=$ROOT"
    "$VENV_PY" manage.py dag bench)
q() { printf '%q ' "$@"; }

# 20,000 arguments do not fit in a hyperfine command string: wrappers build
# the list (the same cost on both sides, measured alone as well).
for side in gluepy gluers; do
    declare -n cmd="$side"
    if [ "$side" = gluers ]; then base=("${cmd[@]:0:${#cmd[@]}-1}"); else base=("${cmd[@]}"); fi
    cat > "$RES/listed-$side.sh" <<EOF
#!/usr/bin/env bash
args=(); while IFS= read -r f; do args+=(--compare "\$f"); done < "$ROOT/folders.txt"
exec $(q "${base[@]}") "\${args[@]}"
EOF
    chmod +x "$RES/listed-$side.sh"
    unset -n cmd
done
sed 's|^exec .*|exit 0|' "$RES/listed-gluers.sh" > "$RES/listed-args-only.sh"
chmod +x "$RES/listed-args-only.sh"

"$RES/listed-gluepy.sh" > "$RES/gluepy.out" 2>/dev/null
"${gluers[@]}" > "$RES/gluers-index.out"
"$RES/listed-gluers.sh" > "$RES/gluers-listed.out"
for out in gluers-index gluers-listed; do
    if cmp -s "$RES/gluepy.out" "$RES/$out.out"; then
        echo "  $out: byte-identical to Gluepy ($(($(wc -l < "$RES/gluepy.out") - 1)) rows)" >&2
    else
        echo "  $out: DIFFERS from Gluepy (see $RES/*.out)" >&2
        exit 1
    fi
done
# Folders changed less than 2 s before the index was stamped are not
# trusted: let the generated tree settle, then stamp it.
sleep 2.5
rm -f "$INDEX"
"${gluers[@]}" > /dev/null

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm), $(nproc) cpus"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "runs: $COMPARE_N; index: $(stat -c %s "$INDEX") bytes"
} > "$RES/env.txt"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$RES/index.json" --export-markdown "$RES/index.md" \
    -n "gluers, every run (index)" "$(q "${gluers[@]}")"
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$RES/rebuild.json" --export-markdown "$RES/rebuild.md" \
    --prepare "rm -f $INDEX" \
    -n "gluers, every run (index rebuilt)" "$(q "${gluers[@]}")"
hyperfine -N --warmup 1 --runs "$((RUNS / 2 > 3 ? RUNS / 2 : 3))" --export-json "$RES/listed.json" --export-markdown "$RES/listed.md" \
    -n "gluers, folders listed" "$RES/listed-gluers.sh" \
    -n "Gluepy, folders listed" "$RES/listed-gluepy.sh" \
    -n "argument list only" "$RES/listed-args-only.sh"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RES/env.txt"
rm -f "$INDEX"
"${gluers[@]}" > /dev/null # leave a fresh index behind
cat "$RES/env.txt" "$RES/index.md" "$RES/rebuild.md" "$RES/listed.md"
