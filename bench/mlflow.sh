#!/usr/bin/env bash
# What the MLflow ops backend adds to a run: the fixture's `dag demo`
# (1 param, 1 artifact, 2 metrics) with `[ops] backend = "log"` and with
# `"mlflow"` against a local `mlflow server` (SQLite store, proxied
# artifacts, 1 worker), RUNS times each, and a run against a closed port
# (the tracker-down path).
#
#   bash tests/servers/install-mlflow.sh && bench/mlflow.sh   # RUNS=10
#
# Prints mean and min wall time per configuration; results in
# bench/results/mlflow.txt.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
RUNS="${RUNS:-10}"
MLFLOW="${GLUERS_SERVERS:-$HOME/.cache/gluers-servers}/bin/mlflow"
[ -x "$MLFLOW" ] || { echo "mlflow.sh: $MLFLOW missing: run bash tests/servers/setup.sh" >&2; exit 1; }
(cd "$REPO" && cargo build --quiet -p gluers-fixture)
BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/gluers-fixture"
WORK="$(mktemp -d)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DOWN=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setsid "$MLFLOW" server --backend-store-uri "sqlite:///$WORK/mlflow.db" \
    --artifacts-destination "$WORK/artifacts" --host 127.0.0.1 --port "$PORT" --workers 1 \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -- -$SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
start=$(date +%s.%N)
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do
    kill -0 "$SERVER" 2>/dev/null || { tail "$WORK/server.log" >&2; exit 1; }
    sleep 0.2
done
echo "mlflow server ready in $(echo "$(date +%s.%N) - $start" | bc) s" >&2

mkdir -p "$WORK/proj/configs"
cp "$REPO/tests/fixture/project/configs/context.yaml" "$WORK/proj/configs/"
measure() {
    local name=$1 backend=$2 uri=$3 total=0 min=999 t s e
    printf '[ops]\nbackend = "%s"\n' "$backend" >"$WORK/proj/configs/settings.toml"
    # One untimed run: the experiment is created once, as in real use.
    (cd "$WORK/proj" && MLFLOW_TRACKING_URI=$uri "$BIN" dag demo -q >/dev/null 2>&1) || true
    for _ in $(seq "$RUNS"); do
        s=$(date +%s.%N)
        (cd "$WORK/proj" && MLFLOW_TRACKING_URI=$uri "$BIN" dag demo -q >/dev/null 2>&1) || true
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        total=$(echo "$total + $t" | bc)
        min=$(echo "if ($t < $min) $t else $min" | bc)
    done
    printf '%-28s mean %.3f s  min %.3f s  (%s runs)\n' "$name" "$(echo "$total / $RUNS" | bc -l)" "$min" "$RUNS"
}
mkdir -p "$BENCH_DIR/results"
{
    echo "# bench/mlflow.sh $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg), $("$MLFLOW" --version)"
    measure "log backend" log ""
    measure "mlflow backend" mlflow "http://127.0.0.1:$PORT"
    measure "mlflow, server down" mlflow "http://127.0.0.1:$DOWN"
} | tee "$BENCH_DIR/results/mlflow.txt"
